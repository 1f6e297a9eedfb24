"""The daily temperature visit ("三个一": thermometer, mask, leaflet), handed to the running node.

The node's loop is the pass log's one writer, so `kiosk door visit` does not write the log: it
drops one small JSON file, written atomically and fsynced, into ``<state_dir>/door-visits/``;
the node commits it as a ``door_visit`` record within a second and only then deletes the file.
A visit recorded while the node is down waits in the spool — nothing is lost either way. The
staff member is a staff reference (as on the office's roster), never the household.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from kiosk.durable import write_json
from kiosk.errors import ConfigError

SPOOL = "door-visits"
STAFF_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
ITEMS = ("mask", "leaflet")
LOW_C, HIGH_C = 34.0, 42.5          # a hand thermometer's plausible body temperatures


@dataclass(frozen=True)
class Visit:
    temp_c: float
    staff: str
    items: tuple[str, ...]
    wall: float                      # when the staff member recorded it (the CLI's clock)

    def __post_init__(self) -> None:
        if not LOW_C <= self.temp_c <= HIGH_C:
            raise ConfigError(f"--temp {self.temp_c:g} is not a body temperature ({LOW_C:g} … {HIGH_C:g} °C)")
        if not STAFF_RE.fullmatch(self.staff):
            raise ConfigError("--staff must be a staff reference from the office's roster (letters, digits, . _ -; "
                              "at most 32), not a name")
        unknown = set(self.items) - set(ITEMS)
        if unknown:
            raise ConfigError(f"unknown visit item(s): {', '.join(sorted(unknown))} (known: {', '.join(ITEMS)})")

    def detail(self) -> str:
        return "handed=" + (",".join(self.items) or "none")


def spool_dir(state_dir: Path) -> Path:
    return state_dir / SPOOL


def queue_visit(state_dir: Path, visit: Visit) -> Path:
    """Hand ``visit`` to the node (durably); returns the file the node deletes once committed."""
    path = spool_dir(state_dir) / f"{visit.wall:.3f}-{uuid.uuid4().hex[:8]}.json"
    write_json(path, {"temp_c": visit.temp_c, "staff": visit.staff, "items": list(visit.items), "wall": visit.wall},
               parents=True)
    return path


def pending(state_dir: Path) -> list[tuple[Path, Visit | None]]:
    """The spooled visits in the order they were recorded; None for a file that is not a visit
    (the node records nothing for it and moves it aside as ``*.bad``)."""
    d = spool_dir(state_dir)
    if not d.is_dir():
        return []
    out: list[tuple[Path, Visit | None]] = []
    for path in sorted(d.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            out.append((path, Visit(float(data["temp_c"]), str(data["staff"]), tuple(data["items"]),
                                    float(data["wall"]))))
        except (OSError, ValueError, KeyError, TypeError):
            out.append((path, None))
    return out
