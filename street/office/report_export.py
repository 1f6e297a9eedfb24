"""The reports as tables: CSV (stable English column names) and XLSX (Chinese headers, one sheet
per table), for offices that work in spreadsheets. The daily report: a row per post; the week: a
row per day and post (CSV), and per day, per post and both (XLSX); a post's report: a row per hour.

Text that kiosks sent (fault details, gate names) could begin with ``=``, ``+``, ``-`` or ``@``,
which a spreadsheet would run as a formula: such cells get a leading apostrophe
(status_page.csv_cell, the board's CSV helper).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Sequence
from typing import Any

from street.office.report import Report
from street.office.report_week import Week
from street.office.status_page import csv_cell

FIELDS = ("kiosk_id", "compound", "compound_name", "gate", "passes", "denies", "manual_passes", "manual_denies",
          "emergency_opens", "fever_alerts", "duty_minutes", "staffed_minutes", "coverage", "absences",
          "absent_minutes", "overrides_by_volunteer", "faults", "fault_minutes", "offline", "offline_minutes", "alarms",
          "sync_alarms", "inspections")


def rows(report: Report) -> list[list[Any]]:
    def hm(t: float | None) -> str:
        return "…" if t is None else dt.datetime.fromtimestamp(t, report.tz).strftime("%H:%M")

    out = []
    for p in report.posts:
        c, s = p.cp, p.staffing
        out.append([c.kiosk_id, c.compound, c.compound_name, c.gate, c.passes, c.denies, c.manual_passes,
                    c.manual_denies, c.emergency_opens, c.fevers,
                    round(s.required_s / 60) if p.has_roster else "", round(s.staffed_s / 60) if p.has_roster else "",
                    f"{s.coverage:.0%}" if p.has_roster and s.coverage is not None else "",
                    "; ".join(f"{hm(a)}–{hm(b)}" for a, b in s.absences), round(s.absent_s / 60),
                    "; ".join(f"{vol}: " + ", ".join(f"{k} {n}" for k, n in sorted(d.items()))
                              for vol, d in sorted(p.overrides.items())),
                    "; ".join(f"{hm(a)}–{hm(b)} {dev} {det}".strip() for a, b, dev, det in p.faults),
                    round(p.fault_s / 60),
                    "; ".join(f"{hm(a)}–{hm(b)}" for a, b in p.offline), round(p.offline_s / 60),
                    "; ".join(f"{hm(a)} {dev} {det}".strip() for a, dev, det in p.alarms),
                    "; ".join(c.alarms(report.now)),
                    "; ".join(f"{hm(i.at)} {i.inspector[:8]} {'staffed' if i.staffed else 'absent'} {i.check}"
                              for i in p.inspections)])
    return [[csv_cell(v) for v in row] for row in out]


def to_csv(report: Report) -> str:
    return _csv(FIELDS, rows(report))


def post_headers(_: Callable[[str], str]) -> list[str]:
    """FIELDS in the office's language (the XLSX headers)."""
    return [_("Checkpoint"), _("Compound code"), _("Compound"), _("Gate"), _("Passes"), _("Denied"),
            _("Manual passes"), _("Manual denies"), _("Emergency openings"), _("Fever alerts"),
            _("Duty minutes"), _("Staffed minutes"), _("Coverage"), _("Absences"), _("Absent minutes"),
            _("Overrides by volunteer"), _("Device faults"), _("Fault minutes"), _("Offline"), _("Offline minutes"),
            _("Alarms"), _("Sync alarms"), _("Inspections")]


def to_xlsx(report: Report, gettext: Callable[[str], str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    _ = gettext
    headers = post_headers(_)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = report.day.isoformat()
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows(report):
        ws.append(row)
    ws.freeze_panes = "B2"
    hours = wb.create_sheet(_("Per hour"))
    hours.append([_("Hour"), _("Passes"), _("Denied"), _("Manual passes"), _("Manual denies"),
                  _("Emergency openings"), _("Fever alerts")])
    for row in hour_rows(report):
        hours.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


HOUR_FIELDS = ("hour", "passes", "denies", "manual_passes", "manual_denies", "emergency_opens", "fever_alerts")
DAY_FIELDS = ("day", "passes", "denies", "manual_passes", "manual_denies", "emergency_opens", "fever_alerts",
              "duty_minutes", "staffed_minutes", "coverage", "absences", "absent_minutes", "faults", "fault_minutes",
              "offline_minutes", "alarms", "inspections", "posts_not_visited")


def hour_rows(report: Report) -> list[list[Any]]:
    """Decisions per local hour of the report's scope (a post's report: that post's)."""
    hc = report.status.hour_counts
    return [[f"{h:02d}:00"] + [hc.get(k, [0] * 25)[h] for k in
                               ("passes", "denies", "manual_passes", "manual_denies", "emergency_opens", "fevers")]
            for h in range(len(report.status.hours))]


def hours_csv(report: Report) -> str:
    """The single-checkpoint report's table: its decisions per hour."""
    return _csv(HOUR_FIELDS, hour_rows(report))


def day_rows(week: Week) -> list[list[Any]]:
    out = []
    for rep, s in zip(week.days, week.per_day, strict=True):
        out.append([rep.day.isoformat(), *(s.counts[c] for c in ("passes", "denies", "manual_passes",
                                                                  "manual_denies", "emergency_opens", "fevers")),
                    round(s.required_s / 60), round(s.staffed_s / 60),
                    "" if s.coverage is None else f"{s.coverage:.0%}", s.absences, round(s.absent_s / 60),
                    s.faults, round(s.fault_s / 60), round(s.offline_s / 60), s.alarms, s.inspections,
                    s.not_visited])
    return out


def week_csv(week: Week) -> str:
    """A row per day and post: the daily report's columns after the day (pivot it in the spreadsheet)."""
    return _csv(("day", *FIELDS), week_rows(week))


def week_rows(week: Week) -> list[list[Any]]:
    return [[rep.day.isoformat(), *row] for rep in week.days for row in rows(rep)]


def week_xlsx(week: Week, gettext: Callable[[str], str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    _ = gettext
    wb = Workbook()
    days = wb.active
    assert days is not None
    days.title = _("Per day")
    days.append([_("Day"), _("Passes"), _("Denied"), _("Manual passes"), _("Manual denies"), _("Emergency openings"),
                 _("Fever alerts"), _("Duty minutes"), _("Staffed minutes"), _("Coverage"), _("Absences"),
                 _("Absent minutes"), _("Device faults"), _("Fault minutes"), _("Offline minutes"), _("Alarms"),
                 _("Inspections"), _("Not visited")])
    for row in day_rows(week):
        days.append(row)
    posts = wb.create_sheet(_("Per post"))
    posts.append([_("Checkpoint"), _("Compound"), _("Passes"), _("Denied"), _("Manual passes"), _("Manual denies"),
                  _("Fever alerts"), _("Duty minutes"), _("Staffed minutes"), _("Coverage"), _("Absences"),
                  _("Absent minutes"), _("Device faults"), _("Fault minutes"), _("Offline minutes"), _("Alarms"),
                  _("Inspections"), _("Days not visited")])
    for cp, s in week.posts:
        posts.append([csv_cell(v) for v in (
            cp.kiosk_id, cp.compound_name or cp.compound, s.counts["passes"], s.counts["denies"],
            s.counts["manual_passes"], s.counts["manual_denies"], s.counts["fevers"], round(s.required_s / 60),
            round(s.staffed_s / 60), "" if s.coverage is None else f"{s.coverage:.0%}", s.absences,
            round(s.absent_s / 60), s.faults, round(s.fault_s / 60), round(s.offline_s / 60), s.alarms,
            s.inspections, s.not_visited)])
    both = wb.create_sheet(_("Per day and post"))
    both.append([_("Day"), *post_headers(_)])
    for row in week_rows(week):
        both.append(row)
    for ws in (days, posts, both):
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "B2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _csv(header: Sequence[str], body: list[list[Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(body)
    return out.getvalue()
