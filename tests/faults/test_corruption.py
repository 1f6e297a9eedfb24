"""A damaged pass log at start (T-DB-7): detected, quarantined whole, a new db_epoch writing at
once with an alarm, the gate working, and the old records recovered for upload with their
original (kiosk_id, db_epoch, seq)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.passlog.quarantine import MANIFEST, REPORT
from kiosk.passlog.reader import connect_readonly, iter_records
from kiosk.passlog.salvage import salvage
from kiosk.passlog.store import PAGE_SIZE
from kiosk.service.assembly import assembled
from kiosk.service.housekeeping import DISK_CHECK_S, Housekeeper
from kiosk.service.sdnotify import Notifier
from kiosk.statefiles import quarantine_root, recovered_root
from sync.logreader import LogReader
from tests.conftest import ManualTimers
from tests.faults.support import check_log, decide_pass, relay_ons
from tests.paths import REPO


def crashed_log(cfg: Config, clock: FakeClock, checkpointed: int = 300,
                in_wal: int = 60) -> tuple[str, list[dict[str, Any]]]:
    """A log as a crash leaves it: some rows checkpointed into the file, the newest only in the
    WAL. Returns its epoch and every row."""
    with assembled(cfg, clock) as k:
        for i in range(checkpointed):
            decide_pass(k, f"old{i:04d}")
            clock.advance(1.0)
        k.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for i in range(in_wal):
            decide_pass(k, f"wal{i:04d}")
            clock.advance(1.0)
        epoch = k.store.db_epoch
        rows = [dict(r) for r in iter_records(connect_readonly(k.store.path))]
        image = {s: Path(f"{cfg.db_path}{s}").read_bytes() for s in ("", "-wal", "-shm")}
    for s, data in image.items():                       # put back the files as they were before close
        Path(f"{cfg.db_path}{s}").write_bytes(data)
    return epoch, rows


def damage(path: Path, page: int) -> None:
    data = bytearray(path.read_bytes())
    data[(page - 1) * PAGE_SIZE:page * PAGE_SIZE] = b"\xa5" * PAGE_SIZE
    path.write_bytes(bytes(data))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wait_recoveries(kiosk: Any) -> None:
    for _qdir, proc in kiosk.recoveries:
        assert proc.wait(timeout=120) == 0


def test_a_damaged_log_is_quarantined_whole_and_its_records_recovered(cfg: Config, clock: FakeClock,
                                                                       timers: ManualTimers) -> None:
    old_epoch, rows = crashed_log(cfg, clock)
    pages = cfg.db_path.stat().st_size // PAGE_SIZE
    victim = pages // 2
    damage(cfg.db_path, victim)
    before = {s: digest(Path(f"{cfg.db_path}{s}")) for s in ("", "-wal", "-shm")}

    with assembled(cfg, clock, timers) as k:
        assert k.store.db_epoch != old_epoch                        # a new log, writing at once
        [qdir] = sorted(quarantine_root(cfg.db_path).iterdir())
        assert {s: digest(qdir / f"passes.db{s}") for s in ("", "-wal", "-shm")} == before
        assert json.loads((qdir / MANIFEST).read_text())["state"] == "moved"
        first = check_log(k.store.path).rows[0]
        assert (first["seq"], first["kind"], first["device"]) == (1, "alarm", "store")
        assert qdir.name in first["detail"] and first["db_epoch"] == k.store.db_epoch
        opened = relay_ons(k)
        decide_pass(k, "after-quarantine")                          # the gate keeps working
        assert relay_ons(k) == opened + 1
        wait_recoveries(k)
        clock.advance(DISK_CHECK_S)
        Housekeeper(k, Notifier("")).cycle()                        # the kiosk reports the recovery
        alarms = [r["detail"] for r in check_log(k.store.path).rows if r["kind"] == "alarm"]
        assert any(a.startswith(f"recovered from {qdir.name}:") for a in alarms)

    out = recovered_root(cfg.db_path) / f"{old_epoch}.db"
    assert stat.S_IMODE(out.stat().st_mode) == 0o444
    conn = connect_readonly(out)                                    # what the sync will read
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    got = list(iter_records(conn))
    assert meta["kiosk_id"] == cfg.kiosk.id and meta["db_epoch"] == old_epoch
    original = {r["seq"]: r for r in rows}
    assert all(original[r["seq"]] == r for r in got)                # rows exactly as they were
    lost = set(original) - {r["seq"] for r in got}
    assert 0 < len(lost) < 40                                       # one leaf page's worth, no more
    assert {r["seq"] for r in got} >= {r["seq"] for r in rows if r["token_hash"].startswith("wal")}
    assert json.loads(meta["recovered_missing"]) == json.loads((qdir / REPORT).read_text())["epochs"][0]["missing"]
    if lost:
        assert [min(lost), max(lost)] in json.loads(meta["recovered_missing"])
    with LogReader(out, cfg.kiosk.id) as reader:                    # the sync's own reader takes it as is
        batch = reader.batch(0, 500)
        assert batch is not None and reader.db_epoch == old_epoch
        assert [r["seq"] for r in batch.records] == [r["seq"] for r in got][:len(batch.records)]


def test_a_lost_header_page_is_still_recovered(cfg: Config, clock: FakeClock) -> None:
    old_epoch, rows = crashed_log(cfg, clock, checkpointed=200, in_wal=0)
    damage(cfg.db_path, 1)                                          # "file is not a database"
    with assembled(cfg, clock) as k:
        assert k.store.db_epoch != old_epoch
        wait_recoveries(k)
    got = list(iter_records(connect_readonly(recovered_root(cfg.db_path) / f"{old_epoch}.db")))
    assert got == rows                                              # page 1 held no records


def test_an_interrupted_quarantine_is_finished_before_the_new_log_opens(cfg: Config, clock: FakeClock) -> None:
    old_epoch, rows = crashed_log(cfg, clock, checkpointed=50, in_wal=30)
    root = quarantine_root(cfg.db_path)
    qdir = root / "20260101T000000Z"
    qdir.mkdir(parents=True)
    (qdir / MANIFEST).write_text(json.dumps({"state": "moving", "db": "passes.db", "wall": clock.wall(),
                                             "files": ["passes.db", "passes.db-wal", "passes.db-shm"],
                                             "reason": "test"}))
    os.replace(cfg.db_path, qdir / "passes.db")                     # the crash came after the first rename
    with assembled(cfg, clock) as k:
        assert sorted(p.name for p in qdir.iterdir()) == [
            "passes.db", "passes.db-shm", "passes.db-wal", MANIFEST]
        new = check_log(k.store.path).rows
        assert [r["kind"] for r in new] == ["alarm"]                # the stale WAL was not replayed
        wait_recoveries(k)
    got = list(iter_records(connect_readonly(recovered_root(cfg.db_path) / f"{old_epoch}.db")))
    assert got == rows


def test_recovered_logs_are_deleted_once_uploaded_or_past_retention(cfg: Config, clock: FakeClock) -> None:
    old_epoch, _rows = crashed_log(cfg, clock, checkpointed=40, in_wal=0)
    damage(cfg.db_path, 1)
    with assembled(cfg, clock) as k:
        wait_recoveries(k)
        out = recovered_root(cfg.db_path) / f"{old_epoch}.db"
        keeper = Housekeeper(k, Notifier(""))
        (cfg.kiosk.state_dir / "sync-state.json").write_text(json.dumps({"acked_through": {old_epoch: 39}}))
        keeper.request_purge()
        keeper.cycle()
        assert out.exists()                                         # one record not yet on the server
        (cfg.kiosk.state_dir / "sync-state.json").write_text(json.dumps({"acked_through": {old_epoch: 40}}))
        keeper.request_purge()
        keeper.cycle()
        assert not out.exists() and not any(quarantine_root(cfg.db_path).iterdir())


def test_kiosk_recover_command(cfg: Config, clock: FakeClock, tmp_path: Path) -> None:
    old_epoch, _rows = crashed_log(cfg, clock, checkpointed=30, in_wal=0)
    damage(cfg.db_path, 1)
    from kiosk.passlog import quarantine
    quarantine.quarantine(cfg.db_path, "test", clock.wall())
    toml = tmp_path / "k.toml"
    toml.write_text(f'[kiosk]\nid = "{cfg.kiosk.id}"\nstate_dir = "{cfg.kiosk.state_dir}"\n'
                    f'runtime_dir = "{cfg.kiosk.runtime_dir}"\n')
    run = lambda: subprocess.run([sys.executable, "-m", "kiosk", "recover", "--config", str(toml)],  # noqa: E731
                                 cwd=REPO, capture_output=True, text=True, timeout=60)
    done = run()
    assert done.returncode == 0, done.stderr
    assert f"epoch {old_epoch}: 30 records, seq 1..30" in done.stdout
    assert "no quarantined pass log waits for recovery" in run().stdout


def test_salvage_reads_exactly_what_sqlite_reads(cfg: Config, clock: FakeClock) -> None:
    _epoch, rows = crashed_log(cfg, clock, checkpointed=120, in_wal=40)
    found = salvage(cfg.db_path, Path(f"{cfg.db_path}-wal"), cfg.kiosk.id)
    assert [found.records[s] for s in sorted(found.records)] == rows
    assert found.conflicts == 0 and found.meta["kiosk_id"] == cfg.kiosk.id


@pytest.mark.parametrize("junk", [b"", b"\x00" * 5000, b"SQLite format 3\x00" + b"\xff" * 9000])
def test_salvage_of_garbage_finds_nothing_and_does_not_raise(tmp_path: Path, junk: bytes) -> None:
    (tmp_path / "p.db").write_bytes(junk)
    (tmp_path / "p.db-wal").write_bytes(junk[:100])
    assert salvage(tmp_path / "p.db", tmp_path / "p.db-wal", "k").records == {}
