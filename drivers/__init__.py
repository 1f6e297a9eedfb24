"""Device drivers: one small module (or a small package) per device, no kiosk policy.

Drivers speak intent (``pulse()``, ``on()``, ``when_edge``) and report what they observe
through callbacks; the kiosk turns those into events. Nothing in here imports ``kiosk``,
``sync`` or ``hardware_mocks`` (tests/test_architecture.py). ``gpio`` (relay, LEDs, buzzer,
amplifier, buttons on gpiozero), ``camera/``, ``thermometer/``, ``voice/``; ``health`` reports a
device going down and coming back once per change; ``errors`` is the one error hierarchy.
"""
