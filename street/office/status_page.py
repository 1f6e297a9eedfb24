"""The office's status page: every checkpoint at a glance, rendered on the server.

Scoped to the district, one street or one compound of it (``?street=S07&compound=C03``). With
one street in view, one row per registered kiosk (also those never heard from), grouped by
compound, with its gate's name: online/offline since when, last
heartbeat, whether a volunteer is on duty, device faults, backlog, today's passes, fever
alerts (cause ``fever``: high on the decisive retest) and volunteer overrides, plus sync alarms
(gaps open for an hour, quarantined or conflicting records, records a damaged log lost, a clock
off by more than 5 min).
Above it, passes per hour today for the whole scope. With several streets in view (a district
server), one row per street first, each linking to its own view. The same table is offered as
CSV. Everything comes from one snapshot of street/storage/views.py, whose cost does not grow
with the day's records.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import urllib.parse
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2

from street import i18n
from street.registry.places import Scope
from street.storage import views
from street.storage.db import StreetDB

GAP_ALARM_S = 3600.0        # docs/faults.md T-SYNC-5
TOTALLED = ("passes", "denies", "manual_passes", "manual_denies", "emergency_opens", "fevers", "overrides")
CLOCK_FLAG_S = 300.0        # T-TIME-3

# What needs attention, most urgent first (the board's order; its state filter). Posts never
# heard from and revoked ones are not "offline": they are listed apart, after the rest.
ATTENTION = ("fever", "unstaffed", "fault", "offline", "clock", "sync", "fine", "never", "revoked")



@cache
def env(lang: str) -> jinja2.Environment:
    """The templates in ``lang`` (one environment per language: the catalogue is installed in it).
    ``auto_reload`` off: templates ship inside the package, so checking each file's modification
    time on every load would only cost; an upgrade restarts the server."""
    e = jinja2.Environment(loader=jinja2.PackageLoader("street.office", "templates"), extensions=["jinja2.ext.i18n"],
                           autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                           auto_reload=False)
    e.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return e


def words(lang: str) -> dict[str, str]:
    """The word beside each attention colour (never colour alone), and other vocabulary, in ``lang``."""
    return dict(_words(lang))


@cache
def _words(lang: str) -> dict[str, str]:
    _ = i18n.translations(lang).gettext
    return {"fever": _("fever"), "unstaffed": _("unstaffed"), "fault": _("fault"), "offline": _("offline"),
            "clock": _("clock"), "sync": _("sync"), "fine": _("fine"), "never": _("never seen"),
            "revoked": _("revoked"), "online": _("online"),
            "passes": _("passes"), "manual_passes": _("manual passes"), "emergency_opens": _("emergency openings"),
            "manual_denies": _("manual denies"), "denies": _("denied"), "list": _("list"), "grid": _("grid"),
            "District": _("District"), "Street": _("Street"),
            "manual_pass": _("manual pass"), "manual_deny": _("manual deny"), "emergency_open": _("emergency opening")}


@dataclass
class Checkpoint:
    kiosk_id: str
    gate: str = ""                       # the registry's gate name, else what the heartbeat says
    street: str = ""
    street_name: str = ""
    compound: str = ""
    compound_name: str = ""
    state: str = "never"                 # online | offline | never | revoked
    since: float | None = None
    last_heartbeat: float | None = None
    staffed: bool = False
    volunteer: str | None = None
    faults: list[str] = field(default_factory=list)
    backlog: int | None = None
    passes: int = 0                      # decision "pass" only: the others are counted apart
    denies: int = 0
    manual_passes: int = 0
    manual_denies: int = 0
    emergency_opens: int = 0
    fevers: int = 0
    overrides: int = 0
    clock_offset_s: float | None = None
    clock_unsynced: bool = False
    gaps: list[tuple[int, int, float]] = field(default_factory=list)
    quarantined: int = 0
    conflicts: int = 0
    lost: int = 0                        # records the kiosk reported lost for good (a damaged log)
    version: str = ""
    on_duty_hours: bool | None = None    # inside the roster's hours now (None: the post has no roster)

    @property
    def place(self) -> str:
        """``street name › compound name`` (codes where there is no name); empty if unplaced."""
        parts = [self.street_name or self.street, self.compound_name or self.compound]
        return " › ".join(p for p in parts if p)

    def clock_wrong(self) -> bool:
        return self.clock_unsynced or (self.clock_offset_s is not None and abs(self.clock_offset_s) > CLOCK_FLAG_S)

    def has_alarms(self, now: float) -> bool:
        """Whether :meth:`alarms` says anything (without wording it)."""
        return bool(self.conflicts or self.lost or self.quarantined
                    or any(now - since >= GAP_ALARM_S for _, _, since in self.gaps)
                    or (self.clock_offset_s is not None and abs(self.clock_offset_s) > CLOCK_FLAG_S))

    def sync_alarms(self, now: float) -> bool:
        return bool(self.conflicts or self.lost or self.quarantined
                    or any(now - since >= GAP_ALARM_S for _, _, since in self.gaps))

    def attention(self, now: float) -> str:
        """What needs the office's attention most here: one of :data:`ATTENTION`."""
        if self.state in ("never", "revoked"):
            return self.state
        must_staff = self.on_duty_hours is not False         # no roster: open while online
        checks = {"fever": self.fevers > 0, "unstaffed": self.state == "online" and not self.staffed and must_staff,
                  "fault": bool(self.faults), "offline": self.state == "offline", "clock": self.clock_wrong(),
                  "sync": self.sync_alarms(now)}
        return next((k for k, hit in checks.items() if hit), "fine")

    def alarms(self, now: float, lang: str = "en") -> list[str]:
        """The sync and clock alarms in words of ``lang`` (the CSV keeps English)."""
        t = i18n.translations(lang)
        out = []
        for first, last, since in self.gaps:
            if now - since >= GAP_ALARM_S:
                out.append(t.gettext("seq %(first)s–%(last)s missing for %(age)s")
                           % {"first": first, "last": last, "age": _age(now - since, lang)})
        if self.conflicts:
            out.append(t.ngettext("%(n)s conflicting upload", "%(n)s conflicting uploads", self.conflicts)
                       % {"n": self.conflicts})
        if self.lost:
            out.append(t.ngettext("%(n)s record lost to a damaged log", "%(n)s records lost to a damaged log",
                                  self.lost) % {"n": self.lost})
        if self.quarantined:
            out.append(t.ngettext("%(n)s record quarantined", "%(n)s records quarantined", self.quarantined)
                       % {"n": self.quarantined})
        if self.clock_offset_s is not None and abs(self.clock_offset_s) > CLOCK_FLAG_S:
            out.append(t.gettext("clock off by %(s)s s") % {"s": f"{self.clock_offset_s:+.0f}"})
        return out


@dataclass
class StreetRow:
    """One street's line on a district view."""

    street: str
    name: str
    checkpoints: int = 0
    online: int = 0
    passes: int = 0
    fevers: int = 0
    with_alarms: int = 0


@dataclass
class Status:
    now: float
    tz: dt.tzinfo
    day_start: float
    checkpoints: list[Checkpoint]
    hours: list[int]
    scope: Scope = field(default_factory=Scope)
    streets: list[tuple[str, str, str]] = field(default_factory=list)      # (code, name, district) for the filter
    compounds: list[tuple[str, str, str]] = field(default_factory=list)    # (street, code, name)
    hour_counts: dict[str, list[int]] = field(default_factory=dict)         # counter → per hour (denies, …)
    inspections: list[views.Inspection] = field(default_factory=list)      # today's visits
    state_filter: str = ""                                                   # one of ATTENTION, or all
    _attention: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _today: dt.date | None = field(default=None, init=False, repr=False, compare=False)

    def attention_of(self, c: Checkpoint) -> str:
        """``c.attention(now)``, worked out once per post and page (sorting, counting and the
        rows all ask)."""
        a = self._attention.get(c.kiosk_id)
        if a is None:
            a = self._attention[c.kiosk_id] = c.attention(self.now)
        return a

    def street_rows(self) -> list[StreetRow]:
        """Per-street totals, when more than one street is in view (else empty)."""
        rows: dict[str, StreetRow] = {}
        for c in self.checkpoints:
            row = rows.setdefault(c.street, StreetRow(c.street, c.street_name))
            row.checkpoints += 1
            row.online += c.state == "online"
            row.passes += c.passes
            row.fevers += c.fevers
            row.with_alarms += c.has_alarms(self.now) or bool(c.faults)
        return list(rows.values()) if len(rows) > 1 else []

    def title(self) -> str:
        names = {code: name for code, name, _ in self.streets}
        if self.scope.street:
            where = names.get(self.scope.street) or self.scope.street
            if self.scope.compound:
                comp = {c: n for s, c, n in self.compounds if s == self.scope.street}
                where += " › " + (comp.get(self.scope.compound) or self.scope.compound)
            return where
        return "District" if len(self.streets) > 1 else "Street"

    def fmt(self, t: float | None) -> str:
        if t is None:
            return "—"
        when = dt.datetime.fromtimestamp(t, self.tz)
        if self._today is None:
            self._today = dt.datetime.fromtimestamp(self.now, self.tz).date()
        return f"{when:%H:%M}" if when.date() == self._today else f"{when:%Y-%m-%d %H:%M}"

    def totals(self) -> dict[str, int]:
        """The tiles: over every checkpoint in scope, whatever the state filter shows."""
        out = dict.fromkeys(("checkpoints", "online", "offline", "never", "staffed", "faulted", *TOTALLED), 0)
        for c in self.checkpoints:                  # one pass: a district holds thousands of posts
            out["checkpoints"] += 1
            if c.state in ("online", "offline", "never"):
                out[c.state] += 1
            out["staffed"] += c.staffed and c.state == "online"
            out["faulted"] += bool(c.faults)
            for name in TOTALLED:
                out[name] += getattr(c, name)
        return out

    def not_visited(self) -> list[Checkpoint]:
        """Posts no inspector has visited today (never-seen and revoked ones aside)."""
        seen = {i.kiosk_id for i in self.inspections}
        return [c for c in self.checkpoints if c.kiosk_id not in seen and c.state not in ("never", "revoked")]

    def by_attention(self) -> dict[str, int]:
        """How many posts are in each attention state (the filter's counts)."""
        out = dict.fromkeys(ATTENTION, 0)
        for c in self.checkpoints:
            out[self.attention_of(c)] += 1
        return out

    def board(self) -> list[Checkpoint]:
        """The posts shown: those of the state filter, most urgent first, then by place and id."""
        rank = {a: i for i, a in enumerate(ATTENTION)}
        shown = [c for c in self.checkpoints if not self.state_filter or self.attention_of(c) == self.state_filter]
        return sorted(shown, key=lambda c: (rank[self.attention_of(c)], c.street, c.compound, c.kiosk_id))


def day_bounds(now: float, tz: dt.tzinfo) -> tuple[float, float]:
    """Local midnight today and tomorrow, as Unix times."""
    today = dt.datetime.fromtimestamp(now, tz).date()
    start = dt.datetime.combine(today, dt.time(0), tz)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), tz)
    return start.timestamp(), end.timestamp()


def build(db: StreetDB, now: float, tz: dt.tzinfo, offline_after: float, scope: Scope | None = None,
          state_filter: str = "") -> Status:
    scope = scope or Scope()
    start, end = day_bounds(now, tz)
    data = views.status(db, scope, start, end)
    cps: dict[str, Checkpoint] = {}
    local = dt.datetime.fromtimestamp(now, tz)
    minute = local.hour * 60 + local.minute
    for k in data.kiosks:
        cp = Checkpoint(k["kiosk_id"], gate=k["gate_name"] or k["gate_id"] or "", street=k["street_id"] or "",
                        street_name=k["street_name"], compound=k["compound_id"] or "",
                        compound_name=k["compound_name"])
        if k["revoked"] is not None:
            cp.state, cp.since = "revoked", k["revoked"]
        elif k["last_contact"] is None:
            cp.state = "never"
        elif now - k["last_contact"] <= offline_after:
            cp.state, cp.since = "online", k["online_since"]
        else:
            cp.state, cp.since = "offline", k["last_contact"]
        for name, value in data.today.get(cp.kiosk_id, {}).items():
            setattr(cp, name, value)
        cp.gaps = data.gaps.get(cp.kiosk_id, [])
        cp.quarantined = data.quarantined.get(cp.kiosk_id, 0)
        cp.conflicts = data.conflicts.get(cp.kiosk_id, 0)
        cp.lost = data.lost.get(cp.kiosk_id, 0)
        if cp.kiosk_id in data.duty:
            cp.on_duty_hours = any(s <= minute < e for s, e in data.duty[cp.kiosk_id])
        cps[cp.kiosk_id] = cp
    for kiosk_id, (received, payload) in data.heartbeats.items():
        cp = cps[kiosk_id]
        p: dict[str, Any] = json.loads(payload)
        cp.last_heartbeat = received
        cp.gate = cp.gate or str(p.get("gate") or "")
        duty = p.get("on_duty")
        cp.staffed = bool(duty)
        cp.volunteer = (duty or {}).get("volunteer_ref")
        cp.faults = [f"{f.get('device')}: {f.get('detail') or 'fault'}" for f in p.get("faults") or []]
        cp.backlog = p.get("backlog")
        cp.clock_offset_s = p.get("clock_offset_s")
        cp.clock_unsynced = not p.get("clock_synced", True)
        cp.version = str(p.get("software_version") or "")
    n_hours = max(1, math.ceil((end - start) / 3600))
    per_hour = {name: (counts + [0] * n_hours)[:n_hours] for name, counts in data.hours.items()}
    return Status(now, tz, start, list(cps.values()), per_hour["passes"], scope, data.streets, data.compounds,
                  per_hour, data.inspections, state_filter)


def _age(seconds: float, lang: str = "en") -> str:
    _ = i18n.translations(lang).gettext
    s = max(0, int(seconds))
    if s < 90:
        return _("%(s)s s") % {"s": s}
    if s < 90 * 60:
        return _("%(m)s min") % {"m": s // 60}
    if s < 48 * 3600:
        return _("%(h)s h %(m)s min") % {"h": s // 3600, "m": s % 3600 // 60}
    return _("%(d)s d") % {"d": s // 86400}


def query_of(scope: Scope) -> str:
    """The query string that shows ``scope`` again ('' for everything)."""
    pairs = [(k, v) for k, v in (("district", scope.district), ("street", scope.street),
                                 ("compound", scope.compound)) if v]
    return "?" + urllib.parse.urlencode(pairs) if pairs else ""


VIEWS = ("list", "grid")


@dataclass(frozen=True)
class BoardRow:
    """One post's row (or tile) with every cell already worded, so the template only places them:
    a hundred posts × a dozen template calls each (gettext, formatting, attention) were most of
    the board's time."""

    c: Checkpoint
    attention: str
    word: str                  # the attention word beside the colour
    heading: bool              # the first never-heard-from post: the group's heading goes before it
    place: str
    status: str
    heartbeat_at: str          # "" when the post never sent one
    heartbeat_ago: str
    staffed: str               # "" when unstaffed: then staffed_alert says whether it matters
    staffed_alert: str
    faults: str                # "" when none
    alarms: str                # "" when none


def board_rows(status: Status, lang: str) -> list[BoardRow]:
    """The board's posts (:meth:`Status.board`) worded in ``lang``: each label translated once."""
    t = i18n.translations(lang)
    w = _words(lang)
    since, ago = t.gettext("since %(when)s"), t.gettext("%(age)s ago")
    volunteer, no_volunteer = t.gettext("yes — volunteer %(ref)s"), t.gettext("no volunteer")
    never_seen = t.gettext("never seen")
    now, street_scope = status.now, bool(status.scope.street)
    out: list[BoardRow] = []
    previous = ""
    for c in status.board():
        a = status.attention_of(c)
        hb = c.last_heartbeat
        out.append(BoardRow(
            c, a, w[a], heading=a == "never" and previous != "never",
            place=((c.compound_name or c.compound) if street_scope else c.place) or "—",
            status=never_seen if c.state == "never" else f"{w[c.state]} {since % {'when': status.fmt(c.since)}}",
            heartbeat_at=status.fmt(hb) if hb else "", heartbeat_ago=ago % {"age": _age(now - hb, lang)} if hb else "",
            staffed=volunteer % {"ref": (c.volunteer or "?")[:8]} if c.staffed else "",
            staffed_alert=no_volunteer if not c.staffed and c.state == "online" else "",
            faults="; ".join(c.faults), alarms="; ".join(c.alarms(now, lang))))
        previous = a
    return out


def render_html(status: Status, view: str = "list", lang: str = i18n.LANGUAGES[0], refresh_s: float = 30.0) -> str:
    """The page. ``view``: "list" (a row per post) or "grid" (a tile per post: 117 fit one screen)."""
    hc = status.hour_counts or {"passes": status.hours}
    decided = [sum(hc.get(c, [0] * len(status.hours))[i] for c in DECISION_COUNTERS) for i in range(len(status.hours))]
    w = words(lang)
    street_rows = status.street_rows()
    unvisited = status.not_visited()        # one text, not a template loop: a district has thousands
    unvisited_text = ", ".join(c.kiosk_id + (f" ({c.compound_name or c.compound} {c.gate})" if c.gate else "")
                               for c in unvisited)

    def self_url(**change: str) -> str:
        pairs = {"district": status.scope.district, "street": status.scope.street, "compound": status.scope.compound,
                 "state": status.state_filter, "view": view, "lang": "" if lang == i18n.LANGUAGES[0] else lang,
                 **change}
        return "?" + urllib.parse.urlencode([(k, v) for k, v in pairs.items() if v])

    return env(lang).get_template("status.html").render(
        s=status, totals=status.totals(), decided=decided, bars=chart_bars(hc, decided, w),
        query=query_of(status.scope), view=view, by_attention=status.by_attention(), street_rows=street_rows,
        unvisited=unvisited, unvisited_text=unvisited_text,
        rows=[] if street_rows else board_rows(status, lang),       # a district view shows streets, not posts
        list_url=self_url(view="list"), none_word=i18n.translations(lang).gettext("none"),
        attention=ATTENTION, words=w, counter_names=w, stack=DECISION_COUNTERS, views=VIEWS,
        view_names=w, self_url=self_url, lang=lang, refresh_ms=int(refresh_s * 1000),
        today=dt.datetime.fromtimestamp(status.now, status.tz).strftime("%Y-%m-%d"),
        now_text=dt.datetime.fromtimestamp(status.now, status.tz).strftime("%Y-%m-%d %H:%M:%S %Z"))


# The per-hour chart's stack, bottom up: every decision, each in its own colour.
DECISION_COUNTERS = ("passes", "manual_passes", "emergency_opens", "manual_denies", "denies")
CHART_BAR_W, CHART_H = 28, 110       # the template's w and h (px)


@dataclass(frozen=True)
class HourBar:
    """One hour's stacked bar of the board's chart, laid out here rather than in the template."""

    hour: int
    total: int
    passes: int
    denies: int
    title: str
    rects: list[tuple[str, float, float]]      # (counter, y, height), bottom up
    top: float
    x: int
    label: str


def chart_bars(hc: dict[str, list[int]], decided: list[int], names: dict[str, str]) -> list[HourBar]:
    peak = max(decided, default=0) or 1
    bars = []
    for i, total in enumerate(decided):
        counts = [(k, hc[k][i] if hc.get(k) else 0) for k in DECISION_COUNTERS]
        y: float = CHART_H + 12
        rects = []
        for k, n in counts:
            if n:
                bh = round(n / peak * CHART_H, 1)
                y = y - bh
                rects.append((k, y, bh))
        bars.append(HourBar(i, total, hc["passes"][i], hc["denies"][i] if hc.get("denies") else 0,
                            f"{i:02d}:00 — " + ", ".join(f"{names[k]} {n}" for k, n in counts),
                            rects, y, i * CHART_BAR_W + 6, f"{i:02d}"))
    return bars

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading ``'`` (OWASP's CSV
    injection advice): gate names, volunteer pseudonyms and faults come from kiosks."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


CSV_FIELDS = ("kiosk_id", "street", "street_name", "compound", "compound_name", "gate", "attention", "state", "since",
              "last_heartbeat", "staffed", "volunteer", "faults", "backlog", "passes_today", "denies_today",
              "manual_passes_today", "manual_denies_today", "emergency_opens_today", "fever_alerts_today",
              "overrides_today", "alarms")


def render_csv(status: Status) -> str:
    """The board as CSV, in the board's order and filter."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_FIELDS)

    def iso(t: float | None) -> str:
        return "" if t is None else dt.datetime.fromtimestamp(t, status.tz).isoformat(timespec="seconds")

    for c in status.board():
        w.writerow([csv_cell(v) for v in (
            c.kiosk_id, c.street, c.street_name, c.compound, c.compound_name, c.gate, c.attention(status.now),
            c.state, iso(c.since), iso(c.last_heartbeat), "yes" if c.staffed else "no",
            c.volunteer or "", "; ".join(c.faults), "" if c.backlog is None else c.backlog,
            c.passes, c.denies, c.manual_passes, c.manual_denies, c.emergency_opens, c.fevers, c.overrides,
            "; ".join(c.alarms(status.now)))])
    return out.getvalue()
