"""The street server: receives every kiosk's pass log exactly once and shows the street office
one picture of the street. Deployed apart from the kiosks (`street-server`).

``app`` (the Flask application), ``server`` (waitress, foreground or thread), ``cli`` (the
`street-server` command), ``api`` (what kiosks call: request authentication, input
validation), ``storage`` (the database: ingest, gaps, registry), ``office`` (what the office
reads: the status page). It knows the wire (sync/protocol.py) and the record schema
(kiosk/schema.py), never the kiosk's writer.
"""
