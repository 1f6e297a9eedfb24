"""The daily report: staffing and absences from shift records against a fixed roster, each
decision, overrides by volunteer, faults with their length; as a page (chart drawn by
matplotlib, printed to PDF by headless Chromium), CSV and XLSX; on both engines."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from kiosk.clock import FakeClock
from street.registry import duty
from street.registry.places import Place
from street.server import StreetServer
from street.storage import daily
from sync import protocol
from tests.browser import Browser
from tests.office_login import desk, office
from tests.street.procs import street_cli
from tests.synckit import Signer, batch, rec

CST = dt.timezone(dt.timedelta(hours=8), "CST")
DAY = dt.date(2026, 11, 30)
EPOCH = str(uuid.uuid4())
VOL_A, VOL_B = "a1" * 16, "b2" * 16


def at(h: int, m: int = 0) -> float:
    return dt.datetime.combine(DAY, dt.time(h, m), CST).timestamp()


@pytest.fixture
def street(db_target: str | Path) -> Iterator[tuple[StreetServer, FakeClock]]:
    clock = FakeClock(wall=at(18))
    with StreetServer(db_target, clock=clock, tz=CST) as server:
        yield server, clock


def send(k: Signer, clock: FakeClock, records: list[dict[str, Any]]) -> None:
    r = k.post(protocol.RECORDS_PATH, batch(k.kiosk_id, EPOCH, records, sent_wall=clock.wall()), now=clock.wall())
    assert r.status_code == 200, r.text


def populate(server: StreetServer, clock: FakeClock) -> None:
    """cp-1 (roster 06–12, 14–22): A 06:00–09:30, B 10:00–17:00 → absent 09:30–10:00 and 17:00–18:00
    (the report is made at 18:00); cp-2 has no roster."""
    place = Place(street="XFL", street_name="幸福路街道", compound="C01", compound_name="阳光小区", gate="G1",
                  gate_name="东门")
    one = Signer(server.url, "cp-1", server.db.add_kiosk("cp-1", place))
    two = Signer(server.url, "cp-2", server.db.add_kiosk("cp-2", place))
    daily.save_duty(server.db, duty.parse("kiosk_id,from,to\ncp-1,06:00,12:00\ncp-1,14:00,22:00\n", {"cp-1", "cp-2"}))

    def r(seq: int, t: float, **kw: Any) -> dict[str, Any]:
        return rec("cp-1", EPOCH, seq, wall_ts=t, **kw)

    shift = {"decision": None, "cause": None}
    send(one, clock, [r(1, at(6), kind="shift_start", volunteer_ref=VOL_A, **shift),
                      r(2, at(7), decision="pass"), r(3, at(7, 5), decision="deny", cause="red"),
                      r(4, at(8), decision="manual_pass", cause="no_code", volunteer_ref=VOL_A),
                      r(5, at(9, 30), kind="shift_end", volunteer_ref=VOL_A, **shift),
                      r(6, at(10), kind="shift_start", volunteer_ref=VOL_B, **shift),
                      r(7, at(11), kind="fault", device="thermometer", detail="no frames for 5 s", **shift),
                      r(8, at(11, 20), kind="recovered", device="thermometer", **shift),
                      r(9, at(12), decision="deny", cause="fever", temp_c=38.5),
                      r(10, at(13), decision="manual_deny", cause="no_code", volunteer_ref=VOL_B),
                      r(11, at(13, 1), decision="manual_pass", cause="no_code", volunteer_ref=VOL_B),
                      r(12, at(15), kind="alarm", device="clock", detail="=cmd|' /C calc'!A0", **shift),
                      r(13, at(17), kind="shift_end", volunteer_ref=VOL_B, **shift),
                      r(14, at(8) - 86400, decision="pass"),                                # yesterday
                      r(15, at(10, 30), kind="inspection", decision=None, cause="staffed", volunteer_ref=VOL_B,
                        holder_ref="c3" * 16, code_kind="inspector", detail="self-check ok")])
    send(two, clock, [rec("cp-2", EPOCH, 1, wall_ts=at(9), decision="pass")])


def test_the_report_counts_staffing_absences_decisions_and_faults(street: tuple[StreetServer, FakeClock]) -> None:
    server, clock = street
    populate(server, clock)
    rows = {row["kiosk_id"]: row for row in csv.DictReader(io.StringIO(
        desk(server).get(server.url + "/report.csv?street=XFL&day=2026-11-30", timeout=10).text))}
    one = rows["cp-1"]
    # duty so far: 06–12 (360 min) + 14–18 (240); staffed 06:00–09:30 + 10:00–12:00 + 14:00–17:00 = 510
    assert (one["duty_minutes"], one["staffed_minutes"], one["coverage"]) == ("600", "510", "85%")
    assert one["absences"] == "09:30–10:00; 17:00–18:00" and one["absent_minutes"] == "90"
    assert (one["passes"], one["denies"], one["manual_passes"], one["manual_denies"], one["fever_alerts"]) == \
        ("1", "2", "2", "1", "1")
    assert one["overrides_by_volunteer"] == "a1a1a1a1: manual_pass 1; b2b2b2b2: manual_deny 1, manual_pass 1"
    assert one["faults"] == "11:00–11:20 thermometer no frames for 5 s" and one["fault_minutes"] == "20"
    assert one["alarms"] == "15:00 clock =cmd|' /C calc'!A0"
    assert rows["cp-2"]["duty_minutes"] == "" and rows["cp-2"]["passes"] == "1"
    assert one["inspections"] == "10:30 c3c3c3c3 staffed self-check ok" and rows["cp-2"]["inspections"] == ""
    board = desk(server).get(server.url + "/?street=XFL", timeout=10).text                # today's visits on the board
    assert "巡查 1 次" in board and "1 个卡口尚未巡查" in board and 'data-kiosk="cp-1"' in board
    earlier = {row["kiosk_id"]: row for row in csv.DictReader(io.StringIO(
        desk(server).get(server.url + "/report.csv?street=XFL&day=2026-11-29", timeout=10).text))}
    assert earlier["cp-1"]["passes"] == "1" and earlier["cp-1"]["denies"] == "0"     # yesterday's, on its own day
    bad = desk(server).get(server.url + "/report?day=30/11/2026", timeout=10)
    assert bad.status_code == 400 and "day must be a date such as 2026-11-30" in bad.text


def test_the_report_as_xlsx_has_chinese_headers(street: tuple[StreetServer, FakeClock]) -> None:
    server, clock = street
    populate(server, clock)
    r = desk(server).get(server.url + "/report.xlsx?street=XFL&day=2026-11-30", timeout=10)
    assert r.status_code == 200 and 'filename="report-2026-11-30.xlsx"' in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    sheet = wb["2026-11-30"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["卡口", "小区代码", "小区"] and "缺岗分钟" in header
    values = {row[0].value: [c.value for c in row] for row in sheet.iter_rows(min_row=2)}
    assert values["cp-1"][header.index("缺岗")] == "09:30–10:00; 17:00–18:00"
    assert wb["每小时"]["A9"].value == "07:00" and wb["每小时"]["B9"].value == 1         # one pass at 07h


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is installed by run.sh (TEST_DEBS)")
def test_the_report_page_draws_its_chart_and_prints_to_pdf(street: tuple[StreetServer, FakeClock],
                                                           tmp_path: Path) -> None:
    server, clock = street
    populate(server, clock)
    with Browser() as b:
        b.sign_in(server.url, desk(server))
        b.open(server.url + "/report?street=XFL&day=2026-11-30")
        text: str = b.eval("document.body.innerText")
        bars = b.eval("document.querySelectorAll('#chart svg g[id^=patch]').length")
        absences = b.eval("document.querySelector('#st-cp-1').innerText")
        b.pdf(tmp_path / "report.pdf")
    assert "日报" in text and "幸福路街道" in text and "2026-11-30" in text
    assert bars >= 5 * 24
    assert "09:30–10:00 (30 分钟)" in absences and "85%" in absences
    pdf = (tmp_path / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


def test_duty_import_refuses_a_bad_roster_in_one_line_and_keeps_the_old_one(tmp_path: Path) -> None:
    db = tmp_path / "street.db"
    assert street_cli("kiosk", "add", "cp-1", "--db", str(db)).returncode == 0
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("kiosk_id,from,to\ncp-1,06:00,22:00\n", encoding="utf-8")
    bad.write_text("kiosk_id,from,to\ncp-1,06:00,12:00\ncp-7,08:00,09:00\n", encoding="utf-8")
    ok = street_cli("duty", "import", str(good), "--db", str(db))
    assert ok.returncode == 0 and "duty roster of 1 posts" in ok.stderr
    out = street_cli("duty", "import", str(bad), "--db", str(db))
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "line 3: unknown post 'cp-7'" in out.stderr
    import sqlite3
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT kiosk_id, start_min, end_min FROM duty_hours").fetchall() == [("cp-1", 360, 1320)]


def test_text_a_spreadsheet_would_run_as_a_formula_is_made_inert() -> None:
    from street.office.status_page import csv_cell
    assert [csv_cell(v) for v in ("=1+1", "+1", "-x", "@a", "ok", 5, -5)] == \
        ["'=1+1", "'+1", "'-x", "'@a", "ok", 5, -5]


def test_the_report_counts_the_minutes_each_post_was_offline(street: tuple[StreetServer, FakeClock]) -> None:
    """Contacts (heartbeats) every 20 min, offline after 30 min of silence: cp-1 silent 23:00 the day
    before → 01:00 (60 min of it today), 06:00 → 08:00 (120), and since 16:00 when the report is made
    at 18:00 (120, still open); cp-2 never 30 min silent, never offline."""
    server, clock = street
    place = Place(street="XFL", compound="C01", gate="G1")
    one = Signer(server.url, "cp-1", server.db.add_kiosk("cp-1", place))
    two = Signer(server.url, "cp-2", server.db.add_kiosk("cp-2", place))

    def beat(k: Signer, t: float) -> None:          # the first over HTTP; the rest straight to storage (fast)
        clock.jump_wall(t - clock.wall())
        body = {"kiosk_id": k.kiosk_id, "sent_wall": t, "db_epoch": EPOCH, "backlog": 0}
        if t == at(23) - 86400:
            assert k.post(protocol.HEARTBEAT_PATH, body, gz=False, now=t).status_code == 200
        else:
            server.db.heartbeat(k.kiosk_id, body, uuid.uuid4().hex)

    every_20 = [at(0) + 1200 * i for i in range(54)]              # 00:00 … 17:40: never 30 min apart
    for t in [at(23) - 86400] + [t for t in every_20 if at(1) <= t <= at(6) or at(8) <= t <= at(16)]:
        beat(one, t)
    for t in every_20:
        beat(two, t)
    clock.jump_wall(at(18) - clock.wall())
    rows = {row["kiosk_id"]: row for row in csv.DictReader(io.StringIO(
        desk(server).get(server.url + "/report.csv?street=XFL&day=2026-11-30", timeout=10).text))}
    assert rows["cp-1"]["offline"] == "00:00–01:00; 06:00–08:00; 16:00–18:00"
    assert rows["cp-1"]["offline_minutes"] == "300"
    assert (rows["cp-2"]["offline"], rows["cp-2"]["offline_minutes"]) == ("", "0")
    before = {row["kiosk_id"]: row for row in csv.DictReader(io.StringIO(
        desk(server).get(server.url + "/report.csv?street=XFL&day=2026-11-29", timeout=10).text))}
    assert before["cp-1"]["offline"] == "23:00–00:00" and before["cp-1"]["offline_minutes"] == "60"
    page = desk(server).get(server.url + "/report?street=XFL&day=2026-11-30", timeout=10).text
    assert "06:00–08:00; 16:00–18:00 (300 分钟)" in page.replace("00:00–01:00; ", "")


def test_the_week_report_sums_each_day_and_each_post(street: tuple[StreetServer, FakeClock]) -> None:
    """24–30 November: cp-1's roster (06–12, 14–22, 840 min a day) is unstaffed on the six days before
    the shifts begin (two absences, 840 min each day), then the 30th as in the daily report."""
    server, clock = street
    populate(server, clock)
    r = desk(server).get(server.url + "/report/week.csv?street=XFL", timeout=10)      # default: the 7 days to today
    assert r.status_code == 200 and 'filename="week-2026-11-24.csv"' in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["day"], x["kiosk_id"]) for x in rows][:2] == [("2026-11-24", "cp-1"), ("2026-11-24", "cp-2")]
    assert len(rows) == 14
    by = {(x["day"], x["kiosk_id"]): x for x in rows}
    assert (by["2026-11-29", "cp-1"]["passes"], by["2026-11-29", "cp-1"]["absent_minutes"]) == ("1", "840")
    assert (by["2026-11-30", "cp-1"]["denies"], by["2026-11-30", "cp-1"]["absent_minutes"]) == ("2", "90")
    x = desk(server).get(server.url + "/report/week.xlsx?street=XFL&from=2026-11-24", timeout=10)
    wb = load_workbook(io.BytesIO(x.content))
    days = {row[0].value: [c.value for c in row] for row in wb["每日"].iter_rows(min_row=2)}
    head = [c.value for c in wb["每日"][1]]
    assert days["2026-11-30"][head.index("通行")] == 2 and days["2026-11-30"][head.index("发热告警")] == 1
    assert days["2026-11-29"][head.index("通行")] == 1 and days["2026-11-28"][head.index("通行")] == 0
    posts = {row[0].value: [c.value for c in row] for row in wb["每个卡口"].iter_rows(min_row=2)}
    phead = [c.value for c in wb["每个卡口"][1]]
    one = posts["cp-1"]
    assert (one[phead.index("通行")], one[phead.index("缺岗")], one[phead.index("缺岗分钟")]) == (2, 14, 6 * 840 + 90)
    assert one[phead.index("在岗率")] == "9%"                          # 510 of 6 × 840 + 600 minutes
    assert one[phead.index("未巡查天数")] == 6 and posts["cp-2"][phead.index("未巡查天数")] == 7
    assert wb["每日每卡口"].max_row == 15
    page = desk(server).get(server.url + "/report/week?street=XFL&from=2026-11-24", timeout=10).text
    assert "周报" in page and 'id="day-2026-11-30"' in page and "<svg" in page and "11-30" in page
    bad = desk(server).get(server.url + "/report/week?from=last-week", timeout=10)
    assert bad.status_code == 400 and "from must be a date such as 2026-11-24" in bad.text


def test_the_checkpoint_report_shows_one_posts_day(street: tuple[StreetServer, FakeClock]) -> None:
    server, clock = street
    populate(server, clock)
    r = desk(server).get(server.url + "/report/post.csv?kiosk=cp-1&day=2026-11-30", timeout=10)
    assert 'filename="checkpoint-cp-1-2026-11-30.csv"' in r.headers["Content-Disposition"]
    busy = {x["hour"]: x for x in csv.DictReader(io.StringIO(r.text)) if any(v != "0" for k, v in x.items()
                                                                              if k != "hour")}
    assert {h: (x["passes"], x["denies"], x["manual_passes"], x["manual_denies"], x["fever_alerts"])
            for h, x in busy.items()} == {"07:00": ("1", "1", "0", "0", "0"), "08:00": ("0", "0", "1", "0", "0"),
                                          "12:00": ("0", "1", "0", "0", "1"), "13:00": ("0", "0", "1", "1", "0")}
    page = desk(server).get(server.url + "/report/post?kiosk=cp-1&day=2026-11-30", timeout=10).text
    assert "卡口报告" in page and "幸福路街道 › 阳光小区 › 东门" in page
    assert "06:00–12:00, 14:00–22:00" in page and "06:00–09:30; 10:00–17:00" in page
    assert "06:00 a1a1a1a1 上岗" in page and "17:00 b2b2b2b2 下岗" in page
    assert "11:00–11:20 thermometer no frames for 5 s" in page and "10:30 c3c3c3c3" in page
    xlsx = load_workbook(io.BytesIO(desk(server).get(
        server.url + "/report/post.xlsx?kiosk=cp-1&day=2026-11-30", timeout=10).content))
    assert [row[0].value for row in xlsx["2026-11-30"].iter_rows(min_row=2)] == ["cp-1"]
    assert desk(server).get(server.url + "/report/post?kiosk=nobody", timeout=10).status_code == 404
    assert desk(server).get(server.url + "/report/post?kiosk=a%20b", timeout=10).status_code == 400
    other = office(server.db, server.url, "elsewhere", "street", "OTHER")             # another street's office
    assert other.get(server.url + "/report/post?kiosk=cp-1", timeout=10).status_code == 404
