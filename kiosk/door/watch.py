"""Raw edges of a reed contact and a tamper loop in, the door's events out, as records. Pure.

A reed contact bounces: a door pulled shut rattles it through dozens of edges in tens of
milliseconds. A level counts only once it has held for ``debounce_s`` with no edge at all, and
only if it differs from the last level that counted — so a bounce, whatever its length, is
either nothing (the door did not really move) or one event, and never an alert by itself.
The event keeps the time of the burst's first edge (when the door began to move). The same
rule debounces the tamper loop, a normally-closed loop through the sensor's housing and cable:
opening the housing, cutting the cable or unplugging the sensor opens it.

An opening is judged when it counts: inside an allowed window, outside it, or — when the
node's clock is not synchronised, so the window cannot be trusted — ``clock_unsynced``, which
the office treats like an opening outside the window (alert rather than miss one). A door
left open ``held_s`` is reported once per opening. Outside the quarantine period the node
records nothing about the door.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.core.records import Record
from kiosk.door.household import Quarantine

ALERT_CAUSES = frozenset({"outside_window", "clock_unsynced", "held_open", "loop_open"})


@dataclass
class _Line:
    """One debounced input: the last raw level and when it changed, and the level that counts."""

    level: bool                      # the counted level (True: door open / loop open)
    raw: bool = False
    raw_at: float = float("-inf")
    burst_at: float | None = None    # first edge of the current burst

    def __post_init__(self) -> None:
        self.raw = self.level

    def edge(self, level: bool, t: float) -> None:
        if self.burst_at is None:
            self.burst_at = t
        self.raw, self.raw_at = level, t

    def settle(self, now: float, debounce_s: float) -> float | None:
        """If the raw level has held long enough and differs from the counted one, count it and
        return when the burst began; else None."""
        if self.burst_at is None or now - self.raw_at < debounce_s:
            return None
        began, self.burst_at = self.burst_at, None
        if self.raw == self.level:
            return None                 # chatter that came back to where it was
        self.level = self.raw
        return began


@dataclass
class DoorWatch:
    """The door of one household; feed it edges and ticks on one thread."""

    quarantine: Quarantine
    debounce_s: float = 0.2
    held_s: float = 120.0
    door_open: bool = False          # the level at start (read from the pin)
    loop_open: bool = False
    _door: _Line = field(init=False)
    _loop: _Line = field(init=False)
    _opened_at: float | None = None
    _held_reported: bool = False

    def __post_init__(self) -> None:
        self._door = _Line(self.door_open)
        self._loop = _Line(self.loop_open)
        self._opened_at = None

    @property
    def is_open(self) -> bool:
        return self._door.level

    def contact(self, opened: bool, t: float) -> None:
        """A raw edge of the reed contact (True: the magnet moved away, the door opens)."""
        self._door.edge(opened, t)

    def tamper(self, opened: bool, t: float) -> None:
        """A raw edge of the tamper loop (True: the loop is open)."""
        self._loop.edge(opened, t)

    def start(self, t: float) -> Record:
        return self._record("door_watch", t, "start", self.quarantine.describe())

    def open_at_start(self, t: float, wall: float, synced: bool) -> list[Record]:
        """A door already open when the node starts (after a power cut, say) is an opening now:
        judged like any other, and timed from now for ``held_s``."""
        if not self._door.level:
            return []
        self._opened_at, self._held_reported = t, False
        if not self.quarantine.active(wall):
            return []
        window = self.quarantine.window_at(wall) if synced else None
        cause = "clock_unsynced" if not synced else "in_window" if window else "outside_window"
        return [self._record("door_open", t, cause, f"{window + ' ' if window else ''}open at start")]

    def stop(self, t: float) -> Record:
        return self._record("door_watch", t, "stop", self.quarantine.describe())

    def tick(self, now: float, wall: float, synced: bool) -> list[Record]:
        """Count levels that have settled and notice a door held open. ``now`` is monotonic."""
        out: list[Record] = []
        active = self.quarantine.active(wall)
        began = self._loop.settle(now, self.debounce_s)
        if began is not None and active:
            out.append(self._record("door_tamper", began, "loop_open" if self._loop.level else "loop_closed"))
        began = self._door.settle(now, self.debounce_s)
        if began is not None:
            if self._door.level:
                self._opened_at, self._held_reported = began, False
                if active:
                    window = self.quarantine.window_at(wall) if synced else None
                    cause = "clock_unsynced" if not synced else "in_window" if window else "outside_window"
                    out.append(self._record("door_open", began, cause, window))
            else:
                opened = self._opened_at
                self._opened_at = None
                if active:
                    took = f"open {began - opened:.0f} s" if opened is not None else None
                    out.append(self._record("door_close", began, "closed", took))
        if (self._door.level and self._opened_at is not None and not self._held_reported
                and now - self._opened_at >= self.held_s):
            self._held_reported = True
            if active:
                out.append(self._record("door_held", now, "held_open", f"open {now - self._opened_at:.0f} s"))
        return out

    def _record(self, kind: str, t: float, cause: str, detail: str | None = None) -> Record:
        return Record(kind=kind, t=t, cause=cause, device=self.quarantine.door, detail=detail,
                      household_ref=self.quarantine.household)
