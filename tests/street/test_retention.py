"""Issue 14, attack 5: the server kept every record for ever, in a file others could read (both
engines; the file modes on SQLite)."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

from street.server import StreetServer
from street.storage.retention import purge_once
from sync import protocol
from tests.synckit import Signer, batch, rec


def test_acknowledged_records_past_retention_go_and_unacknowledged_ones_stay(db_target: str | Path,
                                                                            tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        server = StreetServer(db_target)
    finally:
        os.umask(old)
    with server:
        k = Signer(server.url, "k1", server.db.add_kiosk("k1"))
        recs = [rec("k1", "e1", s) for s in range(1, 11)] + [rec("k1", "e1", 20)]     # 11..19 not yet here
        assert k.post(protocol.RECORDS_PATH, batch("k1", "e1", recs)).json()["acked_through"] == 10
        fresh = [rec("k1", "e2", 1, wall_ts=time.time())]
        assert k.post(protocol.RECORDS_PATH, batch("k1", "e2", fresh)).status_code == 200
        assert purge_once(server.db, server.clock, 21) == 10
        left = server.db.rows("SELECT db_epoch, seq FROM records ORDER BY db_epoch, seq")
        assert [(r[0], r[1]) for r in left] == [("e1", 20), ("e2", 1)]
        assert purge_once(server.db, server.clock, 21) == 0
    if not isinstance(db_target, Path):
        return
    for name in ("street.db", "street.db-wal", "street.db-shm"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    with sqlite3.connect(db_target) as conn:
        assert conn.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 2
