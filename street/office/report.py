"""The daily report of a street or a compound: a page to print (or save as PDF), CSV and XLSX.

Per post: each decision, fever alerts, volunteers' overrides by pseudonym, staffing coverage and
absences against the duty roster, device faults and how long they lasted, the minutes the kiosk
was offline (street/storage/downtime.py), sync health. Above,
decisions per hour as a chart (report_chart.py). The day is a local day (the server's zone);
counters come from ``counts`` like the board's, the rest from the day's few shift, fault, alarm
and override records (street/storage/daily.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from street.office import staffing
from street.office.status_page import Checkpoint, Status, build
from street.registry.places import Scope
from street.storage import daily, downtime
from street.storage.db import StreetDB
from street.storage.views import Inspection


@dataclass
class PostDay:
    cp: Checkpoint
    has_roster: bool
    staffing: staffing.Staffing
    overrides: dict[str, dict[str, int]] = field(default_factory=dict)      # volunteer pseudonym → decision → n
    faults: list[tuple[float, float | None, str, str]] = field(default_factory=list)   # (from, to, device, detail)
    alarms: list[tuple[float, str, str]] = field(default_factory=list)                 # (at, device, detail)
    inspections: list[Inspection] = field(default_factory=list)
    offline: list[tuple[float, float]] = field(default_factory=list)       # (from, to) silent > offline_after
    duty_hours: list[tuple[int, int]] = field(default_factory=list)        # the roster's local minutes [from, to)
    on_duty: list[tuple[float, float]] = field(default_factory=list)       # someone on duty, from shift records
    shifts: list[tuple[float, str, str]] = field(default_factory=list)     # (at, shift_start|shift_end, volunteer)

    @property
    def fault_s(self) -> float:
        return sum((end or 0.0) - start for start, end, _, _ in self.faults if end is not None)

    @property
    def offline_s(self) -> float:
        return sum(b - a for a, b in self.offline)


@dataclass
class Report:
    day: dt.date
    tz: dt.tzinfo
    now: float
    status: Status
    posts: list[PostDay]

    @property
    def complete(self) -> bool:
        """The day is over (else the report is "so far")."""
        end = dt.datetime.combine(self.day + dt.timedelta(days=1), dt.time(0), self.tz).timestamp()
        return self.now >= end


def day_of(text: str | None, now: float, tz: dt.tzinfo) -> dt.date:
    """``?day=YYYY-MM-DD`` (default today, local); ValueError in one line for anything else."""
    return date_arg(text, dt.datetime.fromtimestamp(now, tz).date(), "day", "2026-11-30")


def date_arg(text: str | None, default: dt.date, name: str, example: str) -> dt.date:
    """A date in a query (``?name=YYYY-MM-DD``), ``default`` when absent; ValueError in one line."""
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be a date such as {example}, not {text[:40]!r}") from None


def build_report(db: StreetDB, day: dt.date, tz: dt.tzinfo, now: float, scope: Scope,
                 offline_after: float = 1800.0) -> Report:
    start = dt.datetime.combine(day, dt.time(0), tz).timestamp()
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz).timestamp()
    status = build(db, min(now, end - 1), tz, offline_after, scope)
    status.now = now
    recs = daily.day_records(db, scope, start, end)
    silent = downtime.offline(db, scope, start, end, now, offline_after)
    until = min(now, end)
    posts = []
    for cp in sorted(status.checkpoints, key=lambda c: (c.street, c.compound, c.kiosk_id)):
        hours = recs.duty.get(cp.kiosk_id, [])
        present = staffing.on_duty(recs.shifts_before.get(cp.kiosk_id, []), recs.shifts.get(cp.kiosk_id, []),
                                   start, until)
        post = PostDay(cp, bool(hours), staffing.staffing(staffing.duty_windows(day, tz, hours), present, until),
                       duty_hours=hours, on_duty=present, shifts=recs.shifts.get(cp.kiosk_id, []))
        for (kiosk_id, vol), by_decision in recs.overrides.items():
            if kiosk_id == cp.kiosk_id:
                post.overrides[vol[:8] or "?"] = by_decision
        open_faults: dict[str, tuple[float, str]] = {}
        for ts, kind, device, detail in recs.events.get(cp.kiosk_id, []):
            if kind == "fault":
                open_faults.setdefault(device, (ts, detail))
            elif kind == "recovered" and device in open_faults:
                t0, d = open_faults.pop(device)
                post.faults.append((t0, ts, device, d))
            elif kind == "alarm":
                post.alarms.append((ts, device, detail))
        post.faults += [(t0, None, device, d) for device, (t0, d) in open_faults.items()]
        post.inspections = [i for i in status.inspections if i.kiosk_id == cp.kiosk_id]
        post.offline = silent.get(cp.kiosk_id, [])
        posts.append(post)
    return Report(day, tz, now, status, posts)


def render_html(report: Report, lang: str, query: str) -> str:
    """The report page: print-ready (A4 landscape; the browser's print saves it as PDF)."""
    from street import i18n
    from street.office import report_chart, status_page

    _ = i18n.translations(lang).gettext
    words = status_page.words(lang)
    st = report.status
    totals = st.totals()
    required = sum(p.staffing.required_s for p in report.posts if p.has_roster)
    staffed = sum(p.staffing.staffed_s for p in report.posts if p.has_roster)
    chart = report_chart.hourly_svg(st.hour_counts, words, _("Decisions per hour"))
    place = words.get(st.title(), st.title())

    def hm(t: float) -> str:
        return dt.datetime.fromtimestamp(t, report.tz).strftime("%H:%M")

    return status_page.env(lang).get_template("report.html").render(
        r=report, t=totals, lang=lang, words=words, chart=chart, place=place, query=query, hm=hm,
        made=dt.datetime.fromtimestamp(report.now, report.tz).strftime("%Y-%m-%d %H:%M %Z"),
        week_from=report.day - dt.timedelta(days=6),
        absent_posts=sum(bool(p.staffing.absences) for p in report.posts),
        fault_posts=sum(bool(p.faults) for p in report.posts),
        offline_min=round(sum(p.offline_s for p in report.posts) / 60),
        coverage=f"{staffed / required:.0%}" if required else "—")
