"""The kiosk's side of the street link: the upload client (`kiosk sync`) and the wire protocol.

``protocol`` is the wire, shared with the street server (standard library only); ``client``
runs the cycles (upload, trust bundle, heartbeat) with ``logreader`` (the pass log, read-only),
``state`` (the sync's own state file), ``heartbeat`` (what a heartbeat says), ``backoff``
(full jitter, Retry-After) and ``secret`` (the kiosk's credential from a file).
"""
