"""street/doors on both engines: door records → the quarantine board, alerts once, acknowledgement,
end of quarantine, lost nodes, retention, the daily report; the office's pages over HTTP."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest
import requests

from kiosk.clock import FakeClock
from street.doors import board as door_board
from street.errors import DoorError
from street.registry.places import Place
from street.server import StreetServer
from street.storage.db import StreetDB
from tests.browser import Browser
from tests.office_login import office
from tests.paths import REPO
from tests.synckit import batch, rec

CN = dt.timezone(dt.timedelta(hours=8))
HH = "hh-" + "c3" * 16
NODE = "door-0007"
DAY = dt.datetime(2026, 12, 5, tzinfo=CN)


def t(hh: int, mm: int = 0, day: int = 5) -> float:
    return DAY.replace(day=day, hour=hh, minute=mm).timestamp()


def door_rec(seq: int, kind: str, cause: str, at: float, **over) -> dict:
    base = dict(kind=kind, cause=cause, wall_ts=at, decision=None, temp_c=None, holder_ref=HH, device="front",
                gate="front", detail=None)
    base.update(over)
    return rec(NODE, "ep-1", seq, **base)


DAY_RECORDS = [
    door_rec(1, "door_watch", "start", t(7), detail="starts=2026-12-01T00:00+08:00 ends=2026-12-10T00:00+08:00 "
                                                     "windows=08:00-08:30"),
    door_rec(2, "door_open", "in_window", t(8, 5), detail="08:00-08:30"),
    door_rec(3, "door_close", "closed", t(8, 6)),
    door_rec(4, "door_open", "outside_window", t(11)),
    door_rec(5, "door_held", "held_open", t(11, 2)),
    door_rec(6, "door_close", "closed", t(11, 3)),
    door_rec(7, "door_tamper", "loop_open", t(13)),
    door_rec(8, "door_visit", "fever", t(13, 30), temp_c=37.8, volunteer_ref="grid3-07", detail="handed=mask"),
]


@pytest.fixture
def db(db_target: str | Path):
    clock = FakeClock(wall=t(14))
    d = StreetDB(db_target, clock)
    d.add_kiosk(NODE, Place(street="s1", compound="c9", gate="front"))
    yield d, clock
    d.close()


def alerts(d: StreetDB) -> list[tuple[str, object]]:
    return [(r[0], r[1]) for r in d.rows("SELECT kind, acked_by FROM door_alerts ORDER BY id")]


def test_a_day_of_door_records_makes_the_board_and_alerts_once(db) -> None:
    d, clock = db
    d.ingest(NODE, batch(NODE, "ep-1", DAY_RECORDS, sent_wall=clock.wall()), "n1")
    again = d.ingest(NODE, batch(NODE, "ep-1", DAY_RECORDS, sent_wall=clock.wall()), "n2")    # redelivered
    assert again["duplicates"] == len(DAY_RECORDS)
    assert alerts(d) == [("opened_outside_window", None), ("held_open", None), ("tamper", None), ("fever", None)]
    board = d.read(lambda tx: door_board.load(tx, clock.wall(), CN))
    [h] = board.households
    assert (h.compound, h.door, h.status, h.openings_today, h.outside_today) == ("c9", "front", "alert", 2, 1)
    assert h.last_open == t(11) and not h.door_open and h.ends == t(0, 0, day=10) and h.visits_today == 1
    report = d.read(lambda tx: door_board.report_csv(tx, clock.wall(), CN, "2026-12-05")).splitlines()
    assert report[1].split(",") == ["2026-12-05", "s1", "c9", HH, "front", "2", "1", "4", "0", "1"]


def test_acknowledgement_needs_a_named_staff_member_and_a_note_and_happens_once(db) -> None:
    d, clock = db
    d.ingest(NODE, batch(NODE, "ep-1", DAY_RECORDS[:4], sent_wall=clock.wall()), "n1")
    [(alert_id,)] = d.rows("SELECT id FROM door_alerts")
    with pytest.raises(DoorError, match="staff member's name"):
        d.door_acknowledge(alert_id, "  ", "called")
    with pytest.raises(DoorError, match="note"):
        d.door_acknowledge(alert_id, "duty officer 3", "")
    d.door_acknowledge(alert_id, "duty officer 3", "called: a parcel")
    with pytest.raises(DoorError, match="already acknowledged by duty officer 3"):
        d.door_acknowledge(alert_id, "someone else", "again")
    with pytest.raises(DoorError, match="no door alert"):
        d.door_acknowledge(alert_id + 100, "duty officer 3", "x")
    assert d.rows("SELECT acked_by, note, acked_at FROM door_alerts")[0][:] == ("duty officer 3", "called: a parcel",
                                                                                 clock.wall())


def test_a_door_record_without_a_household_pseudonym_is_quarantined_not_stored(db) -> None:
    d, clock = db
    bad = door_rec(1, "door_open", "outside_window", t(9), holder_ref="Zhang San, 3-301")
    answer = d.ingest(NODE, batch(NODE, "ep-1", [bad], sent_wall=clock.wall()), "n1")
    assert answer["quarantined"] and "household pseudonym" in answer["quarantined"][0]["reason"]
    assert d.rows("SELECT COUNT(*) FROM households")[0][0] == 0 and alerts(d) == []
    assert not any("Zhang" in str(v) for row in d.rows("SELECT * FROM quarantine") for v in row)   # nowhere
    again = d.ingest(NODE, batch(NODE, "ep-1", [bad], sent_wall=clock.wall()), "n2")
    assert again["duplicates"] == 1                          # redelivered: known by its digest, not a conflict


def test_a_node_restarted_after_a_power_cut_is_an_alert(db) -> None:
    d, clock = db
    restart = door_rec(9, "door_watch", "start", t(13, 40), detail=DAY_RECORDS[0]["detail"] + " after=unclean_stop")
    d.ingest(NODE, batch(NODE, "ep-1", [DAY_RECORDS[0], restart], sent_wall=clock.wall()), "n1")
    assert alerts(d) == [("power_lost", None)]


def test_a_silent_node_is_lost_once_and_quarantine_ends_then_its_data_goes(db) -> None:
    d, clock = db
    d.ingest(NODE, batch(NODE, "ep-1", DAY_RECORDS, sent_wall=clock.wall()), "n1")
    clock.advance(600)
    assert d.door_sweep().alerts == []                          # 10 min of silence: not yet
    clock.advance(600)
    assert [a.kind for a in d.door_sweep().alerts] == ["node_lost"]
    assert d.door_sweep().alerts == []                          # once per silence
    clock.advance(t(0, 0, day=10) - clock.wall())               # the quarantine's end
    assert d.door_sweep().ended == 1
    assert d.rows("SELECT state FROM households")[0][0] == "ended"
    clock.advance(21 * 86400 + 60)                              # retention
    assert d.door_sweep().removed == 1
    for table in ("households", "door_events", "door_alerts"):
        assert d.rows(f"SELECT COUNT(*) FROM {table}")[0][0] == 0, table
    assert d.rows("SELECT COUNT(*) FROM records WHERE kiosk_id = ?", (NODE,))[0][0] == 0


def test_the_office_board_and_acknowledgement_over_http(db_target: str | Path) -> None:
    clock = FakeClock(wall=t(14))
    with StreetServer(db_target, clock=clock, tz=CN) as server:
        server.db.add_kiosk(NODE, Place(street="s1", compound="c9", gate="front"))
        server.db.ingest(NODE, batch(NODE, "ep-1", DAY_RECORDS, sent_wall=clock.wall()), "n1")
        s1 = office(server.db, server.url, "s1-office", "street", "s1")
        page = s1.get(server.url + "/quarantine", timeout=10)                       # Chinese first
        assert page.status_code == 200 and HH[:11] in page.text and "门长时间未关" in page.text
        assert "held open" not in page.text and '<html lang="zh">' in page.text
        english = s1.get(server.url + "/quarantine?lang=en", timeout=10).text
        assert "held open" in english and "Acknowledge" in english and '<html lang="en">' in english
        assert s1.get(server.url + "/quarantine?lang=xx", timeout=10).status_code == 400
        assert "Zhang" not in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf, "the acknowledgement form carries the session's CSRF token"
        [(alert_id,)] = server.db.rows("SELECT MIN(id) FROM door_alerts")
        url = f"{server.url}/quarantine/alerts/{alert_id}/ack"
        assert requests.post(url, data={"note": "x"}, allow_redirects=False, timeout=10).status_code == 401
        assert s1.post(url, data={"note": "x"}, timeout=10).status_code == 403          # no CSRF token
        other = office(server.db, server.url, "s2-office", "street", "s2")
        assert "门长时间未关" not in other.get(server.url + "/quarantine", timeout=10).text   # another street's board
        other_csrf = re.search(r'name="csrf" value="([^"]+)"', other.get(server.url + "/quarantine", timeout=10).text)
        token2 = other_csrf.group(1) if other_csrf else ""
        assert other.post(url, data={"csrf": token2, "note": "x"}, timeout=10).status_code == 403
        assert s1.post(url, data={"csrf": csrf.group(1), "note": ""}, timeout=10).status_code == 400
        ok = s1.post(url, data={"csrf": csrf.group(1), "note": "called", "lang": "en"}, timeout=10)
        assert ok.status_code == 200 and "Alert acknowledged." in ok.text   # followed the 303 to the board, in English
        assert server.db.rows("SELECT acked_by FROM door_alerts WHERE id = ?", (alert_id,))[0][0] == "s1-office"
        assert s1.get(server.url + "/quarantine/report.csv?day=yesterday", timeout=10).status_code == 400
        assert len(other.get(server.url + "/quarantine/report.csv?day=2026-12-05", timeout=10).text.splitlines()) == 1
        csv_text = s1.get(server.url + "/quarantine/report.csv?day=2026-12-05", timeout=10).text
        assert csv_text.splitlines()[1].startswith("2026-12-05,s1,c9," + HH)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is installed by run.sh (TEST_DEBS)")
def test_the_board_as_the_office_sees_it_in_chromium(tmp_path: Path) -> None:
    """What a person sees (innerText): households by compound, pseudonyms only, alerts with their
    acknowledgement form, the missing visit flagged. KIOSK_DOCS_SCREENSHOT=1 refreshes the
    screenshot in docs/."""
    clock = FakeClock(wall=t(14))
    other = "hh-" + "d4" * 16
    with StreetServer(tmp_path / "street.db", clock=clock, tz=CN) as server, Browser() as b:
        server.db.add_kiosk(NODE, Place(street="s1", compound="c9", gate="front"))
        server.db.add_kiosk("door-0008", Place(street="s1", compound="c2", gate="front"))
        server.db.ingest(NODE, batch(NODE, "ep-1", DAY_RECORDS, sent_wall=clock.wall()), "n1")
        quiet = [dict(r, kiosk_id="door-0008", holder_ref=other) for r in DAY_RECORDS[:3]]
        server.db.ingest("door-0008", batch("door-0008", "ep-1", quiet, sent_wall=clock.wall()), "n2")
        server.db.heartbeat("door-0008", {"kiosk_id": "door-0008", "sent_wall": clock.wall(), "kiosk_running": True},
                            "n3")
        for gate, compound, notices in (("gate-1", "c9", [("played", "masks"), ("cut", "vaccine")]),
                                        ("gate-2", "c2", [])):
            server.db.add_kiosk(gate, Place(street="s1", compound=compound, gate="main"))
            rows = [rec(gate, "ep-1", i + 1, kind="notice", decision=None, temp_c=None, cause=c, detail=n,
                        device="voice", wall_ts=t(9, i)) for i, (c, n) in enumerate(notices)]
            if rows:
                server.db.ingest(gate, batch(gate, "ep-1", rows, sent_wall=clock.wall()), f"g{gate}")
        b.sign_in(server.url, office(server.db, server.url))
        b.open(server.url + "/quarantine")
        text = b.eval("document.body.innerText")
        assert "s1/c2" in text and "s1/c9" in text and HH[:11] in text and other[:11] in text
        assert "在允许时段以外开门" in text and "未上门" in text                  # the office reads Chinese
        assert "居家隔离 — 门磁与宣传广播" in text and "待处理告警" in text and "今日开门次数" in text
        assert not re.search(r"[a-z]{4,} (?:[a-z]{3,} ){2,}", text), "English words left on the board"
        rounds = b.eval("[...document.querySelectorAll('h2 + table')].pop().innerText")
        assert "s1/c9\t已播出\t1\t1\t0" in rounds and "s1/c2\t尚未播出\t0\t0\t0" in rounds
        assert b.eval("document.querySelectorAll('form.ack').length") == 4
        assert b.eval("document.documentElement.scrollWidth <= window.innerWidth + 1")
        if os.environ.get("KIOSK_DOCS_SCREENSHOT"):
            b.screenshot(REPO / "docs" / "quarantine-board.png")


def test_door_alerts_reach_the_office_channels_once_in_chinese(db_target: str | Path) -> None:
    """A door alert is raised in the office's outbox in the ingest transaction (kind ``door``) and
    the alert worker delivers it to a real webhook receiver on 127.0.0.1 once, in Chinese; a
    redelivered batch raises nothing again."""
    from street.alerts.worker import AlertWorker
    from tests.street.test_alerts import Receiver, alert_settings

    clock = FakeClock(wall=t(14))
    receiver = Receiver()
    try:
        d = StreetDB(db_target, clock)
        try:
            d.add_kiosk(NODE, Place(street="s1", compound="c9", gate="front"))
            d.ingest(NODE, batch(NODE, "ep-1", DAY_RECORDS, sent_wall=clock.wall()), "n1")
            d.ingest(NODE, batch(NODE, "ep-1", DAY_RECORDS, sent_wall=clock.wall()), "n2")   # a retry
            worker = AlertWorker(d, alert_settings(receiver.url), clock, CN)
            assert worker.run_once() == 4 * 3           # outside window, held open, tamper, fever × 3 channels
            assert worker.run_once() == 0
        finally:
            d.close()
        hooks = [b for b in receiver.on("/hook") if b["kind"] == "door"]
        assert len(hooks) == 4
        texts = " ".join(h["text"] for h in hooks)
        assert "居家隔离" in texts and "在允许时段以外开门" in texts and "上门测温发现发热" in texts
        assert HH not in texts                          # the pseudonym shortened, never a name
    finally:
        receiver.close()
