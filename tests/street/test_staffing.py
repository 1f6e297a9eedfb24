"""Staffed minutes and absences from shift records against a fixed roster (pure functions)."""

from __future__ import annotations

import datetime as dt

import pytest

from street.errors import RosterError
from street.office.staffing import duty_windows, on_duty, staffing
from street.registry import duty

CST = dt.timezone(dt.timedelta(hours=8), "CST")
DAY = dt.date(2026, 11, 30)


def at(h: int, m: int = 0) -> float:
    return dt.datetime.combine(DAY, dt.time(h, m), CST).timestamp()


def test_absence_is_a_post_inside_its_hours_with_nobody_on_duty() -> None:
    windows = duty_windows(DAY, CST, [(6 * 60, 12 * 60), (14 * 60, 22 * 60)])
    shifts = [(at(6, 10), "shift_start", "a"), (at(9), "shift_start", "b"), (at(9, 30), "shift_end", "a"),
              (at(11, 0), "shift_end", "b"), (at(11) + 30, "shift_start", "c"),     # a 30 s hand-over
              (at(15), "shift_end", "c")]
    present = on_duty([], shifts, at(0), at(0) + 86400)
    assert present == [(at(6, 10), at(11)), (at(11) + 30, at(15))]
    s = staffing(windows, present, now=at(16))
    # required: 06–12 (6 h) + 14–16 (2 h); staffed: 06:10–11:00 and 11:00:30–12:00, 14–15
    assert s.required_s == 8 * 3600
    assert s.staffed_s == (4 * 3600 + 50 * 60) + (59 * 60 + 30) + 3600
    assert s.absences == [(at(6), at(6, 10)), (at(15), at(16))]               # the hand-over is not one
    assert s.absent_s == 70 * 60 and s.coverage == pytest.approx(s.staffed_s / (8 * 3600))


def test_a_shift_begun_yesterday_covers_the_morning() -> None:
    present = on_duty([("shift_start", "n")], [(at(7), "shift_end", "n")], at(0), at(0) + 86400)
    assert present == [(at(0), at(7))]
    s = staffing(duty_windows(DAY, CST, [(0, 8 * 60)]), present, now=at(23))
    assert s.absences == [(at(7), at(8))]


def test_the_roster_csv_is_checked_before_anything_is_kept() -> None:
    known = {"cp-1", "cp-2"}
    good = duty.parse("kiosk_id,from,to\ncp-1,06:00,22:00\ncp-2,00:00,06:00\ncp-2,20:00,24:00\n", known)
    assert good == {"cp-1": [(360, 1320)], "cp-2": [(0, 360), (1200, 1440)]}
    for text, message in (
            ("kiosk_id,from,to\ncp-9,06:00,22:00\n", "line 2: unknown post 'cp-9'"),
            ("kiosk_id,from,to\ncp-1,06:00,22:00\ncp-1,21:00,23:00\n", "line 3: cp-1 21:00–23:00 overlaps 06:00–22:00"),
            ("kiosk_id,from,to\ncp-1,6h,22:00\n", "line 2: '6h' is not a time HH:MM"),
            ("kiosk_id,from,to\ncp-1,22:00,06:00\n", "ends before it starts"),
            ("kiosk_id,from,to\ncp-1,06:00,24:30\n", "'24:30' is not a time"),
            ("post,start,end\n", "the first line must be the header")):
        with pytest.raises(RosterError, match=message):
            duty.parse(text, known)
