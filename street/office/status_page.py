"""The street office's status page: every checkpoint at a glance, rendered on the server.

One row per registered kiosk (also those never heard from): online/offline since when, last
heartbeat, whether a volunteer is on duty, device faults, backlog, today's passes, fever
alerts (cause ``fever``: high on the decisive retest) and volunteer overrides, plus sync alarms
(gaps open for an hour, quarantined or conflicting records, records a damaged log lost, a clock
off by more than 5 min).
Above it, passes per hour today for the whole street. The same table is offered as CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import jinja2

from kiosk.schema import OVERRIDES
from street.storage.db import StreetDB

GAP_ALARM_S = 3600.0        # docs/faults.md T-SYNC-5
CLOCK_FLAG_S = 300.0        # T-TIME-3

_env = jinja2.Environment(loader=jinja2.PackageLoader("street.office", "templates"),
                          autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


@dataclass
class Checkpoint:
    kiosk_id: str
    gate: str = ""
    state: str = "never"                 # online | offline | never | revoked
    since: float | None = None
    last_heartbeat: float | None = None
    staffed: bool = False
    volunteer: str | None = None
    faults: list[str] = field(default_factory=list)
    backlog: int | None = None
    passes: int = 0
    fevers: int = 0
    overrides: int = 0
    clock_offset_s: float | None = None
    clock_unsynced: bool = False
    gaps: list[tuple[int, int, float]] = field(default_factory=list)
    quarantined: int = 0
    conflicts: int = 0
    lost: int = 0                        # records the kiosk reported lost for good (a damaged log)
    version: str = ""

    def alarms(self, now: float) -> list[str]:
        out = []
        for first, last, since in self.gaps:
            if now - since >= GAP_ALARM_S:
                out.append(f"seq {first}–{last} missing for {_age(now - since)}")
        if self.conflicts:
            out.append(f"{self.conflicts} conflicting upload{'s' if self.conflicts > 1 else ''}")
        if self.lost:
            out.append(f"{self.lost} record{'s' if self.lost > 1 else ''} lost to a damaged log")
        if self.quarantined:
            out.append(f"{self.quarantined} record{'s' if self.quarantined > 1 else ''} quarantined")
        if self.clock_offset_s is not None and abs(self.clock_offset_s) > CLOCK_FLAG_S:
            out.append(f"clock off by {self.clock_offset_s:+.0f} s")
        return out


@dataclass
class Status:
    now: float
    tz: dt.tzinfo
    day_start: float
    checkpoints: list[Checkpoint]
    hours: list[int]

    def fmt(self, t: float | None) -> str:
        if t is None:
            return "—"
        when = dt.datetime.fromtimestamp(t, self.tz)
        today = dt.datetime.fromtimestamp(self.now, self.tz).date()
        return when.strftime("%H:%M") if when.date() == today else when.strftime("%Y-%m-%d %H:%M")

    def totals(self) -> dict[str, int]:
        cps = self.checkpoints
        return {"checkpoints": len(cps), "online": sum(c.state == "online" for c in cps),
                "offline": sum(c.state in ("offline", "never") for c in cps),
                "staffed": sum(c.staffed and c.state == "online" for c in cps),
                "passes": sum(c.passes for c in cps), "fevers": sum(c.fevers for c in cps),
                "overrides": sum(c.overrides for c in cps),
                "faulted": sum(bool(c.faults) for c in cps)}


def day_bounds(now: float, tz: dt.tzinfo) -> tuple[float, float]:
    """Local midnight today and tomorrow, as Unix times."""
    today = dt.datetime.fromtimestamp(now, tz).date()
    start = dt.datetime.combine(today, dt.time(0), tz)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), tz)
    return start.timestamp(), end.timestamp()


def build(db: StreetDB, now: float, tz: dt.tzinfo, offline_after: float) -> Status:
    conn = db.conn()
    start, end = day_bounds(now, tz)
    cps: dict[str, Checkpoint] = {}
    for k in db.kiosks():
        cp = Checkpoint(k["kiosk_id"])
        if k["revoked"] is not None:
            cp.state, cp.since = "revoked", k["revoked"]
        elif k["last_contact"] is None:
            cp.state = "never"
        elif now - k["last_contact"] <= offline_after:
            cp.state, cp.since = "online", k["online_since"]
        else:
            cp.state, cp.since = "offline", k["last_contact"]
        cps[cp.kiosk_id] = cp
    for hb in conn.execute("SELECT kiosk_id, received, payload FROM heartbeats"):
        if hb["kiosk_id"] not in cps:
            continue
        cp = cps[hb["kiosk_id"]]
        p: dict[str, Any] = json.loads(hb["payload"])
        cp.last_heartbeat = hb["received"]
        cp.gate = str(p.get("gate") or "")
        duty = p.get("on_duty")
        cp.staffed = bool(duty)
        cp.volunteer = (duty or {}).get("volunteer_ref")
        cp.faults = [f"{f.get('device')}: {f.get('detail') or 'fault'}" for f in p.get("faults") or []]
        cp.backlog = p.get("backlog")
        cp.clock_offset_s = p.get("clock_offset_s")
        cp.clock_unsynced = not p.get("clock_synced", True)
        cp.version = str(p.get("software_version") or "")
    placeholders = ", ".join("?" for _ in OVERRIDES)
    for r in conn.execute(
            "SELECT kiosk_id, COUNT(*), SUM(cause = 'fever'), "
            f"SUM(decision IN ({placeholders})) FROM records "
            "WHERE ts >= ? AND ts < ? AND kind = 'pass' GROUP BY kiosk_id", (*OVERRIDES, start, end)):
        if r[0] in cps:
            cps[r[0]].passes, cps[r[0]].fevers, cps[r[0]].overrides = r[1], r[2] or 0, r[3] or 0
    for g in conn.execute("SELECT g.kiosk_id, g.first, g.last, g.since FROM gaps g"):
        if g[0] in cps:
            cps[g[0]].gaps.append((g[1], g[2], g[3]))
    for s in conn.execute("SELECT kiosk_id, SUM(quarantined) FROM streams GROUP BY kiosk_id"):
        if s[0] in cps:
            cps[s[0]].quarantined = s[1] or 0
    for a in conn.execute("SELECT kiosk_id, COUNT(*) FROM alarms WHERE kind = 'conflict' GROUP BY kiosk_id"):
        if a[0] in cps:
            cps[a[0]].conflicts = a[1]
    for a in conn.execute("SELECT kiosk_id, SUM(last - first + 1) FROM lost GROUP BY kiosk_id"):
        if a[0] in cps:
            cps[a[0]].lost = a[1] or 0
    n_hours = max(1, math.ceil((end - start) / 3600))
    hours = [0] * n_hours
    for h, n in conn.execute("SELECT CAST((ts - ?) / 3600 AS INTEGER) AS h, COUNT(*) FROM records "
                             "WHERE ts >= ? AND ts < ? AND kind = 'pass' GROUP BY h", (start, start, end)):
        if 0 <= h < n_hours:
            hours[h] = n
    return Status(now, tz, start, list(cps.values()), hours)


def _age(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 90:
        return f"{s} s"
    if s < 90 * 60:
        return f"{s // 60} min"
    if s < 48 * 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d"


def render_html(status: Status) -> str:
    peak = max(status.hours) or 1
    return _env.get_template("status.html").render(
        s=status, totals=status.totals(), peak=peak, age=_age,
        today=dt.datetime.fromtimestamp(status.now, status.tz).strftime("%Y-%m-%d"),
        now_text=dt.datetime.fromtimestamp(status.now, status.tz).strftime("%Y-%m-%d %H:%M:%S %Z"))


CSV_FIELDS = ("kiosk_id", "gate", "state", "since", "last_heartbeat", "staffed", "volunteer", "faults",
              "backlog", "passes_today", "fever_alerts_today", "overrides_today", "alarms")


def render_csv(status: Status) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_FIELDS)

    def iso(t: float | None) -> str:
        return "" if t is None else dt.datetime.fromtimestamp(t, status.tz).isoformat(timespec="seconds")

    for c in status.checkpoints:
        w.writerow([c.kiosk_id, c.gate, c.state, iso(c.since), iso(c.last_heartbeat), "yes" if c.staffed else "no",
                    c.volunteer or "", "; ".join(c.faults), "" if c.backlog is None else c.backlog,
                    c.passes, c.fevers, c.overrides, "; ".join(c.alarms(status.now))])
    return out.getvalue()
