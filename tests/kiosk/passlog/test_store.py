"""The pass log on real SQLite files: settings, gap-free seq across restarts, failures that store nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from kiosk.clock import FakeClock
from kiosk.core.records import Reading, Record
from kiosk.core.verdict import CodeVerdict
from kiosk.errors import StoreCorrupt, StoreError, StoreFull, StoreMismatch
from kiosk.passlog.reader import connect_readonly, iter_records
from kiosk.passlog.store import PassLog


def open_log(path: Path, clock: FakeClock, kiosk_id: str = "k1", **kw: object) -> PassLog:
    return PassLog(path, kiosk_id=kiosk_id, gate="north", direction="in", clock=clock, **kw)  # type: ignore[arg-type]


def a_pass(t: float) -> Record:
    v = CodeVerdict(reason="ok", kind="dynamic", colour="green", kid="ab", issuer="s", token_hash="11" * 16,
                    holder_ref="22" * 16)
    return Record(kind="pass", t=t, decision="pass", cause="ok", verdict=v,
                  reading=Reading(36.61, 5, 0.2, 21.0, "normal", 36.1))


def test_writer_settings(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path / "p.db", clock, max_db_mb=8)
    q = lambda sql: log.conn.execute(sql).fetchone()[0]  # noqa: E731
    assert q("PRAGMA journal_mode") == "wal"
    assert q("PRAGMA synchronous") == 2            # FULL
    assert q("PRAGMA busy_timeout") >= 5000
    assert q("PRAGMA foreign_keys") == 1
    assert q("PRAGMA secure_delete") == 1
    assert q("PRAGMA max_page_count") == 8 * 1024 * 1024 // 4096
    log.close()


def test_row_carries_identity_clocks_and_the_decision(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path / "p.db", clock)
    t = clock.monotonic()
    clock.advance(0.004)
    seq = log.append(a_pass(t))
    row = dict(connect_readonly(log.path).execute("SELECT * FROM records WHERE seq = ?", (seq,)).fetchone())
    assert row["kiosk_id"] == "k1" and row["db_epoch"] == log.db_epoch and row["gate"] == "north"
    assert row["wall_ts"] == clock.wall() and row["clock_synced"] == 1 and row["boot_id"] == "fake-boot"
    assert row["mono_ns"] == int(clock.monotonic() * 1e9)
    assert (row["decision"], row["cause"], row["colour"], row["temp_c"], row["temp_samples"]) == \
        ("pass", "ok", "green", 36.61, 5)
    assert row["latency_ms"] == pytest.approx(4.0)
    log.close()


def test_seq_is_gap_free_across_restarts_and_the_epoch_is_kept(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "p.db"
    log = open_log(path, clock)
    epoch = log.db_epoch
    assert [log.append(a_pass(clock.monotonic())) for _ in range(3)] == [1, 2, 3]
    log.close()
    log = open_log(path, clock)
    assert log.db_epoch == epoch and log.append(a_pass(clock.monotonic())) == 4
    log.close()
    rows = list(iter_records(connect_readonly(path), batch=2))
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]


def test_after_purging_every_record_and_a_restart_seq_goes_on(tmp_path: Path, clock: FakeClock) -> None:
    """The server keys records by (kiosk_id, db_epoch, seq): a purged seq reused would be a duplicate key."""
    path = tmp_path / "p.db"
    log = open_log(path, clock)
    assert [log.append(a_pass(clock.monotonic())) for _ in range(5)] == [1, 2, 3, 4, 5]
    clock.advance(8 * 86400)
    assert log.purge(clock.wall() - 86400, {log.db_epoch: 5}) == 5
    log.close()
    log = open_log(path, clock)                          # the kiosk restarts on an empty table
    assert log.last_seq == 5 and log.append(a_pass(clock.monotonic())) == 6
    log.close()


def test_a_failed_write_stores_nothing_and_consumes_no_seq(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path / "p.db", clock)
    log.append(a_pass(clock.monotonic()))
    pages = log.conn.execute("PRAGMA page_count").fetchone()[0]
    log.conn.execute(f"PRAGMA max_page_count = {pages}")        # the cap is reached
    with pytest.raises(StoreFull):
        for _ in range(200):
            log.append(Record(kind="alarm", t=clock.monotonic(), detail="x" * 3000))
    stored = log.conn.execute("SELECT COUNT(*), MAX(seq) FROM records").fetchone()
    assert stored[1] == stored[0] == log.last_seq             # what was reported stored is stored, no gap
    log.conn.execute("PRAGMA max_page_count = 100000")        # space returns
    assert log.append(a_pass(clock.monotonic())) == stored[1] + 1
    assert log.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    log.close()


def test_another_kiosks_log_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    open_log(tmp_path / "p.db", clock, kiosk_id="k1").close()
    with pytest.raises(StoreMismatch, match="belongs to kiosk 'k1'"):
        open_log(tmp_path / "p.db", clock, kiosk_id="k2")


def test_unwritable_and_garbage_files(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(StoreError, match="cannot open pass log"):
        open_log(Path("/proc/no/such/dir/p.db"), clock)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 200)
    with pytest.raises(StoreCorrupt):
        open_log(junk, clock)


def test_damaged_page_is_detected_at_open(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "p.db"
    log = open_log(path, clock)
    for _ in range(300):
        log.append(a_pass(clock.monotonic()))
    log.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    log.close()
    data = bytearray(path.read_bytes())
    data[4096 * 3: 4096 * 3 + 64] = b"\xa5" * 64      # scribble over a b-tree page header
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt, match=r"integrity|damaged"):
        open_log(path, clock)


def test_readers_cannot_write(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path / "p.db", clock)
    log.append(a_pass(clock.monotonic()))
    ro = connect_readonly(log.path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.execute("DELETE FROM records")
    log.close()


def test_schema_is_readable_with_sqlite_utils(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path / "p.db", clock)
    log.append(a_pass(clock.monotonic()))
    log.append(Record(kind="fault", t=clock.monotonic(), device="camera", detail="no frames"))
    log.close()
    db = sqlite_utils.Database(tmp_path / "p.db")
    assert {"records", "meta"} <= set(db.table_names()) and "passes" in db.view_names()
    assert db.table("records").pks == ["seq"]
    rows = list(db.query("select decision, wall_time from passes"))
    assert rows == [{"decision": "pass", "wall_time": rows[0]["wall_time"]}] and rows[0]["wall_time"].startswith("2026")
