"""Device drivers: one small module per device, no kiosk policy.

Drivers speak intent (``pulse()``, ``on()``, ``when_edge``) and report what they observe
through callbacks; the kiosk turns those into events. Nothing in here imports ``kiosk``,
``sync`` or ``hardware_mocks``.
"""
