"""The door node's inputs on gpiozero: reed contacts and a tamper loop. Reports raw edges only.

Wiring (README "Door-sensor node"): each reed contact runs from its GPIO to ground, with the
Pi's internal pull-up. The magnet on the door keeps the reed closed while the door is shut, so
the pin reads low; the door opening (or the magnet falling off) lets the pull-up take it high.
The tamper loop is a normally-closed loop to ground through the sensor's housing switch and the
sensor cable: opening the housing, cutting or unplugging the cable breaks it and the pin goes
high. Debounce lives in the node on its injected clock (kiosk/door/watch.py): gpiozero's mock
pins do not debounce, and its ``bounce_time`` drops edges, so a door that moved during a bounce
could be missed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from gpiozero import DigitalInputDevice
from gpiozero.pins import Factory

from drivers.gpio import build_device


class OpenInput:
    """One input to ground with a pull-up whose *open* state (pin high) is what matters.

    ``on_edge(opened)`` is called from gpiozero's event thread on every edge."""

    def __init__(self, pin: int, name: str, on_edge: Callable[[bool], None], *, pin_factory: Factory) -> None:
        self.name = name
        self.dev: DigitalInputDevice = build_device(
            pin_factory, pin, name, functools.partial(DigitalInputDevice, pin, pull_up=True, pin_factory=pin_factory))
        # pull_up=True: active means low, i.e. closed (door shut / loop intact)
        self.dev.when_activated = lambda *_: on_edge(False)
        self.dev.when_deactivated = lambda *_: on_edge(True)

    @property
    def opened(self) -> bool:
        return not self.dev.is_active

    @property
    def pin(self) -> Any:
        """The underlying pin (mock pins are driven by hardware_mocks/door.py)."""
        return self.dev.pin

    def close(self) -> None:
        if not self.dev.closed:
            self.dev.close()
