"""Retire the pass log of a kiosk id no longer in use, so the kiosk starts a new one under its new id.

The log refuses to be opened under another id (``StoreMismatch``): its records are keyed
``(kiosk_id, db_epoch, seq)`` on the street server, so they cannot simply be relabelled. A
deliberate id change therefore moves, unchanged and together, everything that belongs to the
old id into ``<dir of the log>/retired/<UTC time>-<old id>/``: the log with its ``-wal`` and
``-shm``, the sync's state (it is the old id's), and the logs quarantined or recovered under the
old id. Nothing is deleted; the records that the street server has not acknowledged yet are
counted, and retiring them is refused unless the caller says so (``force``): upload them first
under the old id. The kiosk must be stopped: only its process may hold the log open for writing.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.durable import fsync_dir
from kiosk.errors import StoreError
from kiosk.passlog.reader import connect_readonly
from kiosk.statefiles import SYNC_STATE, quarantine_root, read_sync_progress, recovered_root, retired_root

SUFFIXES = ("", "-wal", "-shm")


@dataclass(frozen=True)
class LogOwner:
    """Whose a pass log is, and how much of it the street server holds."""

    kiosk_id: str
    db_epoch: str
    last_seq: int
    unacked: int


def owner(db_path: Path, state_dir: Path) -> LogOwner:
    """Read (only) who a pass log belongs to and how many of its records are not yet acknowledged."""
    conn = connect_readonly(db_path)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        acked = read_sync_progress(state_dir).acked_through.get(str(meta.get("db_epoch")), 0)
        last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0]
        unacked = conn.execute("SELECT COUNT(*) FROM records WHERE seq > ?", (acked,)).fetchone()[0]
    except sqlite3.Error as exc:
        raise StoreError(f"pass log {db_path} cannot be read: {exc}") from None
    finally:
        conn.close()
    return LogOwner(str(meta.get("kiosk_id")), str(meta.get("db_epoch")), int(last), int(unacked))


def retire(db_path: Path, state_dir: Path, *, wall: float | None = None) -> Path:
    """Move the old id's log and everything bound to that id aside; return where it went."""
    db_path = Path(db_path)
    who = owner(db_path, state_dir)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if wall is None else wall))
    target = retired_root(db_path) / f"{stamp}-{who.kiosk_id}"
    moves = [(Path(str(db_path) + s), target / (db_path.name + s)) for s in SUFFIXES]
    moves += [(Path(state_dir) / SYNC_STATE, target / SYNC_STATE),
              (quarantine_root(db_path), target / quarantine_root(db_path).name),
              (recovered_root(db_path), target / recovered_root(db_path).name)]
    try:
        target.mkdir(parents=True)
        for src, dst in moves:
            if src.exists():
                os.replace(src, dst)
        fsync_dir(db_path.parent)
        fsync_dir(target)
    except OSError as exc:
        raise StoreError(f"cannot retire pass log {db_path} to {target}: {exc.strerror or exc}") from None
    return target
