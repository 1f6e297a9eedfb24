"""The week report (7 local days of a street or compound) and the single-checkpoint report.

A week is seven daily reports (street/office/report.py) read one after the other, each in the
street's zone, summed two ways: per day (the totals row of each day, and a chart of decisions per
day) and per post (the same sections as the daily report, over the week). A post's report is the
daily report of a one-kiosk scope: its decisions per hour, roster, shifts, staffing, inspections,
faults and downtime. Both pages print like the daily one (A4 landscape; the browser saves PDF).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from street.office.report import PostDay, Report, build_report, date_arg
from street.office.status_page import Checkpoint
from street.registry.places import Scope
from street.storage.db import COUNTERS, StreetDB

DAYS = 7


@dataclass
class Sums:
    """What a day (all posts) or a post (all days) adds up to."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    required_s: float = 0.0
    staffed_s: float = 0.0
    absent_s: float = 0.0
    absences: int = 0
    faults: int = 0
    fault_s: float = 0.0
    offline_s: float = 0.0
    alarms: int = 0
    inspections: int = 0
    not_visited: int = 0                # posts (a day's sum) or days (a post's) without an inspection
    overrides: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, p: PostDay) -> None:
        for c in COUNTERS:
            self.counts[c] += int(getattr(p.cp, c))
        if p.has_roster:
            self.required_s += p.staffing.required_s
            self.staffed_s += p.staffing.staffed_s
        self.absent_s += p.staffing.absent_s
        self.absences += len(p.staffing.absences)
        self.faults += len(p.faults)
        self.fault_s += p.fault_s
        self.offline_s += p.offline_s
        self.alarms += len(p.alarms)
        self.inspections += len(p.inspections)
        self.not_visited += not p.inspections
        for vol, by in p.overrides.items():
            mine = self.overrides.setdefault(vol, {})
            for k, n in by.items():
                mine[k] = mine.get(k, 0) + n

    @property
    def coverage(self) -> float | None:
        return self.staffed_s / self.required_s if self.required_s else None


@dataclass
class Week:
    first: dt.date
    tz: dt.tzinfo
    now: float
    days: list[Report]
    per_day: list[Sums]
    posts: list[tuple[Checkpoint, Sums]]       # in the daily report's order

    @property
    def last(self) -> dt.date:
        return self.first + dt.timedelta(days=len(self.days) - 1)

    @property
    def complete(self) -> bool:
        return self.days[-1].complete


def first_day_of(text: str | None, now: float, tz: dt.tzinfo) -> dt.date:
    """``?from=YYYY-MM-DD`` (default: the seven days ending today, local); ValueError in one line."""
    today = dt.datetime.fromtimestamp(now, tz).date()
    return date_arg(text, today - dt.timedelta(days=DAYS - 1), "from", "2026-11-24")


def build_week(db: StreetDB, first: dt.date, tz: dt.tzinfo, now: float, scope: Scope,
               offline_after: float = 1800.0) -> Week:
    days = [build_report(db, first + dt.timedelta(days=i), tz, now, scope, offline_after) for i in range(DAYS)]
    per_day = []
    posts: dict[str, tuple[Checkpoint, Sums]] = {}
    for rep in days:
        total = Sums()
        for p in rep.posts:
            total.add(p)
            posts.setdefault(p.cp.kiosk_id, (p.cp, Sums()))[1].add(p)
        per_day.append(total)
    return Week(first, tz, now, days, per_day, list(posts.values()))


def post_scope(kiosk: str, asked: Scope) -> Scope:
    """The one-post scope of the checkpoint report, within what the account may see."""
    return Scope(asked.district, asked.street, asked.compound, kiosk)


def render_week_html(week: Week, lang: str, query: str) -> str:
    from street import i18n
    from street.office import report_chart, status_page

    _ = i18n.translations(lang).gettext
    words = status_page.words(lang)
    st = week.days[-1].status
    series = {c: [d.counts[c] for d in week.per_day] for c in COUNTERS}
    labels = [f"{r.day:%m-%d}" for r in week.days]
    chart = report_chart.hourly_svg(series, words, _("Decisions per day"), labels)
    total = Sums()
    for _cp, s in week.posts:
        for c in COUNTERS:
            total.counts[c] += s.counts[c]
        total.required_s += s.required_s
        total.staffed_s += s.staffed_s
        total.absent_s += s.absent_s
        total.fault_s += s.fault_s
        total.offline_s += s.offline_s
    return status_page.env(lang).get_template("report_week.html").render(
        w=week, total=total, lang=lang, words=words, chart=chart, place=words.get(st.title(), st.title()),
        query=query, minutes=lambda s: round(s / 60), pct=_pct,
        made=dt.datetime.fromtimestamp(week.now, week.tz).strftime("%Y-%m-%d %H:%M %Z"))


def render_post_html(report: Report, lang: str, query: str) -> str:
    from street import i18n
    from street.office import report_chart, status_page

    _ = i18n.translations(lang).gettext
    words = status_page.words(lang)
    post = report.posts[0]
    chart = report_chart.hourly_svg(report.status.hour_counts, words, _("Decisions per hour"))

    def hm(t: float) -> str:
        return dt.datetime.fromtimestamp(t, report.tz).strftime("%H:%M")

    return status_page.env(lang).get_template("report_post.html").render(
        r=report, p=post, c=post.cp, lang=lang, words=words, chart=chart, query=query, hm=hm, pct=_pct,
        minutes=lambda s: round(s / 60), clock=lambda m: f"{m // 60:02d}:{m % 60:02d}",
        made=dt.datetime.fromtimestamp(report.now, report.tz).strftime("%Y-%m-%d %H:%M %Z"))


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.0%}"
