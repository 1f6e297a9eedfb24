"""The daily report as a table: CSV (stable English column names) and XLSX (Chinese headers,
one sheet per table), for offices that work in spreadsheets.

Text that kiosks sent (fault details, gate names) could begin with ``=``, ``+``, ``-`` or ``@``,
which a spreadsheet would run as a formula: such cells get a leading apostrophe
(status_page.csv_cell, the board's CSV helper).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from typing import Any

from street.office.report import Report
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
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(FIELDS)
    w.writerows(rows(report))
    return out.getvalue()


def to_xlsx(report: Report, gettext: Callable[[str], str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    _ = gettext
    headers = [_("Checkpoint"), _("Compound code"), _("Compound"), _("Gate"), _("Passes"), _("Denied"),
               _("Manual passes"), _("Manual denies"), _("Emergency openings"), _("Fever alerts"),
               _("Duty minutes"), _("Staffed minutes"), _("Coverage"), _("Absences"), _("Absent minutes"),
               _("Overrides by volunteer"), _("Device faults"), _("Fault minutes"), _("Offline"), _("Offline minutes"),
               _("Alarms"), _("Sync alarms"), _("Inspections")]
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
    hc = report.status.hour_counts
    hours.append([_("Hour"), _("Passes"), _("Denied"), _("Manual passes"), _("Manual denies"),
                  _("Emergency openings"), _("Fever alerts")])
    for h in range(len(report.status.hours)):
        hours.append([f"{h:02d}:00"] + [hc.get(k, [0] * 25)[h] for k in
                                        ("passes", "denies", "manual_passes", "manual_denies", "emergency_opens",
                                         "fevers")])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
