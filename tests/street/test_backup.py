"""The restore drill, on both engines: back up while kiosks upload, restore into a new database,
and every record acknowledged before the backup began is there, once."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from street.server import StreetServer
from street.storage.db import StreetDB
from sync import protocol
from tests.pgcluster import PgCluster
from tests.street.procs import street_cli
from tests.synckit import Signer, batch, rec

BATCH = 20


def test_a_backup_taken_under_load_restores_every_acknowledged_record(
        db_target: str | Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    acked: list[tuple[str, str, int, str]] = []          # (kiosk, epoch, seq, digest) of acknowledged records
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Semaphore(0)
    with StreetServer(db_target) as server:
        def kiosk(kid: str) -> None:
            k = Signer(server.url, kid, server.db.add_kiosk(kid))
            epoch, seq = str(uuid.uuid4()), 0
            while not stop.is_set():
                records = [rec(kid, epoch, s) for s in range(seq + 1, seq + BATCH + 1)]
                r = k.post(protocol.RECORDS_PATH, batch(kid, epoch, records))
                assert r.status_code == 200, r.text
                seq += BATCH
                with lock:
                    acked.extend((kid, epoch, x["seq"], protocol.record_digest(x)) for x in records)
                enough.release()

        threads = [threading.Thread(target=kiosk, args=(f"k{i}",)) for i in range(3)]
        for t in threads:
            t.start()
        for _ in range(6):
            assert enough.acquire(timeout=60)
        with lock:
            before = list(acked)                       # acknowledged before the backup began
        out = street_cli("backup", str(tmp_path / "backup.bin"), "--db", str(db_target))
        assert out.returncode == 0, out.stderr
        assert (tmp_path / "backup.bin").stat().st_mode & 0o077 == 0     # the copy is as private as the database
        assert enough.acquire(timeout=60)              # uploads went on during the backup
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert "backed up" in out.stderr
    if isinstance(db_target, Path):
        restored: str | Path = tmp_path / "restored.db"
    else:
        cluster: PgCluster = request.getfixturevalue("pg")
        restored = cluster.create_db("restored")
        request.addfinalizer(lambda: cluster.drop_db(str(restored)))
    back = street_cli("restore", str(tmp_path / "backup.bin"), "--db", str(restored))
    assert back.returncode == 0, back.stderr
    db = StreetDB(restored, FakeClock())
    try:
        held = {(r[0], r[1], int(r[2])): r[3] for r in db.rows("SELECT kiosk_id, db_epoch, seq, digest FROM records")}
        assert all(held.get((k, e, s)) == d for k, e, s, d in before), "an acknowledged record is missing"
        assert len(before) <= len(held) <= len(acked)
        assert sum(db.duplicate_keys(f"k{i}") for i in range(3)) == 0
    finally:
        db.close()
    # a restore never replaces a database that holds data unless told so
    again = street_cli("restore", str(tmp_path / "backup.bin"), "--db", str(restored))
    assert again.returncode == 1 and "holds data" in again.stderr and again.stderr.count("\n") == 1
    assert street_cli("restore", str(tmp_path / "backup.bin"), "--db", str(restored), "--force").returncode == 0


def test_backup_and_restore_refuse_what_they_cannot_do(tmp_path: Path, pg: PgCluster, pg_street: str) -> None:
    db = tmp_path / "street.db"
    StreetDB(db, FakeClock()).close()
    (tmp_path / "taken").write_text("x")
    (tmp_path / "junk").write_bytes(b"not a backup at all")
    assert street_cli("backup", str(tmp_path / "sqlite.bak"), "--db", str(db)).returncode == 0
    for args, message in (
        (["backup", str(tmp_path / "taken"), "--db", str(db)], "already exists"),
        (["restore", str(tmp_path / "sqlite.bak"), "--db", pg.empty(pg_street)], "is a sqlite backup"),
        (["restore", str(tmp_path / "junk"), "--db", str(db)], "neither a SQLite backup nor a pg_dump"),
        (["restore", str(tmp_path / "missing"), "--db", str(db)], "cannot read backup"),
    ):
        out = street_cli(*args)
        assert out.returncode == 1 and out.stderr.count("\n") == 1 and message in out.stderr, out.stderr
