"""A device's up/down state, reported once per change.

Every threaded driver (camera, thermometer, voice player) tells its owner the same two things:
``on_fault(message)`` the first time it stops working, ``on_recovered()`` the first time it works
again — never a stream of repeats. A failing callback is logged, never raised into the
driver's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

FaultCallback = Callable[[str], None]
RecoveredCallback = Callable[[], None]


class Health:
    def __init__(self, device: str, on_fault: FaultCallback | None = None,
                 on_recovered: RecoveredCallback | None = None, log: logging.Logger | None = None) -> None:
        self.device = device
        self.on_fault, self.on_recovered = on_fault, on_recovered
        self.log = log or logging.getLogger(f"drivers.{device}")
        self.faulted = False
        self.message: str | None = None
        self._lock = threading.Lock()

    def down(self, message: str) -> None:
        """The device failed; the owner hears of it once per outage."""
        with self._lock:
            first, self.faulted, self.message = not self.faulted, True, message
        if first:
            self.log.warning("%s fault: %s", self.device, message)
            self._call(self.on_fault, message)
        else:
            self.log.debug("%s still down: %s", self.device, message)

    def up(self) -> None:
        """The device worked; the owner hears of it once after an outage."""
        with self._lock:
            was, self.faulted, self.message = self.faulted, False, None
        if was:
            self.log.warning("%s recovered", self.device)
            self._call(self.on_recovered)

    def _call(self, fn: Callable[..., None] | None, *args: object) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            self.log.exception("%s callback %r failed", self.device, fn)
