"""A household in home quarantine, as the door node knows it: a pseudonym and its rules. Pure.

The household is never named: the street office issues a keyed pseudonym (``hh-`` and 32 hex
digits, :data:`kiosk.schema.HOUSEHOLD_RE`) and the node refuses anything else, so no name,
flat number or ID number can reach a record. The allowed windows are daily local times (a
scheduled delivery, the daily temperature visit); China keeps one offset all year (no daylight
saving), so a fixed UTC offset is exact.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from kiosk.errors import ConfigError
from kiosk.schema import HOUSEHOLD_RE

_WINDOW = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)")
DAY_MIN = 24 * 60


def check_household(ref: str, where: str = "household") -> str:
    """``ref`` if it is a household pseudonym; ConfigError otherwise (never echoing it: it may be a name)."""
    if not isinstance(ref, str) or not re.fullmatch(HOUSEHOLD_RE, ref):
        raise ConfigError(f"{where} is not a household pseudonym (want 'hh-' and 32 lowercase hex digits, as "
                          "issued by the street office; never a name, address or ID number)")
    return ref


def parse_windows(text: str, where: str = "door.windows") -> tuple[tuple[int, int], ...]:
    """'08:00-08:30,18:00-18:20' → ((480, 510), (1080, 1100)): minutes of the local day.

    A window may not wrap midnight (write two) and windows may not overlap (a typo hides in an
    overlap); an empty text means no allowed window at all."""
    out: list[tuple[int, int]] = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        m = _WINDOW.fullmatch(item)
        if not m:
            raise ConfigError(f"{where}: {item[:40]!r} is not a window like 08:00-08:30")
        start = int(m.group(1)) * 60 + int(m.group(2))
        end = int(m.group(3)) * 60 + int(m.group(4))
        if end > DAY_MIN or end <= start:
            raise ConfigError(f"{where}: {item!r} must end after it starts, on the same day (split one that "
                              "crosses midnight into two)")
        out.append((start, end))
    out.sort()
    for (a0, a1), (b0, _) in itertools.pairwise(out):
        if b0 < a1:
            raise ConfigError(f"{where}: windows {_hm(a0)}-{_hm(a1)} and one starting {_hm(b0)} overlap")
    return tuple(out)


def parse_time(text: str, offset_min: int, where: str) -> float:
    """An ISO date or date-time in local time (or with its own offset) → POSIX seconds."""
    try:
        dt = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} = {str(text)[:40]!r} is not a date or date-time like 2026-12-18T09:00") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    return dt.timestamp()


def _hm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Quarantine:
    """One household's quarantine at one door."""

    household: str
    door: str
    starts: float                          # POSIX seconds
    ends: float
    windows: tuple[tuple[int, int], ...]   # allowed daily windows, minutes of the local day
    offset_min: int = 480                  # UTC+8

    def __post_init__(self) -> None:
        check_household(self.household)
        if self.ends <= self.starts:
            raise ConfigError("door.quarantine_end must be after door.quarantine_start")

    def active(self, wall: float) -> bool:
        return self.starts <= wall < self.ends

    def window_at(self, wall: float) -> str | None:
        """The allowed window ('08:00-08:30') that ``wall`` falls in, or None."""
        minute = int(((wall + self.offset_min * 60) % 86400) // 60)
        for a, b in self.windows:
            if a <= minute < b:
                return f"{_hm(a)}-{_hm(b)}"
        return None

    def describe(self) -> str:
        """The door_watch record's detail: what the server's board needs (no personal data)."""
        tz = timezone(timedelta(minutes=self.offset_min))
        windows = ",".join(f"{_hm(a)}-{_hm(b)}" for a, b in self.windows) or "none"
        return (f"starts={datetime.fromtimestamp(self.starts, tz).isoformat(timespec='minutes')} "
                f"ends={datetime.fromtimestamp(self.ends, tz).isoformat(timespec='minutes')} windows={windows}")
