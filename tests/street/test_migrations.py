"""Schema upgrades in place, on both engines: a database made by the first release (schema 1,
tests/street/data/release1.db) upgrades with nothing lost and keeps serving; a newer one is
refused, an older one is refused by `serve` until `db upgrade`."""

from __future__ import annotations

import hashlib
import math
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from kiosk.clock import FakeClock
from street.errors import SchemaError
from street.server import StreetServer
from street.storage import migrate
from street.storage.db import StreetDB
from street.storage.postgres import PostgresEngine
from sync import protocol
from tests.pgcluster import PgCluster
from tests.street.data.make_release1_db import batch, rec
from tests.street.procs import street_cli
from tests.synckit import Signer

RELEASE1 = Path(__file__).parent / "data" / "release1.db"
V1_TABLES = {   # what schema 1 holds, compared without the rowids
    "kiosks": "kiosk_id, secret, created, revoked, last_contact, online_since",
    "streams": "kiosk_id, db_epoch, acked_through, max_seq, stored, quarantined, redelivered, first_seen, last_seen",
    "gaps": "kiosk_id, db_epoch, first, last, since",
    "records": "kiosk_id, db_epoch, seq, digest, kind, ts, ts_source, wall_ts, clock_synced, boot_id, mono_ns, "
               "decision, cause, device, volunteer_ref, temp_c, body, received",
    "quarantine": "kiosk_id, db_epoch, seq, digest, reason, body, received",
    "heartbeats": "kiosk_id, received, payload",
    "alarms": "kiosk_id, at, kind, detail",
    "nonces": "kiosk_id, nonce, expires",
    "lost": "kiosk_id, db_epoch, first, last, reported, reason",
    "bundles": "etag, data, published",
}


def release1_rows() -> dict[str, Counter[tuple[object, ...]]]:
    conn = sqlite3.connect(f"file:{RELEASE1}?mode=ro", uri=True)
    try:
        return {t: Counter(tuple(r) for r in conn.execute(f"SELECT {cols} FROM {t}")) for t, cols in V1_TABLES.items()}
    finally:
        conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def release1(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """The first release's database: the file itself, or its rows in a PostgreSQL database at schema 1."""
    if request.param == "sqlite":
        path = tmp_path / "street.db"
        shutil.copy(RELEASE1, path)
        return path
    cluster: PgCluster = request.getfixturevalue("pg")
    url = cluster.create_db("release1")
    engine = PostgresEngine(url, 1)
    assert engine.apply(1, migrate.migrations("postgresql")[0].script)
    engine.close()
    with psycopg.connect(url) as conn:
        for table, rows in release1_rows().items():
            cols = V1_TABLES[table]
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(cols.split(',')))})",
                                list(rows.elements()))
    request.addfinalizer(lambda: cluster.drop_db(url))
    return url


def test_a_release1_database_upgrades_in_place_with_nothing_lost_and_keeps_serving(release1: str | Path) -> None:
    with pytest.raises(SchemaError, match=rf"has schema 1, this server needs {migrate.LATEST}: .*db upgrade"):
        StreetDB(release1, FakeClock())
    db = StreetDB(release1, FakeClock(), upgrade=True)
    try:
        assert [m.version for m in db.applied] == list(range(2, migrate.LATEST + 1))
        before = release1_rows()
        for table, cols in V1_TABLES.items():
            after = Counter(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                            for r in db.rows(f"SELECT {cols} FROM {table}"))
            assert after == before[table], table
        # the counters start from the records already held, each decision apart
        hours: Counter[tuple[str, int, str]] = Counter()
        for r in before["records"]:
            if r[4] == "pass":
                hours[(str(r[0]), math.floor(float(r[5]) / 3600), str(r[11]))] += 1   # type: ignore[arg-type]
        counted: Counter[tuple[str, int, str]] = Counter()
        for c in db.rows("SELECT kiosk_id, hour, passes, denies, manual_passes, manual_denies, emergency_opens "
                         "FROM counts"):
            for i, decision in enumerate(("pass", "deny", "manual_pass", "manual_deny", "emergency_open")):
                if c[i + 2]:
                    counted[(str(c[0]), int(c[1]), decision)] = int(c[i + 2])
        assert counted == hours and any(k[2] != "pass" for k in hours)
        assert {r[0]: r[1] for r in db.rows("SELECT kiosk_id, credential_kind FROM kiosks")} == \
            {"cp-001": "hmac-sha256", "cp-002": "hmac-sha256", "cp-003": "hmac-sha256"}
        secret = db.rows("SELECT secret FROM kiosks WHERE kiosk_id = 'cp-001'")[0][0]
    finally:
        db.close()
    assert StreetDB(release1, FakeClock(), upgrade=True).applied == []      # a second upgrade does nothing
    with StreetServer(release1) as server:      # the kiosk's old secret still signs; the gap 50..52 fills
        k = Signer(server.url, "cp-001", secret)
        gap = [rec("cp-001", "ep-A", s) for s in (50, 51, 52)]
        filled = k.post(protocol.RECORDS_PATH, batch("cp-001", "ep-A", gap))
        assert filled.status_code == 200, filled.text
        assert (filled.json()["stored"], filled.json()["acked_through"], filled.json()["gaps"]) == (3, 121, [])
        again = k.post(protocol.RECORDS_PATH, batch("cp-001", "ep-A", [rec("cp-001", "ep-A", 10)]))
        assert again.json()["duplicates"] == 1


def dump_digest(path: Path) -> str:
    """The database's content (schema and rows), whatever its journal mode."""
    conn = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


def test_the_cli_refuses_a_newer_schema_and_serve_refuses_an_older_one(tmp_path: Path) -> None:
    db = tmp_path / "street.db"
    shutil.copy(RELEASE1, db)
    digest = dump_digest(db)
    out = street_cli("serve", "--db", str(db), "--port", "0")
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert f"has schema 1, this server needs {migrate.LATEST}" in out.stderr
    assert "street-server db upgrade" in out.stderr
    assert dump_digest(db) == digest                                         # nothing written
    up = street_cli("db", "upgrade", "--db", str(db))
    assert up.returncode == 0 and "applied: 2 (district)" in up.stderr       # and every later one
    assert street_cli("db", "version", "--db", str(db)).stdout.startswith(f"{migrate.LATEST}\t")
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    for args in (["db", "upgrade"], ["kiosk", "list"], ["serve", "--port", "0"]):
        out = street_cli(*args, "--db", str(db))
        assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
        assert f"has schema 99, newer than this server's {migrate.LATEST}" in out.stderr


def test_both_engines_have_every_version() -> None:
    for kind in ("sqlite", "postgresql"):
        assert [m.version for m in migrate.migrations(kind)] == list(range(1, migrate.LATEST + 1))
