"""Staffing against the duty roster, from the kiosks' shift records (pure: no database, no clock).

A post is *staffed* while at least one volunteer has a ``shift_start`` without its
``shift_end``. Inside the post's duty hours (registry/duty.py), every stretch with nobody on duty
is an *absence* — the seed's rule: an inspector who finds a post empty counts it absent — with
its length. Minutes are counted up to ``now`` (a day not over yet is judged so far).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

MIN_ABSENCE_S = 60.0           # shorter gaps (a hand-over) are not absences

Interval = tuple[float, float]


@dataclass
class Staffing:
    required_s: float = 0.0                       # duty hours so far
    staffed_s: float = 0.0                        # of which someone was on duty
    absences: list[Interval] = field(default_factory=list)

    @property
    def coverage(self) -> float | None:
        """Share of the duty hours so far with someone on duty (None: no duty hours yet)."""
        return self.staffed_s / self.required_s if self.required_s else None

    @property
    def absent_s(self) -> float:
        return sum(e - s for s, e in self.absences)


def duty_windows(day: dt.date, tz: dt.tzinfo, hours: Sequence[tuple[int, int]]) -> list[Interval]:
    """The roster's local minutes of ``day`` as Unix intervals (a DST day keeps local clock times)."""
    midnight = dt.datetime.combine(day, dt.time(0), tz)
    out = []
    for start, end in hours:
        s = midnight + dt.timedelta(minutes=start)
        e = midnight + dt.timedelta(minutes=end)
        out.append((s.timestamp(), e.timestamp()))
    return out


def on_duty(before: Sequence[tuple[str, str]], shifts: Sequence[tuple[float, str, str]],
            start: float, end: float) -> list[Interval]:
    """Intervals of [start, end) with someone on duty. ``before``: (kind, volunteer) of shift records
    before ``start``, oldest first; ``shifts``: (ts, kind, volunteer) inside, in time order."""
    present: set[str] = set()
    for kind, vol in before:
        (present.add if kind == "shift_start" else present.discard)(vol)
    out: list[Interval] = []
    since = start if present else None
    for ts, kind, vol in shifts:
        ts = min(max(ts, start), end)
        if kind == "shift_start":
            present.add(vol)
            if since is None:
                since = ts
        else:
            present.discard(vol)
            if not present and since is not None:
                out.append((since, ts))
                since = None
    if since is not None:
        out.append((since, end))
    return [(s, e) for s, e in out if e > s]


def staffing(windows: Sequence[Interval], duty: Sequence[Interval], now: float) -> Staffing:
    out = Staffing()
    for w0, w1 in windows:
        w1 = min(w1, now)
        if w1 <= w0:
            continue
        out.required_s += w1 - w0
        cursor = w0
        for d0, d1 in duty:
            s, e = max(d0, w0), min(d1, w1)
            if e <= s:
                continue
            out.staffed_s += e - s
            if s - cursor >= MIN_ABSENCE_S:
                out.absences.append((cursor, s))
            cursor = max(cursor, e)
        if w1 - cursor >= MIN_ABSENCE_S:
            out.absences.append((cursor, w1))
    return out
