"""The door-sensor node: a household in home quarantine, its door watched by a reed contact.

A second device family from the same code base (`kiosk door run|demo`, README "Door-sensor
node"). ``household`` (the pseudonymous household and its quarantine: period, allowed daily
windows) and ``watch`` (raw contact and tamper-loop edges → debounced door events → records)
are pure and run on the injected clock; ``node`` composes them with the drivers (drivers/door.py)
and the same pass log as a gate kiosk, so the same `kiosk sync` uploads them exactly once.
"""
