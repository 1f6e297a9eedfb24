"""Purged pseudonyms leave the file bytes (T-PRIV-3): the database and its -wal are read from
disk while the kiosk still runs, also when the sync's reader pinned the WAL during the purge.
(The 1,000-pass canary through every file, log and HTTP body, T-PRIV-1, is phase 2.)"""

from __future__ import annotations

import json

from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.core import actions as A
from kiosk.core.records import Reading, Record
from kiosk.core.verdict import CodeVerdict
from kiosk.passlog.reader import connect_readonly
from kiosk.passlog.store import WIPE_BUSY_TIMEOUT_MS
from kiosk.service.assembly import assembled
from kiosk.service.housekeeping import DISK_CHECK_S, Housekeeper
from kiosk.service.sdnotify import Notifier

PURGED = "5ec12e7000c0ffee" * 2          # holder pseudonym of the old, acknowledged passes
KEPT = "0123456789abcdef" * 2


def files(cfg: Config) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(cfg.db_path.parent.glob("passes.db*"))}


def leaks(cfg: Config, needle: str) -> list[str]:
    return [name for name, data in files(cfg).items() if needle.encode() in data]


def passes(kiosk, clock: FakeClock, holder: str, n: int) -> None:
    for i in range(n):
        verdict = CodeVerdict(reason="ok", kind="dynamic", colour="green", token_hash=f"{holder[:8]}{i:08d}",
                              holder_ref=holder)
        record = Record(kind="pass", t=clock.monotonic(), decision="pass", cause="ok", verdict=verdict,
                        reading=Reading(36.5, 5, 0.1, 20.0, "normal"))
        kiosk.executor.run([A.Store(record)])
        clock.advance(60)


def test_purge_overwrites_pseudonyms_in_the_db_and_wal_even_if_a_reader_pinned_the_wal(
        cfg: Config, clock: FakeClock) -> None:
    with assembled(cfg, clock) as k:
        passes(k, clock, PURGED, 200)
        clock.advance(8 * 86400)
        passes(k, clock, KEPT, 5)
        (cfg.kiosk.state_dir / "sync-state.json").write_text(
            json.dumps({"acked_through": {k.store.db_epoch: 200}}))
        assert leaks(cfg, PURGED)                                   # it is there before the purge
        reader = connect_readonly(k.store.path)                     # the sync, mid-read
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM records").fetchone()
        keeper = Housekeeper(k, Notifier(""))
        keeper.cycle()                                              # purge soon after start
        assert k.store.conn.execute("SELECT COUNT(*) FROM records WHERE holder_ref = ?",
                                    (PURGED,)).fetchone()[0] == 0
        assert k.store.wipe_pending                                 # the reader blocked the TRUNCATE
        reader.execute("COMMIT")
        reader.close()
        clock.advance(DISK_CHECK_S)
        keeper.cycle()                                              # the housekeeper tries again
        assert not k.store.wipe_pending
        live = files(cfg)
        assert live.get("passes.db-wal", b"") == b""                # WAL truncated while running
        assert leaks(cfg, PURGED) == []                             # db, -wal and -shm, kiosk running
        assert "passes.db" in leaks(cfg, KEPT)                      # the unacknowledged rows stay
    assert leaks(cfg, PURGED) == []                                 # and after a clean stop


def test_the_wal_wipe_never_waits_the_full_busy_timeout(cfg: Config, clock: FakeClock) -> None:
    """With a reader pinning the WAL, the TRUNCATE checkpoint runs under a 100 ms busy timeout
    (not the writer's 5 s, which would stall the gate loop) and says it did not finish."""
    with assembled(cfg, clock) as k:
        passes(k, clock, PURGED, 20)
        reader = connect_readonly(k.store.path)
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM records").fetchone()
        passes(k, clock, KEPT, 1)
        sql: list[str] = []
        k.store.conn.set_trace_callback(sql.append)
        assert k.store.wipe_wal() is False
        k.store.conn.set_trace_callback(None)
        assert sql == [f"PRAGMA busy_timeout = {WIPE_BUSY_TIMEOUT_MS}", "PRAGMA wal_checkpoint(TRUNCATE)",
                       "PRAGMA busy_timeout = 5000"]
        assert WIPE_BUSY_TIMEOUT_MS <= 200
        reader.close()
        assert k.store.wipe_wal() is True
