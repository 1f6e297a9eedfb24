"""The pass log's WAL checkpoint runs between passes (the housekeeper), not inside a pass's COMMIT,
and the log stays whole and recoverable from its WAL meanwhile (kiosk/passlog/store.py)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.core.records import Record
from kiosk.passlog.store import AUTOCHECKPOINT_PAGES, PassLog
from kiosk.service.assembly import assembled
from kiosk.service.housekeeping import CHECKPOINT_EVERY_S, Housekeeper
from kiosk.service.sdnotify import Notifier

DETAIL = "x" * 3000        # an alarm's detail, so each commit adds a page or two to the WAL


def main_file(path: Path) -> str:
    """The database file itself (not its WAL): changes only when a checkpoint copies pages in."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wal_frames(path: Path) -> int:
    return (path.with_name(path.name + "-wal").stat().st_size - 32) // (4096 + 24)


def test_commits_past_the_autocheckpoint_size_leave_the_database_file_alone_until_idle(
        cfg: Config, clock: FakeClock, tmp_path: Path) -> None:
    with assembled(cfg, clock) as kiosk:
        keeper = Housekeeper(kiosk, Notifier(""))
        keeper.cycle()
        before = main_file(cfg.db_path)
        n = 0
        while n < 2 * AUTOCHECKPOINT_PAGES and wal_frames(cfg.db_path) <= AUTOCHECKPOINT_PAGES + 50:
            kiosk.store.append(Record(kind="alarm", t=clock.monotonic(), device="disk", detail=DETAIL))
            n += 1
        # SQLite's own checkpoint would have run inside the COMMIT that crossed 1,000 pages
        assert main_file(cfg.db_path) == before
        assert kiosk.store.unchecked == n

        # a power cut now: the database file and its WAL as they are on the disk hold every record
        cut = tmp_path / "cut"
        cut.mkdir()
        for suffix in ("", "-wal"):
            shutil.copy(str(cfg.db_path) + suffix, cut / (cfg.db_path.name + suffix))
        conn = sqlite3.connect(cut / cfg.db_path.name)
        try:
            assert conn.execute("SELECT COUNT(*) FROM records WHERE kind = 'alarm'").fetchone()[0] >= n
            assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
        finally:
            conn.close()

        keeper.cycle()                                   # idle: the WAL goes into the database
        assert main_file(cfg.db_path) != before
        assert kiosk.store.unchecked == 0
        frames, done = kiosk.store.checkpoint()
        assert frames == done                            # nothing left behind

        after = main_file(cfg.db_path)
        kiosk.store.append(Record(kind="alarm", t=clock.monotonic(), device="disk", detail=DETAIL))
        keeper.cycle()                                   # not due again so soon (injected clock)
        assert main_file(cfg.db_path) == after and kiosk.store.unchecked == 1
        clock.advance(CHECKPOINT_EVERY_S)
        keeper.cycle()
        assert main_file(cfg.db_path) != after and kiosk.store.unchecked == 0
        last = kiosk.store.last_seq

    reopened = PassLog(cfg.db_path, kiosk_id=cfg.kiosk.id, gate=cfg.kiosk.gate, direction=cfg.kiosk.direction,
                       clock=clock)
    try:
        assert reopened.last_seq == last
    finally:
        reopened.close()


def test_the_automatic_checkpoint_stays_as_a_backstop(cfg: Config, clock: FakeClock) -> None:
    with assembled(cfg, clock) as kiosk:
        assert kiosk.store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == AUTOCHECKPOINT_PAGES
        Housekeeper(kiosk, Notifier(""))
        backstop = kiosk.store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert backstop > AUTOCHECKPOINT_PAGES
