"""Signed health codes (``GK1:``) verified offline: format, keys, trust bundle, verifier, tools.

Modules, each with one job: :mod:`base45` (text layer), :mod:`cose` (COSE_Sign1),
:mod:`token` (CWT claims, issuing), :mod:`keys` (key files, holder references),
:mod:`bundle` (trust bundle format: build/sign and check), :mod:`trust` (the kiosk's current
bundle, swapped atomically), :mod:`timemark` (clock rollback guard), :mod:`replay` (replay
cache), :mod:`verifier` (payload → verdict), :mod:`render` (QR PNGs), :mod:`statuscsv` (the office's
status list), :mod:`drill` (throwaway trust material for demos and tests), :mod:`files` (reading
key files). The command is kiosk/cli/codes.py; the format is docs/health-codes.md.
"""
