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
from street.i18n import N_
from street.i18n import say as _
from street.i18n import say_n as ngettext
from street.registry.places import Place
from street.storage.zones import zone
from sync.protocol import KIOSK_ID_RE

REQUIRED = ("kiosk_id", "street", "compound", "gate")
OPTIONAL = ("district", "district_name", "street_name", "compound_name", "gate_name", "street_tz")
PLACE = tuple(c for c in REQUIRED[1:] + OPTIONAL if c != "street_tz")
MAX_BYTES = 8 * 1024 * 1024
PLACE_WORDS = {"district": N_("district"), "street": N_("street"), "compound": N_("compound")}


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
            raise RosterError(_("roster is neither UTF-8 nor GB 18030 text")) from None


def read_text(path: Path, what: str = N_("roster")) -> str:
    """A roster file's text (UTF-8, else GB 18030), at most MAX_BYTES; RosterError in one line.
    ``what`` names the file for a person (an ``N_`` message)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RosterError(_("cannot read %(what)s %(path)s: %(error)s")
                          % {"what": _(what), "path": path, "error": exc.strerror or exc}) from None
    if len(raw) > MAX_BYTES:
        raise RosterError(_("%(what)s %(path)s is larger than %(mib)s MiB")
                          % {"what": _(what), "path": path, "mib": MAX_BYTES // (1024 * 1024)})
    return decode(raw)


def read(path: Path) -> list[Entry]:
    return parse(read_text(path), str(path))


def parse(text: str, name: str = N_("roster")) -> list[Entry]:
    """Every kiosk of the roster, checked; RosterError for the first problem found."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise RosterError(_("%(name)s: not a CSV file (%(error)s)") % {"name": _(name), "error": exc}) from None
    lines = [(i + 1, r) for i, r in enumerate(rows) if any(cell.strip() for cell in r)]
    if not lines:
        raise RosterError(_("%(name)s is empty (a header row and one row per kiosk)") % {"name": _(name)})
    _first, header = lines[0]
    columns = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise RosterError(ngettext("%(name)s: missing column %(columns)s (the header needs %(needed)s)",
                                   "%(name)s: missing columns %(columns)s (the header needs %(needed)s)",
                                   len(missing))
                          % {"name": _(name), "columns": ", ".join(missing), "needed": ", ".join(REQUIRED)})
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise RosterError(_("%(name)s: unknown column %(column)r (known: %(known)s)")
                          % {"name": _(name), "column": unknown[0], "known": ", ".join(REQUIRED + OPTIONAL)})
    dup = [c for c in columns if columns.count(c) > 1]
    if dup:
        raise RosterError(_("%(name)s: column %(column)r appears twice in the header")
                          % {"name": _(name), "column": dup[0]})
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    names: dict[tuple[str, ...], tuple[str, int]] = {}
    for line, row in lines[1:]:
        if len(row) != len(columns):
            raise RosterError(_("%(name)s line %(line)s: %(n)s fields, the header has %(columns)s")
                              % {"name": _(name), "line": line, "n": len(row), "columns": len(columns)})
        cell = {c: v.strip() for c, v in zip(columns, row, strict=True)}
        kid = cell["kiosk_id"]
        if not KIOSK_ID_RE.fullmatch(kid):
            raise RosterError(_("%(name)s line %(line)s: kiosk id %(id)r must be 1-64 letters, digits, "
                                "'.', '_' or '-'") % {"name": _(name), "line": line, "id": kid[:40]})
        if kid in seen:
            raise RosterError(_("%(name)s line %(line)s: kiosk id %(id)s is also on line %(other)s")
                              % {"name": _(name), "line": line, "id": kid, "other": seen[kid]})
        seen[kid] = line
        for col in REQUIRED[1:]:
            if not cell[col]:
                raise RosterError(_("%(name)s line %(line)s: %(column)s is empty")
                                  % {"name": _(name), "line": line, "column": col})
        place = Place(**{f: cell.get(f, "") for f in PLACE})
        try:
            place.check()
        except RegistryError as exc:
            raise RosterError(f"{_(name)} " + _("line %(line)s: %(error)s") % {"line": line, "error": exc}) from None
        for key, value in ((("district", place.district), place.district_name),
                           (("street", place.street), place.street_name),
                           (("street district", place.street), place.district),
                           (("compound", place.street, place.compound), place.compound_name)):
            if not value or not key[-1]:
                continue
            first = names.setdefault(key, (value, line))
            if first[0] != value:
                message = (N_("%(name)s line %(line)s: street %(label)s is in district %(value)r here but "
                              "%(first)r on line %(first_line)s") if key[0] == "street district" else
                           N_("%(name)s line %(line)s: %(kind)s %(label)s is named %(value)r here but %(first)r on "
                              "line %(first_line)s"))
                raise RosterError(_(message) % {
                    "name": _(name), "line": line, "kind": _(PLACE_WORDS[key[0]]), "value": value,
                    "label": " ".join(key[1:]) if key[0] != "street district" else key[1],
                    "first": first[0], "first_line": first[1]})
        tz = cell.get("street_tz", "")
        if tz:
            try:
                zone(tz)
            except LanguageError as exc:
                raise RosterError(_("%(name)s line %(line)s: street_tz %(error)s")
                                  % {"name": _(name), "line": line, "error": exc}) from None
            first = names.setdefault(("street_tz", place.street), (tz, line))
            if first[0] != tz:
                raise RosterError(_("%(name)s line %(line)s: street %(street)s is in time zone %(tz)r here but "
                                    "%(first)r on line %(first_line)s")
                                  % {"name": _(name), "line": line, "street": place.street, "tz": tz,
                                     "first": first[0], "first_line": first[1]})
        entries.append(Entry(line, kid, place, tz))
    if not entries:
        raise RosterError(_("%(name)s has a header but no kiosks") % {"name": _(name)})
    return entries
