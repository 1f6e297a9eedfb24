"""Each street reads its day in its own time zone (schema 6): the board's "today", the report's day
and hours, its CSV and XLSX; a street without one uses the server's --tz. On both engines, at
the local midnight that is 16:00 UTC in Zhengzhou."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kiosk.clock import FakeClock
from street import cli
from street.registry.places import Place, Scope
from street.server import StreetServer
from street.storage import zones
from sync import protocol
from tests.office_login import desk
from tests.synckit import Signer, batch, rec

EPOCH = str(uuid.uuid4())
MIDNIGHT_CST = dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC).timestamp()       # 2026-12-01 00:00 in Zhengzhou


@pytest.fixture
def two_streets(db_target: str | Path) -> Iterator[tuple[StreetServer, str]]:
    """Street ZZ (Asia/Shanghai, set with the CLI) and street UT (no zone: the server's UTC), each one
    post with a pass one second before and one at Zhengzhou's midnight. Now: 17:00 UTC (01:00 CST)."""
    clock = FakeClock(wall=MIDNIGHT_CST + 3600)
    with StreetServer(db_target, clock=clock, tz=dt.UTC) as server:
        for kiosk, street in (("zz-1", "ZZ"), ("ut-1", "UT")):
            k = Signer(server.url, kiosk, server.db.add_kiosk(kiosk, Place(street=street, compound="C1", gate="G")))
            body = batch(kiosk, EPOCH, [rec(kiosk, EPOCH, 1, wall_ts=MIDNIGHT_CST - 1),
                                        rec(kiosk, EPOCH, 2, wall_ts=MIDNIGHT_CST)], sent_wall=clock.wall())
            assert k.post(protocol.RECORDS_PATH, body, now=clock.wall()).status_code == 200
        assert cli.main(["street", "tz", "ZZ", "Asia/Shanghai", "--db", str(db_target)]) == 0
        yield server, str(db_target)


def passes(server: StreetServer, query: str) -> dict[str, str]:
    r = desk(server).get(server.url + "/report.csv?" + query, timeout=10)
    assert r.status_code == 200, r.text
    return {row["kiosk_id"]: row["passes"] for row in csv.DictReader(io.StringIO(r.text))}


def test_a_streets_day_and_hours_are_its_own_zones(two_streets: tuple[StreetServer, str]) -> None:
    server, _ = two_streets
    assert passes(server, "street=ZZ&day=2026-11-30") == {"zz-1": "1"}        # 23:59:59 CST
    assert passes(server, "street=ZZ&day=2026-12-01") == {"zz-1": "1"}        # 00:00:00 CST
    assert passes(server, "street=ZZ") == {"zz-1": "1"}                       # today: 1 December in Zhengzhou
    assert passes(server, "street=UT&day=2026-11-30") == {"ut-1": "2"}        # 15:59:59 and 16:00 UTC
    assert passes(server, "street=UT") == {"ut-1": "2"}                       # today: still 30 November in UTC
    board = desk(server).get(server.url + "/?street=ZZ", timeout=10).text
    assert "2026-12-01 01:00:00 CST" in board
    assert "2026-11-30 17:00:00 UTC" in desk(server).get(server.url + "/?street=UT", timeout=10).text
    xlsx = desk(server).get(server.url + "/report.xlsx?street=ZZ&day=2026-11-30", timeout=10)
    hours = load_workbook(io.BytesIO(xlsx.content))["每小时"]
    assert [r[0].value for r in hours.iter_rows(min_row=2) if r[1].value] == ["23:00"]   # 23:59:59 local
    name = desk(server).get(server.url + "/status.csv?street=ZZ", timeout=10).headers["Content-Disposition"]
    assert "checkpoints-2026-12-01.csv" in name


def test_a_page_over_streets_of_different_zones_uses_the_servers(two_streets: tuple[StreetServer, str]) -> None:
    server, target = two_streets
    assert zones.zone_of(server.db, Scope(), dt.UTC) is dt.UTC                # ZZ and UT differ
    assert str(zones.zone_of(server.db, Scope(street="ZZ", compound="C1"), dt.UTC)) == "Asia/Shanghai"
    assert cli.main(["street", "tz", "UT", "Asia/Shanghai", "--db", target]) == 0
    assert str(zones.zone_of(server.db, Scope(), dt.UTC)) == "Asia/Shanghai"   # now they share one
    assert passes(server, "day=2026-11-30") == {"zz-1": "1", "ut-1": "1"}
    assert cli.main(["street", "tz", "UT", "--clear", "--db", target]) == 0
    assert zones.street_zones(server.db) == {"UT": None, "ZZ": "Asia/Shanghai"}


@pytest.mark.parametrize("argv, message", [
    (["ZZ", "Asia/Zhengzhou"], "'Asia/Zhengzhou' is not a known time zone"),
    (["ZZ", "../../etc/passwd"], "is not a known time zone"),
    (["XX", "Asia/Urumqi"], "no street 'XX' is registered"),
    (["ZZ"], "give a zone (e.g. Asia/Shanghai) or --clear"),
])
def test_a_bad_zone_or_street_is_one_line_and_nothing_written(two_streets: tuple[StreetServer, str],
                                                             capsys: pytest.CaptureFixture[str],
                                                             argv: list[str], message: str) -> None:
    server, target = two_streets
    capsys.readouterr()
    assert cli.main(["street", "tz", *argv, "--db", target]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert zones.street_zones(server.db) == {"UT": None, "ZZ": "Asia/Shanghai"}
    assert cli.main(["street", "list", "--db", target]) == 0
    assert capsys.readouterr().out.splitlines() == ["UT\t-", "ZZ\tAsia/Shanghai"]


def test_the_kiosk_roster_can_give_each_street_its_zone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "street.db"
    (tmp_path / "roster.csv").write_text("kiosk_id,street,compound,gate,street_tz\n"
                                         "a-1,ZZ,C1,g1,Asia/Shanghai\na-2,ZZ,C1,g2,\nb-1,UR,C1,g1,Asia/Urumqi\n"
                                         "c-1,UT,C1,g1,\n")
    assert cli.main(["kiosk", "import", str(tmp_path / "roster.csv"), "--out", str(tmp_path / "creds"),
                     "--db", str(db)]) == 0, capsys.readouterr().err
    assert cli.main(["street", "list", "--db", str(db)]) == 0
    assert capsys.readouterr().out.splitlines() == ["UR\tAsia/Urumqi", "UT\t-", "ZZ\tAsia/Shanghai"]
