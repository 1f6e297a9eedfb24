"""A street's kiosks from one CSV file (`street-server kiosk import ROSTER.csv`).

One header row, then one row per kiosk::

    kiosk_id,district,district_name,street,street_name,compound,compound_name,gate,gate_name
    cp-001,410105,金水区,S07,经八路街道,C03,祥和社区,north,北门

Required columns: ``kiosk_id``, ``street``, ``compound``, ``gate``; the names, the district and
``street_tz`` (the street's time zone, an IANA name such as Asia/Shanghai: its board's and
reports' "today", street/storage/zones.py) are optional columns. The file is read whole and
checked before anything is written: a missing or unknown column, a duplicate kiosk id, a
malformed code, an unknown time zone, or one street (compound, district) given two different
names or zones is one :class:`RosterError` naming the line. UTF-8 (with or without
the BOM spreadsheet programs write) is expected; a file that is not UTF-8 is read as GB 18030,
the encoding Chinese spreadsheet programs save CSV in by default.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from street.errors import LanguageError, RegistryError, RosterError
from street.registry.places import Place
from street.storage.zones import zone
from sync.protocol import KIOSK_ID_RE

REQUIRED = ("kiosk_id", "street", "compound", "gate")
OPTIONAL = ("district", "district_name", "street_name", "compound_name", "gate_name", "street_tz")
PLACE = tuple(c for c in REQUIRED[1:] + OPTIONAL if c != "street_tz")
MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    line: int
    kiosk_id: str
    place: Place
    street_tz: str = ""           # "" : the street keeps its zone (or the server's)


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            raise RosterError("roster is neither UTF-8 nor GB 18030 text") from None


def read_text(path: Path, what: str = "roster") -> str:
    """A roster file's text (UTF-8, else GB 18030), at most MAX_BYTES; RosterError in one line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RosterError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise RosterError(f"{what} {path} is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return decode(raw)


def read(path: Path) -> list[Entry]:
    return parse(read_text(path), str(path))


def parse(text: str, name: str = "roster") -> list[Entry]:
    """Every kiosk of the roster, checked; RosterError for the first problem found."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise RosterError(f"{name}: not a CSV file ({exc})") from None
    lines = [(i + 1, r) for i, r in enumerate(rows) if any(cell.strip() for cell in r)]
    if not lines:
        raise RosterError(f"{name} is empty (a header row and one row per kiosk)")
    _, header = lines[0]
    columns = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise RosterError(f"{name}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                          f"(the header needs {', '.join(REQUIRED)})")
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise RosterError(f"{name}: unknown column {unknown[0]!r} (known: {', '.join(REQUIRED + OPTIONAL)})")
    dup = [c for c in columns if columns.count(c) > 1]
    if dup:
        raise RosterError(f"{name}: column {dup[0]!r} appears twice in the header")
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    names: dict[tuple[str, ...], tuple[str, int]] = {}
    for line, row in lines[1:]:
        if len(row) != len(columns):
            raise RosterError(f"{name} line {line}: {len(row)} fields, the header has {len(columns)}")
        cell = {c: v.strip() for c, v in zip(columns, row, strict=True)}
        kid = cell["kiosk_id"]
        if not KIOSK_ID_RE.fullmatch(kid):
            raise RosterError(f"{name} line {line}: kiosk id {kid[:40]!r} must be 1-64 letters, digits, "
                              "'.', '_' or '-'")
        if kid in seen:
            raise RosterError(f"{name} line {line}: kiosk id {kid} is also on line {seen[kid]}")
        seen[kid] = line
        for col in REQUIRED[1:]:
            if not cell[col]:
                raise RosterError(f"{name} line {line}: {col} is empty")
        place = Place(**{f: cell.get(f, "") for f in PLACE})
        try:
            place.check()
        except RegistryError as exc:
            raise RosterError(f"{name} line {line}: {exc}") from None
        for key, value in ((("district", place.district), place.district_name),
                           (("street", place.street), place.street_name),
                           (("street district", place.street), place.district),
                           (("compound", place.street, place.compound), place.compound_name)):
            if not value or not key[-1]:
                continue
            first = names.setdefault(key, (value, line))
            if first[0] != value:
                what = "is in district" if key[0] == "street district" else "is named"
                label = " ".join(key[1:]) if key[0] != "street district" else key[1]
                raise RosterError(f"{name} line {line}: {key[0].split()[0]} {label} {what} {value!r} here "
                                  f"but {first[0]!r} on line {first[1]}")
        tz = cell.get("street_tz", "")
        if tz:
            try:
                zone(tz)
            except LanguageError as exc:
                raise RosterError(f"{name} line {line}: street_tz {exc}") from None
            first = names.setdefault(("street_tz", place.street), (tz, line))
            if first[0] != tz:
                raise RosterError(f"{name} line {line}: street {place.street} is in time zone {tz!r} here "
                                  f"but {first[0]!r} on line {first[1]}")
        entries.append(Entry(line, kid, place, tz))
    if not entries:
        raise RosterError(f"{name} has a header but no kiosks")
    return entries
