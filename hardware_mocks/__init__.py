"""Faithful stand-ins for the kiosk's hardware, for tests, `kiosk demo` and technicians.

They implement the same interfaces as ``drivers`` or speak the same bytes; production code
never imports this package except in the ``demo`` command.
"""
