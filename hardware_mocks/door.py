"""A scripted household at a door, on gpiozero's MockFactory pins (tests and `kiosk door demo`).

It drives the very pins the node's drivers read (drivers/door.py): the reed contact low while
the door is shut, high while it is open; the tamper loop low while intact, high when the
housing is opened or the cable cut. A real reed contact bounces, so each move of the door is
a burst of edges spread over a few milliseconds before it settles. ``advance`` moves the time
the node stamps edges with (a FakeClock in tests and the demo), so a script is deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any


class ScriptedDoor:
    """One door: its contact pin, optional tamper pin, and the clock the edges happen on."""

    def __init__(self, contact_pin: Any, advance: Callable[[float], None], tamper_pin: Any | None = None,
                 seed: int = 16) -> None:
        self.contact, self.tamper_pin, self.advance = contact_pin, tamper_pin, advance
        self.rng = random.Random(seed)
        self.contact.drive_low()          # fitted on a shut door (after the node opened its pins: a pull-up reads high)
        if self.tamper_pin is not None:
            self.tamper_pin.drive_low()

    def _set(self, pin: Any, high: bool) -> None:
        (pin.drive_high if high else pin.drive_low)()

    def bounce(self, pin: Any, final_high: bool, edges: int = 24, span_s: float = 0.05) -> None:
        """``edges`` alternating edges within ``span_s``, ending on ``final_high``."""
        level = not final_high if edges % 2 == 0 else final_high
        for _ in range(edges):
            self.advance(span_s / edges * self.rng.uniform(0.5, 1.5))
            self._set(pin, level)
            level = not level
        self._set(pin, final_high)

    def open(self, edges: int = 24) -> None:
        self.bounce(self.contact, True, edges)

    def close(self, edges: int = 24) -> None:
        self.bounce(self.contact, False, edges)

    def rattle(self, edges: int = 40, span_s: float = 0.05) -> None:
        """A knock or a draught: the reed chatters and comes back shut; the door never opened."""
        for _ in range(edges // 2):
            self.advance(span_s / edges)
            self.contact.drive_high()
            self.advance(span_s / edges)
            self.contact.drive_low()

    def cut_loop(self) -> None:
        assert self.tamper_pin is not None, "this door has no tamper loop"
        self.bounce(self.tamper_pin, True, edges=6, span_s=0.01)

    def mend_loop(self) -> None:
        assert self.tamper_pin is not None, "this door has no tamper loop"
        self.bounce(self.tamper_pin, False, edges=6, span_s=0.01)
