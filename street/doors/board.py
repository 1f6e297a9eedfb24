"""The office's quarantine board and the daily openings report, read from street/doors/store.py's tables.

The page is Chinese first (``?lang=en`` for English) through the office's catalogue
(street/i18n), with times in the server's local time zone. Households are shown by compound
(the place of the node that watches them) with their state (door open, alert waiting, node
lost, quarantine ended), last opening, time left, today's openings and the alerts no staff
member has acknowledged yet; for each compound with gate kiosks, whether today's publicity
round went out over their loudspeakers. Households appear only by
pseudonym; nothing here can hold a name.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from street import i18n
from street.doors.alerts import KINDS as ALERT_TEXT
from street.i18n import N_
from street.office.status_page import csv_cell, env
from street.storage.engine import Tx

# a household's state (Household.status, also the CSS class) → what the office reads
STATES = {"in": N_("in, door shut"), "door open": N_("door open"), "alert": N_("alert"),
          "node lost": N_("node lost"), "ended": N_("ended")}
# the notes the board's own links bring back (``?msg=``); any other text is not shown
MESSAGES = {"acknowledged": N_("Alert acknowledged.")}


@dataclass
class Household:
    household_ref: str
    kiosk_id: str
    street: str
    compound: str
    door: str
    state: str                   # watching | ended
    door_open: bool
    last_open: float | None
    ends: float | None
    windows: str
    openings_today: int = 0
    outside_today: int = 0
    visits_today: int = 0          # the daily temperature visit; none by now is flagged on the board
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.state == "ended":
            return "ended"
        if any(a["kind"] == "node_lost" for a in self.alerts):
            return "node lost"
        if self.alerts:
            return "alert"
        return "door open" if self.door_open else "in"


@dataclass
class Round:
    """One compound's publicity round today: what its gate kiosks' loudspeakers played."""

    compound: str
    played: int = 0
    cut: int = 0
    failed: int = 0

    @property
    def went_out(self) -> bool:
        return self.played + self.cut > 0


@dataclass
class Board:
    now: float
    tz: dt.tzinfo
    households: list[Household]
    rounds: list[Round] = field(default_factory=list)

    def by_compound(self) -> list[tuple[str, list[Household]]]:
        groups: dict[str, list[Household]] = {}
        for h in self.households:
            groups.setdefault(f"{h.street}/{h.compound}" if h.street else h.compound or "(no place)", []).append(h)
        return sorted(groups.items())

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for h in self.households:
            out[h.status] = out.get(h.status, 0) + 1
        out["alerts"] = sum(len(h.alerts) for h in self.households)
        return out


def day_bounds(now: float, tz: dt.tzinfo, day: str | None = None) -> tuple[float, float, str]:
    """[start, end) of the local day ``day`` (YYYY-MM-DD; default today) and its name."""
    if day:
        d = dt.date.fromisoformat(day)
    else:
        d = dt.datetime.fromtimestamp(now, tz).date()
    start = dt.datetime.combine(d, dt.time(0), tz).timestamp()
    return start, start + 86400, d.isoformat()


def load(tx: Tx, now: float, tz: dt.tzinfo, street: str | None = None) -> Board:
    """The board now; with ``street`` only that street's households (a street office's account)."""
    start, end, _ = day_bounds(now, tz)
    only, args = ("WHERE k.street_id = ? ", (street,)) if street is not None else ("", ())
    rows = tx.all("SELECT h.household_ref, h.kiosk_id, k.street_id, k.compound_id, h.door, h.state, h.door_open, "
                  "h.last_open, h.ends, h.windows FROM households h LEFT JOIN kiosks k ON k.kiosk_id = h.kiosk_id "
                  f"{only}ORDER BY h.household_ref", args)
    homes = {r[0]: Household(r[0], r[1], r[2] or "", r[3] or "", r[4], r[5], bool(r[6]), r[7], r[8], r[9])
             for r in rows}
    for r in tx.all("SELECT household_ref, COUNT(*), SUM(CASE WHEN cause = 'in_window' THEN 0 ELSE 1 END) "
                    "FROM door_events WHERE kind = 'door_open' AND ts >= ? AND ts < ? GROUP BY household_ref",
                    (start, end)):
        if r[0] in homes:
            homes[r[0]].openings_today, homes[r[0]].outside_today = int(r[1]), int(r[2] or 0)
    for r in tx.all("SELECT household_ref, COUNT(*) FROM door_events WHERE kind = 'door_visit' AND ts >= ? AND ts < ? "
                    "GROUP BY household_ref", (start, end)):
        if r[0] in homes:
            homes[r[0]].visits_today = int(r[1])
    for r in tx.all("SELECT id, household_ref, kind, at, detail FROM door_alerts WHERE acked_by IS NULL "
                    "ORDER BY at"):
        if r[1] in homes:
            homes[r[1]].alerts.append({"id": int(r[0]), "kind": r[2], "at": float(r[3]), "detail": r[4],
                                       "text": ALERT_TEXT.get(r[2], r[2])})
    rounds: dict[str, Round] = {}
    for r in tx.all("SELECT DISTINCT k.street_id, k.compound_id FROM kiosks k WHERE k.revoked IS NULL AND "
                    "k.compound_id IS NOT NULL AND k.kiosk_id NOT IN (SELECT kiosk_id FROM households)"):
        if street is None or r[0] == street:
            name = f"{r[0]}/{r[1]}" if r[0] else str(r[1])
            rounds[name] = Round(name)
    for r in tx.all("SELECT k.street_id, k.compound_id, r.cause, COUNT(*) FROM records r JOIN kiosks k "
                    "ON k.kiosk_id = r.kiosk_id WHERE r.kind = 'notice' AND r.ts >= ? AND r.ts < ? "
                    "GROUP BY k.street_id, k.compound_id, r.cause", (start, end)):
        if street is not None and r[0] != street:
            continue
        name = f"{r[0]}/{r[1]}" if r[0] else str(r[1] or "(no place)")
        rnd = rounds.setdefault(name, Round(name))
        if r[2] in ("played", "cut", "failed"):
            setattr(rnd, r[2], getattr(rnd, r[2]) + int(r[3]))
    return Board(now, tz, list(homes.values()), sorted(rounds.values(), key=lambda x: x.compound))


def summary(board: Board) -> dict[str, Any]:
    """What the board shows, as plain data (the demo's last line, tests)."""
    def row(h: Household) -> dict[str, Any]:
        return {"household": h.household_ref, "status": h.status, "openings_today": h.openings_today,
                "visit_today": h.visits_today > 0, "alerts": sorted(a["kind"] for a in h.alerts)}

    return {"households": len(board.households), "states": board.counts(),
            "by_compound": {c: [row(h) for h in hs] for c, hs in board.by_compound()},
            "rounds": {r.compound: {"went_out": r.went_out, "played": r.played, "cut": r.cut, "failed": r.failed}
                       for r in board.rounds}}


def _when(ts: float | None, tz: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%m-%d %H:%M") if ts is not None else "—"


def _left(ends: float | None, now: float, lang: str = "en") -> str:
    _ = i18n.translations(lang).gettext
    if ends is None:
        return "—"
    s = ends - now
    if s <= 0:
        return _("ended")
    return _("%(d)s d %(h)s h") % {"d": int(s // 86400), "h": int(s % 86400 // 3600)}


def render_html(board: Board, message: str | None = None, csrf: str = "", lang: str = i18n.LANGUAGES[0]) -> str:
    """The page in ``lang``; ``message`` is a key of MESSAGES (anything else shows nothing)."""
    _ = i18n.translations(lang).gettext
    return env(lang).get_template("quarantine.html").render(
        b=board, csrf=csrf, when=lambda ts: _when(ts, board.tz), left=lambda e: _left(e, board.now, lang),
        message=_(MESSAGES[message]) if message in MESSAGES else None, lang=lang,
        states={k: _(v) for k, v in STATES.items()},
        now_text=dt.datetime.fromtimestamp(board.now, board.tz).strftime("%Y-%m-%d %H:%M %Z"))


REPORT_FIELDS = ("day", "street", "compound", "household", "door", "openings", "outside_window", "alerts",
                 "acknowledged", "temperature_visits")


def alert_street(tx: Tx, alert_id: int) -> str | None:
    """The street of the household an alert is about (None: unknown alert or a node without a place)."""
    rows = tx.all("SELECT k.street_id FROM door_alerts a JOIN households h ON h.household_ref = a.household_ref "
                  "LEFT JOIN kiosks k ON k.kiosk_id = h.kiosk_id WHERE a.id = ?", (alert_id,))
    return rows[0][0] if rows else None


def report_csv(tx: Tx, now: float, tz: dt.tzinfo, day: str | None, street: str | None = None) -> str:
    """The daily report: openings (and alerts, visits) per household on one local day (of one
    street's households, for a street office's account)."""
    start, end, name = day_bounds(now, tz, day)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(REPORT_FIELDS)
    for r in tx.all(
            "SELECT h.household_ref, k.street_id, k.compound_id, h.door, "
            "(SELECT COUNT(*) FROM door_events e WHERE e.household_ref = h.household_ref AND e.kind = 'door_open' "
            " AND e.ts >= ? AND e.ts < ?), "
            "(SELECT COUNT(*) FROM door_events e WHERE e.household_ref = h.household_ref AND e.kind = 'door_open' "
            " AND e.cause <> 'in_window' AND e.ts >= ? AND e.ts < ?), "
            "(SELECT COUNT(*) FROM door_alerts a WHERE a.household_ref = h.household_ref AND a.at >= ? AND a.at < ?), "
            "(SELECT COUNT(*) FROM door_alerts a WHERE a.household_ref = h.household_ref AND a.at >= ? AND a.at < ? "
            " AND a.acked_by IS NOT NULL), "
            "(SELECT COUNT(*) FROM door_events e WHERE e.household_ref = h.household_ref AND e.kind = 'door_visit' "
            " AND e.ts >= ? AND e.ts < ?) "
            "FROM households h LEFT JOIN kiosks k ON k.kiosk_id = h.kiosk_id "
            f"WHERE (h.starts IS NULL OR h.starts < ?){' AND k.street_id = ?' if street is not None else ''} "
            "ORDER BY k.street_id, k.compound_id, h.household_ref",
            (start, end) * 5 + (end,) + ((street,) if street is not None else ())):
        w.writerow([csv_cell(v) for v in (name, r[1] or "", r[2] or "", r[0], r[3])]
                   + [int(r[i]) for i in range(4, 9)])   # door names come from node configs: no formulas
    return out.getvalue()
