"""The street status page as the street office sees it: rendered by Debian's headless chromium."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.clock import FakeClock
from street.server import StreetServer
from sync import protocol
from tests.browser import Browser
from tests.office_login import desk, office
from tests.synckit import Signer, batch, rec

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is installed by run.sh (TEST_DEBS)")

CST = dt.timezone(dt.timedelta(hours=8), "CST")
NOW = dt.datetime(2026, 11, 29, 15, 30, tzinfo=CST).timestamp()
EPOCH = str(uuid.uuid4())


def at(hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 11, 29, hour, minute, tzinfo=CST).timestamp()


@pytest.fixture
def street(db_target: str | Path) -> Iterator[tuple[StreetServer, FakeClock]]:
    clock = FakeClock(wall=NOW - 2 * 3600)
    with StreetServer(db_target, clock=clock, tz=CST, offline_after=1800) as server:
        yield server, clock


def send(k: Signer, clock: FakeClock, records: list[dict[str, Any]]) -> None:
    r = k.post(protocol.RECORDS_PATH, batch(k.kiosk_id, EPOCH, records), now=clock.wall())
    assert r.status_code == 200, r.text


def beat(k: Signer, clock: FakeClock, **payload: Any) -> None:
    body = {"kiosk_id": k.kiosk_id, "sent_wall": clock.wall(), "gate": "north", "db_epoch": EPOCH,
            "backlog": 0, "on_duty": None, "faults": [], "clock_synced": True, "clock_offset_s": 0.01, **payload}
    assert k.post(protocol.HEARTBEAT_PATH, body, gz=False, now=clock.wall()).status_code == 200


def populate(server: StreetServer, clock: FakeClock) -> None:
    one = Signer(server.url, "cp-001", server.db.add_kiosk("cp-001"))
    two = Signer(server.url, "cp-002", server.db.add_kiosk("cp-002"))
    server.db.add_kiosk("cp-003")          # registered, never seen
    # 13:30 — cp-002 reports, then falls silent
    send(two, clock, [rec("cp-002", EPOCH, 1, wall_ts=at(9, 5)), rec("cp-002", EPOCH, 2, wall_ts=at(9, 10))])
    beat(two, clock, backlog=3)
    clock.advance(2 * 3600)                # 15:30
    records = [rec("cp-001", EPOCH, s, wall_ts=at(8, s % 60)) for s in range(1, 11)]           # 10 at 08:xx
    records += [rec("cp-001", EPOCH, s, wall_ts=at(14, s % 60)) for s in range(11, 16)]        # 5 at 14:xx
    records[12] = rec("cp-001", EPOCH, 13, wall_ts=at(14, 13), decision="deny", cause="fever", temp_c=38.4)
    records[13] = rec("cp-001", EPOCH, 14, wall_ts=at(14, 14), decision="manual_pass", cause="no_code",
                      volunteer_ref="ab" * 16)
    records.append(rec("cp-001", EPOCH, 16, wall_ts=at(10), kind="shift_start", decision=None, cause=None,
                       volunteer_ref="ab" * 16))
    records.append(rec("cp-001", EPOCH, 17, wall_ts=at(11), kind="pass", decision="pass", cause="ok",
                       temp_c=36.5))
    yesterday = rec("cp-001", EPOCH, 18, wall_ts=at(9) - 86400)        # does not count today
    send(one, clock, records + [yesterday])
    # seq 19–30 never arrive, 31 does: a gap, noticed 2 h ago by the time we look
    clock.jump_wall(-2 * 3600)
    send(one, clock, [rec("cp-001", EPOCH, 31, wall_ts=at(13, 20))])
    clock.jump_wall(2 * 3600)
    beat(one, clock, on_duty={"volunteer_ref": "ab" * 16, "since": at(10)},
         faults=[{"device": "thermometer", "detail": "no frames for 5 s", "since": at(15)}], backlog=12)


def test_a_person_sees_every_checkpoint_its_state_and_todays_numbers(street: tuple[StreetServer, FakeClock],
                                                                    tmp_path: Path) -> None:
    server, clock = street
    populate(server, clock)
    with Browser() as b:
        b.sign_in(server.url, office(server.db, server.url))
        b.sign_in(server.url, desk(server))
        b.open(server.url + "/?lang=en")
        text: str = b.eval("document.body.innerText")
        rows = b.eval("[...document.querySelectorAll('#checkpoints tbody tr[data-state]')].map(r => r.innerText)")
        groups = b.eval("[...document.querySelectorAll('#checkpoints tr.group')].map(r => r.innerText)")
        bars = b.eval("[...document.querySelectorAll('#chart g.hour')].map(g => [+g.dataset.hour, "
                      "[...g.querySelectorAll('rect')].reduce((h, r) => h + r.getBoundingClientRect().height, 0)])")
        visible = b.eval("(() => { const r = document.querySelector('#checkpoints').getBoundingClientRect();"
                         " return r.width > 600 && r.height > 60; })()")
        b.screenshot(tmp_path / "status.png")
        if os.environ.get("STATUS_PNG"):        # to look at it: STATUS_PNG=/tmp/status.png pytest ...
            shutil.copy(tmp_path / "status.png", os.environ["STATUS_PNG"])
    assert "Street checkpoints" in text and "Updated 2026-11-29 15:30" in text
    assert visible
    one, two, three = rows                                     # problems first: fever, offline, then never seen
    assert one.startswith("fever\tcp-001 (north)")
    assert "online since 15:30" in one
    assert "yes — volunteer abababab" in one
    assert "thermometer: no frames for 5 s" in one
    assert "\t12\t" in one                                     # backlog from the heartbeat
    # passes 10 + 3 + 1 + 1 (seq 31 at 13:20); denied 1 (the fever); manual passes 1; manual denies 0; fevers 1
    assert "\t15\t1\t1\t0\t1\t" in one
    assert "seq 19–30 missing for 2 h 0 min" in one
    assert two.startswith("offline\tcp-002 (north)") and "offline since 13:30" in two
    assert "\t2\t0\t0\t0\t0\t" in two
    assert three.startswith("never seen\tcp-003") and groups == ["Never heard from (registered, no contact yet)"]
    for label, value in (("checkpoints", 3), ("online", 1), ("offline", 1), ("never seen", 1), ("staffed", 1),
                         ("passes today", 17), ("denied today", 1), ("manual passes", 1), ("fever alerts", 1)):
        assert f"{value}\n{label}" in text, label
    heights = dict(bars)
    assert len(heights) == 24
    assert heights[8] > heights[14] > heights[9] > 0          # 10 at 08h, 6 at 14h, 2 at 09h
    assert heights[8] == pytest.approx(110, abs=1)            # the busiest hour fills the chart
    assert heights[3] == 0
    assert "Decisions per hour today (2026-11-29)" in text
    assert (tmp_path / "status.png").stat().st_size > 10_000


def test_csv_export_has_one_row_per_checkpoint(street: tuple[StreetServer, FakeClock]) -> None:
    server, clock = street
    populate(server, clock)
    r = office(server.db, server.url).get(server.url + "/status.csv", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert 'filename="checkpoints-2026-11-29.csv"' in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["kiosk_id"] for row in rows] == ["cp-001", "cp-002", "cp-003"]
    assert rows[0]["passes_today"] == "15" and rows[0]["denies_today"] == "1"
    assert rows[0]["manual_passes_today"] == "1" and rows[0]["fever_alerts_today"] == "1"
    assert rows[0]["staffed"] == "yes" and rows[0]["attention"] == "fever"
    assert rows[1]["state"] == "offline" and rows[2]["state"] == "never"


def test_the_page_escapes_what_kiosks_send(street: tuple[StreetServer, FakeClock]) -> None:
    server, clock = street
    k = Signer(server.url, "cp-x", server.db.add_kiosk("cp-x"))
    beat(k, clock, faults=[{"device": "<script>alert(1)</script>", "detail": "<b>x</b>"}])
    html = office(server.db, server.url).get(server.url + "/", timeout=5).text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_an_empty_street_says_how_to_register(db_target: str | Path) -> None:
    with StreetServer(db_target) as server, Browser() as b:
        b.sign_in(server.url, office(server.db, server.url))
        b.sign_in(server.url, desk(server))
        b.open(server.url + "/?lang=en")
        assert "No checkpoints registered yet" in b.eval("document.body.innerText")



def crowd(server: StreetServer, clock: FakeClock) -> None:
    """A known crowd: cp-k has 3 passes, 3 manual passes, 7 denies (2 of them fevers) and 1 manual
    deny, spread over 08h and 09h local; its records at 23:59 yesterday and 00:00 tomorrow do not
    count; cp-j is fine with 2 passes; cp-h is online with nobody on duty."""
    k = Signer(server.url, "cp-k", server.db.add_kiosk("cp-k"))
    j = Signer(server.url, "cp-j", server.db.add_kiosk("cp-j"))
    h = Signer(server.url, "cp-h", server.db.add_kiosk("cp-h"))
    decisions = ["pass"] * 3 + ["manual_pass"] * 3 + ["deny"] * 7 + ["manual_deny"]
    records = [rec("cp-k", EPOCH, i + 1, wall_ts=at(8 + i % 2, i), decision=d,
                   cause="fever" if i in (6, 10) else "ok",
                   volunteer_ref="ab" * 16 if d.startswith("manual") else None) for i, d in enumerate(decisions)]
    records.append(rec("cp-k", EPOCH, 15, wall_ts=at(0) - 60))            # 23:59 yesterday, local
    records.append(rec("cp-k", EPOCH, 16, wall_ts=at(0)))                 # 00:00 today, local (16:00 UTC before)
    records.append(rec("cp-k", EPOCH, 17, wall_ts=at(0) + 86400))         # 00:00 tomorrow
    send(k, clock, records)
    send(j, clock, [rec("cp-j", EPOCH, 1, wall_ts=at(10)), rec("cp-j", EPOCH, 2, wall_ts=at(11))])
    clock.advance(2 * 3600)                                                # 15:30
    beat(k, clock, on_duty={"volunteer_ref": "ab" * 16, "since": at(8)})
    beat(j, clock, on_duty={"volunteer_ref": "cd" * 16, "since": at(8)})
    beat(h, clock)


def test_each_decision_is_counted_apart_per_post_and_per_hour_in_local_time(
        street: tuple[StreetServer, FakeClock]) -> None:
    server, clock = street
    crowd(server, clock)
    rows = {r["kiosk_id"]: r for r in csv.DictReader(io.StringIO(
        desk(server).get(server.url + "/status.csv", timeout=5).text))}
    k = rows["cp-k"]
    assert (k["passes_today"], k["manual_passes_today"], k["denies_today"], k["manual_denies_today"],
            k["fever_alerts_today"], k["overrides_today"]) == ("4", "3", "7", "1", "2", "4")   # 3 + the 00:00 one
    with Browser() as b:
        b.sign_in(server.url, desk(server))
        b.open(server.url + "/?lang=en")
        text: str = b.eval("document.body.innerText")
        hours = b.eval("Object.fromEntries([...document.querySelectorAll('#chart g.hour')].map(g => "
                       "[g.dataset.hour, [+g.dataset.passes, +g.dataset.denies, +g.dataset.decisions]]))")
    for label, value in (("passes today", 6), ("denied today", 7), ("manual passes", 3), ("manual denies", 1),
                         ("fever alerts", 2)):
        assert f"{value}\n{label}" in text, label
    # 08h: decisions 0, 2, 4, … of the crowd; 09h: 1, 3, 5, …
    assert hours["8"] == [2, 4, 7] and hours["9"] == [1, 3, 7]
    assert hours["0"] == [1, 0, 1] and hours["10"] == [1, 0, 1] and hours["23"] == [0, 0, 0]


def test_the_board_puts_problems_first_filters_and_fits_117_posts_on_one_screen(
        street: tuple[StreetServer, FakeClock]) -> None:
    server, clock = street
    crowd(server, clock)
    for i in range(114):
        server.db.add_kiosk(f"cp-n{i:03d}")                                 # registered, never seen
    with Browser() as b:
        b.sign_in(server.url, desk(server))
        b.open(server.url + "/?lang=en")
        order = b.eval("[...document.querySelectorAll('#checkpoints tr[data-attention]')]"
                       ".map(r => r.dataset.attention)")
        assert order[:3] == ["fever", "unstaffed", "fine"] and set(order[3:]) == {"never"} and len(order) == 117
        assert "114\nnever seen" in b.eval("document.body.innerText")
        assert "0\noffline" in b.eval("document.body.innerText")             # never seen is not offline
        b.sign_in(server.url, desk(server))
        b.open(server.url + "/?lang=en&view=grid")
        tiles = b.eval("[...document.querySelectorAll('#grid .tile')].map(t => { const r = t.getBoundingClientRect();"
                       " return [t.dataset.attention, t.querySelector('b').innerText, r.bottom, "
                       "getComputedStyle(t).backgroundColor]; })")
        assert len(tiles) == 117 and max(t[2] for t in tiles) <= b.eval("window.innerHeight")   # one screen
        assert tiles[0][:2] == ["fever", "fever"] and tiles[1][:2] == ["unstaffed", "unstaffed"]
        assert tiles[0][3] != tiles[1][3] != tiles[2][3]                      # a colour and a word for each
        b.sign_in(server.url, desk(server))
        b.open(server.url + "/?lang=en&state=unstaffed")
        marker = b.eval("window.marker = 'kept'")
        ids = b.eval("[...document.querySelectorAll('#checkpoints tr[data-attention]')].map(r => r.id)")
        assert ids == ["cp-cp-h"] and marker == "kept"
        beat(Signer(server.url, "cp-j2", server.db.add_kiosk("cp-j2")), clock)  # a second unstaffed post
        assert b.eval("window.refreshBoard()", await_promise=True) is True
        ids = b.eval("[...document.querySelectorAll('#checkpoints tr[data-attention]')].map(r => r.id)")
        assert ids == ["cp-cp-h", "cp-cp-j2"]                                 # refreshed in place, filter kept
        assert b.eval("window.marker") == "kept" and b.eval("location.search") == "?lang=en&state=unstaffed"


def test_the_board_speaks_chinese_first(street: tuple[StreetServer, FakeClock]) -> None:
    server, clock = street
    crowd(server, clock)
    page = desk(server).get(server.url + "/", timeout=5).text
    assert '<html lang="zh">' in page and "卡口" in page and "今日通行" in page and "发热" in page
    assert "Passes today" not in page
    chinese = desk(server).get(server.url + "/", headers={"Accept-Language": "en-GB,en;q=0.8"}, timeout=5).text
    assert "今日通行" in chinese and "passes today" not in chinese        # the office's browser may be English
    english = desk(server).get(server.url + "/?lang=en", timeout=5).text
    assert "passes today" in english and 'href="?view=list&amp;lang=zh">中文' in english
    for query, message in (("?lang=fr", "unknown language 'fr'"), ("?state=asleep", "state must be one of"),
                           ("?view=map", "view must be one of")):
        r = desk(server).get(server.url + "/" + query, timeout=5)
        assert r.status_code == 400 and message in r.text and r.text.count("\n") == 1
