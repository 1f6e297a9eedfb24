"""The duty roster: the hours each post must be staffed (`street-server duty import DUTY.csv`).

One header row, then one row per post and stretch of hours, local time::

    kiosk_id,from,to
    cp-001,06:00,22:00
    cp-002,00:00,06:00
    cp-002,20:00,24:00

A post open overnight has two rows; a post with no row has no roster (the board then treats
"online" as "open"). The file is read whole and checked before anything is written: an unknown
post, a time that is not HH:MM within 00:00–24:00, an empty or reversed stretch, or two
stretches of one post that overlap is one :class:`RosterError` naming the line. Encodings as in
registry/roster.py (UTF-8, else GB 18030).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection
from pathlib import Path

from street.errors import RosterError
from street.i18n import N_
from street.i18n import say as _
from street.registry.roster import read_text

COLUMNS = ("kiosk_id", "from", "to")
_HHMM = re.compile(r"([01]?\d|2[0-4]):([0-5]\d)")

Hours = dict[str, list[tuple[int, int]]]          # kiosk → [(start minute, end minute)) of the local day


def minute_of(text: str) -> int | None:
    m = _HHMM.fullmatch(text.strip())
    if not m:
        return None
    minute = int(m.group(1)) * 60 + int(m.group(2))
    return minute if minute <= 24 * 60 else None


def parse(text: str, known: Collection[str], where: str = N_("duty roster")) -> Hours:
    rows = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(rows, [])]
    if tuple(header[:3]) != COLUMNS or len(header) != 3:
        raise RosterError(_("%(where)s: the first line must be the header kiosk_id,from,to") % {"where": _(where)})
    hours: Hours = {}
    for line, row in enumerate(rows, start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != 3:
            raise RosterError(_("%(where)s line %(line)s: expected 3 columns (kiosk_id,from,to), found %(n)s")
                              % {"where": _(where), "line": line, "n": len(row)})
        kiosk_id, start_text, end_text = (c.strip() for c in row)
        if kiosk_id not in known:
            raise RosterError(_("%(where)s line %(line)s: unknown post %(post)r (register it first)")
                              % {"where": _(where), "line": line, "post": kiosk_id})
        start, end = minute_of(start_text), minute_of(end_text)
        if start is None or end is None:
            bad = start_text if start is None else end_text
            raise RosterError(_("%(where)s line %(line)s: %(bad)r is not a time HH:MM between 00:00 and 24:00")
                              % {"where": _(where), "line": line, "bad": bad})
        if end <= start:
            raise RosterError(_("%(where)s line %(line)s: %(from)s–%(to)s ends before it starts "
                                "(split an overnight post into two rows: …–24:00 and 00:00–…)")
                              % {"where": _(where), "line": line, "from": start_text, "to": end_text})
        for s, e in hours.get(kiosk_id, []):
            if start < e and s < end:
                raise RosterError(_("%(where)s line %(line)s: %(post)s %(from)s–%(to)s overlaps %(other)s")
                                  % {"where": _(where), "line": line, "post": kiosk_id, "from": start_text,
                                     "to": end_text, "other": f"{s // 60:02d}:{s % 60:02d}–{e // 60:02d}:{e % 60:02d}"})
        hours.setdefault(kiosk_id, []).append((start, end))
    return {k: sorted(v) for k, v in hours.items()}


def read(path: Path, known: Collection[str]) -> Hours:
    return parse(read_text(path, N_("duty roster")), known, _("duty roster") + f" {path}")
