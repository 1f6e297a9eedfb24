"""Shared set-up of the door tests: a household, a config on the mock pin factory, local times."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kiosk.config import Config, DoorSection, GpioSection
from kiosk.door.household import Quarantine, parse_windows

HH = "hh-" + "5a" * 16
CN = timezone(timedelta(hours=8))


def at(hh: int, mm: int = 0, day: int = 5) -> float:
    """POSIX seconds of 2026-12-<day> hh:mm in China."""
    return datetime(2026, 12, day, hh, mm, tzinfo=CN).timestamp()


def quarantine(windows: str = "08:00-08:30,18:00-18:20") -> Quarantine:
    return Quarantine(household=HH, door="front", starts=at(0, 0, 1), ends=at(0, 0, 15),
                      windows=parse_windows(windows))


def door_config(tmp: Path, *, tamper: bool = True, buzzer: bool = True, node_id: str = "door-0001") -> Config:
    cfg = Config()
    return cfg.replace(
        kiosk=dataclasses.replace(cfg.kiosk, id=node_id, state_dir=tmp / "state", runtime_dir=tmp / "run"),
        gpio=GpioSection(pin_factory="mock"),
        door=DoorSection(household=HH, door="front", quarantine_start="2026-12-01T00:00",
                         quarantine_end="2026-12-15T00:00", windows="08:00-08:30,18:00-18:20",
                         tamper_pin=21 if tamper else None, buzzer_pin=16 if buzzer else None))
