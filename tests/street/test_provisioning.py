"""Bulk provisioning and the hierarchy: a street's roster in one command, its kiosks placed on the
status page, and a street's SQLite database moved into the district's PostgreSQL."""

from __future__ import annotations

import csv
import io
import os
import shutil
import stat
from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from street.errors import RosterError
from street.registry import roster
from street.server import StreetServer
from street.storage.db import StreetDB
from sync import protocol
from tests.office_login import office
from tests.pgcluster import PgCluster
from tests.street.data.make_release1_db import batch, rec
from tests.street.procs import street_cli
from tests.synckit import Signer

HEADER = "kiosk_id,district,district_name,street,street_name,compound,compound_name,gate,gate_name\n"


def a_roster(n: int = 117, street: str = "S07", name: str = "经八路街道") -> str:
    """``n`` kiosks of one street in compounds of 9 gates each."""
    rows = [f"{street.lower()}-{i:03d},410105,金水区,{street},{name},C{i // 9:02d},第{i // 9 + 1}社区,"
            f"g{i % 9},{'东南西北'[i % 4]}门{i % 9}\n" for i in range(n)]
    return HEADER + "".join(rows)


@pytest.mark.parametrize(("text", "message"), [
    (HEADER.replace("compound,", "") + "k1,,,S1,,A,,g,\n", "missing column compound"),
    (HEADER.replace("gate_name", "gate_nmae") + "k1,,,S1,,C,,g,\n", "unknown column 'gate_nmae'"),
    (HEADER + "k1,,,S1,,C1,,g1,\nk2,,,S1,,C1,,g2,\nk1,,,S1,,C2,,g3,\n", "line 4: kiosk id k1 is also on line 2"),
    (HEADER + "k1,,,S1,一街,C1,,g1,\nk2,,,S1,二街,C1,,g2,\n", "street S1 is named '二街' here but '一街' on line 2"),
    (HEADER + "k1,,,S1,,C1,,g1,\nk2,,,S1,,C1,,,\n", "line 3: gate is empty"),
    (HEADER + "bad id,,,S1,,C1,,g1,\n", "line 2: kiosk id 'bad id'"),
    (HEADER + "k1,,,S 1,,C1,,g1,\n", "line 2: street code 'S 1'"),
    (HEADER + "k1,,,S1,,C1,,g1\n", "line 2: 8 fields, the header has 9"),
    (HEADER, "has a header but no kiosks"),
    (HEADER.replace("\n", ",street_tz\n") + "k1,,,S1,,C1,,g1,,Asia/Zhengzhou\n",
     "line 2: street_tz 'Asia/Zhengzhou' is not a known time zone"),
    (HEADER.replace("\n", ",street_tz\n") + "k1,,,S1,,C1,,g1,,Asia/Shanghai\nk2,,,S1,,C1,,g2,,Asia/Urumqi\n",
     "line 3: street S1 is in time zone 'Asia/Urumqi' here but 'Asia/Shanghai' on line 2"),
])
def test_a_bad_roster_names_its_problem(text: str, message: str) -> None:
    with pytest.raises(RosterError, match=message.replace("(", r"\(")):
        roster.parse(text)


def test_a_roster_saved_by_a_chinese_spreadsheet_is_read() -> None:
    for raw in (a_roster(3).encode("utf-8-sig"), a_roster(3).encode("gb18030")):
        entries = roster.parse(roster.decode(raw))
        assert [e.place.street_name for e in entries] == ["经八路街道"] * 3 and entries[2].place.gate_name == "西门2"


def test_kiosk_import_registers_a_street_and_writes_each_credential(tmp_path: Path) -> None:
    db = tmp_path / "street.db"
    (tmp_path / "roster.csv").write_text(a_roster())
    out = street_cli("kiosk", "import", str(tmp_path / "roster.csv"), "--out", str(tmp_path / "creds"), "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert "registered 117 kiosks in 1 street and 13 compounds" in out.stderr
    files = sorted((tmp_path / "creds").iterdir())
    assert len(files) == 117 and files[0].name == "s07-000.secret"
    assert stat.S_IMODE((tmp_path / "creds").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    listed = street_cli("kiosk", "list", "--db", str(db), "--street", "S07", "--compound", "C01").stdout
    assert listed.splitlines()[0] == "s07-009\tactive\tS07\tC01\tg0\t南门0"
    with StreetServer(db) as server:   # a technician's file signs the kiosk's requests
        secret = (tmp_path / "creds" / "s07-010.secret").read_text().strip()
        k = Signer(server.url, "s07-010", secret)
        assert k.post(protocol.HEARTBEAT_PATH, {"kiosk_id": "s07-010", "sent_wall": server.clock.wall()},
                      gz=False).status_code == 200
        desk = office(server.db, server.url)
        page = desk.get(server.url + "/?street=S07&compound=C01", timeout=10).text
        assert "经八路街道 › 第2社区" in page and page.count('id="cp-') == 9
        rows = list(csv.DictReader(io.StringIO(desk.get(server.url + "/status.csv?street=S07", timeout=10).text)))
        ten = next(r for r in rows if r["kiosk_id"] == "s07-010")           # the board's order: problems first
        assert len(rows) == 117 and ten["compound_name"] == "第2社区" and ten["state"] == "online"
        assert desk.get(server.url + "/?compound=C01", timeout=10).status_code == 400


def test_a_refused_import_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "street.db"
    assert street_cli("kiosk", "add", "s07-005", "--db", str(db)).returncode == 0
    (tmp_path / "roster.csv").write_text(a_roster(20))
    (tmp_path / "bad.csv").write_text(a_roster(5) + "s07-001,410105,金水区,S07,经八路街道,C00,第1社区,g9,\n")
    for csv_file, message in (("bad.csv", "kiosk id s07-001 is also on line 3"),
                              ("roster.csv", "kiosk s07-005 is already registered"),
                              ("missing.csv", "cannot read roster")):
        out = street_cli("kiosk", "import", str(tmp_path / csv_file), "--out", str(tmp_path / "creds"),
                         "--db", str(db))
        assert out.returncode == 1 and out.stderr.count("\n") == 1 and message in out.stderr, out.stderr
        assert not (tmp_path / "creds").exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert street_cli("kiosk", "list", "--db", str(db)).stdout.count("\n") == 1


def test_places_and_names_live_in_the_registry_on_both_engines(db_target: str | Path) -> None:
    db = StreetDB(db_target, FakeClock())
    try:
        from street.registry import credentials
        from street.storage.db import Registration
        entries = roster.parse(a_roster(12) + "z-001,410105,金水区,S08,杜岭街道,C01,紫荆社区,n,北门\n")
        db.register([Registration(e.kiosk_id, e.place, credentials.issue()) for e in entries])
        from street.registry.places import Scope
        assert [k["kiosk_id"] for k in db.kiosks(Scope(street="S08"))] == ["z-001"]
        assert [k["kiosk_id"] for k in db.kiosks(Scope(street="S07", compound="C01"))] == ["s07-009", "s07-010",
                                                                                       "s07-011"]
        (k,) = db.kiosks(Scope(district="410105", street="S08"))
        assert (k["district_name"], k["street_name"], k["compound_name"], k["gate_name"]) == \
            ("金水区", "杜岭街道", "紫荆社区", "北门")
    finally:
        db.close()


def test_a_street_moves_into_the_district_whole(tmp_path: Path, pg: PgCluster, pg_street: str) -> None:
    district = pg.empty(pg_street)
    street = tmp_path / "street.db"
    shutil.copy(Path(__file__).parent / "data" / "release1.db", street)
    assert street_cli("db", "migrate-to", district, "--db", str(street)).stderr.count("upgrade") == 1
    assert street_cli("db", "upgrade", "--db", str(street)).returncode == 0
    out = street_cli("db", "migrate-to", district, "--db", str(street))
    assert out.returncode == 1 and "have no street in the district: pass --street" in out.stderr
    out = street_cli("db", "migrate-to", district, "--db", str(street), "--street", "S07",
                     "--street-name", "经八路街道", "--district", "410105", "--district-name", "金水区")
    assert out.returncode == 0 and "moved 3 kiosks and 228 records of S07" in out.stderr, out.stderr
    again = street_cli("db", "migrate-to", district, "--db", str(street), "--street", "S07")
    assert again.returncode == 1 and "already has kiosks cp-001, cp-002, cp-003: nothing was moved" in again.stderr
    src, dst = StreetDB(street, FakeClock()), StreetDB(district, FakeClock())
    try:
        for sql in ("SELECT kiosk_id, db_epoch, seq, digest, ts, ts_source, body FROM records",
                    "SELECT kiosk_id, db_epoch, acked_through, max_seq FROM streams",
                    "SELECT kiosk_id, db_epoch, first, last FROM gaps", "SELECT kiosk_id, hour, passes FROM counts",
                    "SELECT kiosk_id, secret, revoked FROM kiosks", "SELECT etag FROM bundles"):
            assert sorted(map(tuple, dst.rows(sql))) == sorted(map(tuple, src.rows(sql))), sql
        assert dst.latest_bundle("S07") == src.latest_bundle()
        assert {k["street_name"] for k in dst.kiosks()} == {"经八路街道"}
        secret = src.rows("SELECT secret FROM kiosks WHERE kiosk_id = 'cp-002'")[0][0]
    finally:
        src.close()
        dst.close()
    with StreetServer(district) as server:      # the kiosk changes only its server_url
        r = Signer(server.url, "cp-002", secret).post(
            protocol.RECORDS_PATH, batch("cp-002", "ep-C", [rec("cp-002", "ep-C", 81, gate="south")]))
        assert r.status_code == 200 and r.json()["acked_through"] == 81


def test_wrong_or_unreachable_databases_are_one_line(tmp_path: Path, pg: PgCluster) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{pg.port}/no_such_db"
    for args, message in (
        (["kiosk", "list", "--db", closed], 'database "no_such_db" does not exist'),
        (["serve", "--db", "postgresql://postgres@127.0.0.1:1/x", "--port", "0"],
         "cannot connect to postgresql://postgres@127.0.0.1:1/x"),
        (["kiosk", "list", "--db", "postgresql://u:s3cret@[::1/x"], "is not a valid PostgreSQL URL"),
        (["kiosk", "list", "--db", "mysql://x/y"], "mysql:// is not a database this server knows"),
        (["serve", "--db", str(tmp_path / "s.db"), "--workers", "2"], "--workers above 1 needs a PostgreSQL"),
    ):
        out = street_cli(*args, timeout=60)
        assert out.returncode == 1 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
        assert message in out.stderr and "s3cret" not in out.stderr, out.stderr
    assert not os.path.exists(tmp_path / "s.db")
