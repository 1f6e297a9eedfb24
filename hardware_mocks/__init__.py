"""Faithful stand-ins for the kiosk's hardware, for tests, `kiosk demo` and technicians.

They implement the same interfaces as ``drivers`` or speak the same bytes, and depend on
``drivers`` only; production code never imports this package except the demo scaffolding in
kiosk/demo/. ``thermometer`` (a module on a pseudo-terminal), ``camera`` (rendered phone and
paper scenes read back through VideoCapture), ``audio`` (a sound card on ALSA's file plugin),
``fault_proxy`` (a TCP proxy that breaks the sync link on purpose), ``standin`` (a shim: the
stand-in site lives in kiosk/demo/site.py).
"""
