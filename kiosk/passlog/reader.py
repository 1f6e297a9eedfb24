"""Reading the pass log without ever writing it: the sync, `kiosk export`, `kiosk audit`, tests.

``mode=ro`` makes the connection unable to write or checkpoint, and :func:`iter_records` keeps
each read transaction short (a batch, then the statement is finished), so a reader never pins
the WAL and the writer's checkpoints and purges go through (docs/reliability.md). This module
is what the sync process may use of the pass log; the writer is kiosk/passlog/store.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kiosk.errors import StoreError

BUSY_TIMEOUT_MS = 5000


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that cannot write (the sync process, export, tests).

    The file is asked for its ``records`` table at once, so a file that is not a pass log (or
    not SQLite at all) is a :class:`StoreError` naming it here, before a command prints anything.
    """
    if not Path(path).exists():
        raise StoreError(f"pass log {path} does not exist")
    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise StoreError(f"pass log {path} cannot be opened: {exc}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("SELECT seq FROM records LIMIT 0").fetchall()
    except sqlite3.Error as exc:
        conn.close()
        text = str(exc)
        if "no such table" in text:
            raise StoreError(f"{path} is an SQLite database but not a pass log (no records table)") from None
        if "not a database" in text:
            raise StoreError(f"{path} is not a pass log: the file is not an SQLite database") from None
        raise StoreError(f"pass log {path} cannot be read: {text}") from None
    conn.row_factory = sqlite3.Row
    return conn


def iter_records(conn: sqlite3.Connection, after_seq: int = 0, since_wall: float | None = None,
                 batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Records in seq order, read in short transactions so a reader never pins the WAL."""
    last = after_seq
    while True:
        sql = "SELECT * FROM records WHERE seq > ?"
        args: list[Any] = [last]
        if since_wall is not None:
            sql += " AND wall_ts >= ?"
            args.append(since_wall)
        rows = conn.execute(sql + " ORDER BY seq LIMIT ?", (*args, batch)).fetchall()
        if not rows:
            return
        for r in rows:
            yield dict(r)
        last = rows[-1]["seq"]
