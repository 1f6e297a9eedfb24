"""A persisted high-water mark of real time, so a clock rolled back at boot is noticed.

A Pi 4 has no RTC and fake-hwclock restores an *old* time after a power cut
(docs/health-codes.md §3.5 "Clock"): expired codes would look valid again. Every trustworthy
time the kiosk sees raises the mark — the wall clock while NTP says it is synchronised, a
bundle's signed ``iat``, the ``iat`` of a code that verified — and the mark is kept in the
state directory. Expiry is judged against ``max(wall clock, mark)``; a wall clock behind the
mark makes fresh-looking codes ``clock_untrusted``.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from kiosk.durable import write_atomic

log = logging.getLogger("kiosk.codes.timemark")
WRITE_STEP_S = 60.0      # persist when the mark moved this far (SD cards wear; skew covers the rest)


class TimeMark:
    """A lower bound on real time; ``path=None`` keeps it in memory only (CLI, tests)."""

    def __init__(self, path: Path | None, persist: bool = True) -> None:
        self.path = path
        self.persist = persist and path is not None
        self._lock = threading.Lock()
        self._value = self._read()
        self._written = self._value

    def _read(self) -> float:
        if self.path is None:
            return 0.0
        try:
            data = json.loads(self.path.read_text())
            value = float(data["high_water"])
        except FileNotFoundError:
            return 0.0
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("time high-water mark %s unreadable (%s); starting from none", self.path, exc)
            return 0.0
        return value if value > 0 else 0.0

    @property
    def value(self) -> float:
        with self._lock:
            return self._value

    def observe(self, t: float) -> None:
        """Raise the mark to ``t`` (a time known to have passed); persists in coarse steps."""
        with self._lock:
            if t <= self._value:
                return
            self._value = t
            due = self._value - self._written >= WRITE_STEP_S
        if due:
            self.flush()

    def flush(self) -> None:
        if not self.persist or self.path is None:
            return
        with self._lock:
            value = self._value
            if value <= self._written and self.path.exists():
                return
            self._written = value
        try:
            write_atomic(self.path, json.dumps({"high_water": value}).encode(), mode=0o644, parents=True)
        except OSError as exc:
            log.warning("cannot persist time high-water mark to %s: %s", self.path, exc)
