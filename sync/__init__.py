"""Upload client, wire protocol and the reference street server."""
