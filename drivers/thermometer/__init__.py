"""The IR thermometer on a serial port: ``frames`` (one codec per module protocol, a
resynchronising parser; pure bytes, docs/thermometer.md §1) and ``link`` (pyserial: open,
probe, query or stream, reconnect; the reader thread)."""
