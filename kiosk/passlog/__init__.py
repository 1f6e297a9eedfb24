"""The pass log: one SQLite file, one writer (the kiosk loop), every decision committed before
the gate moves.

``store`` (the writer: schema, pragmas, stamping, gap-free seq, purge), ``reader`` (read-only
access for the sync and the commands), ``holding`` (records held in memory while the disk is
full or failing), ``audit`` (the hash chain of overrides and shifts), ``shifts`` (who is on
duty, from the log), ``quarantine``/``salvage``/``recover`` (a damaged log moved aside and its
records recovered for upload). The columns are kiosk/schema.py.
"""
