"""A damaged pass log is moved aside whole, and the kiosk starts a new one (T-DB-7).

Layout under ``[kiosk] state_dir`` (a contract: the sync client drains ``recovered/``)::

    quarantine/<UTC time>/       one damaged log: passes.db, passes.db-wal, passes.db-shm as they
                                 were found (never separated: a hot WAL belongs to its file),
                                 quarantine.json (why, which files, moving|moved) and, once
                                 recovery ran, recovery.json (what came back)
    recovered/<db_epoch>.db      the rows recovered from it, in the pass-log schema with their
                                 original kiosk_id, db_epoch and seq; complete when it appears
                                 (written aside, then renamed), read-only, never changed again

The trio is moved by renames listed first in ``quarantine.json``; a crash half-way is finished
by :func:`finish_interrupted` before the next open, so a stale ``-wal`` can never be replayed
onto the new log. :func:`prune` deletes both once the street server acknowledged every
recovered record, and in any case after ``store.retention_days``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kiosk.durable import fsync_dir, write_json
from kiosk.errors import StoreError
from kiosk.statefiles import quarantine_root

log = logging.getLogger("kiosk.passlog.quarantine")

MANIFEST = "quarantine.json"
REPORT = "recovery.json"
SUFFIXES = ("", "-wal", "-shm")


def quarantine(db_path: Path, reason: str, wall: float | None = None) -> Path:
    """Move the log and its -wal/-shm together into a new quarantine dir; return that dir."""
    db_path = Path(db_path)
    wall = time.time() if wall is None else wall
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall))
    root = quarantine_root(db_path)
    qdir = root / stamp
    n = 1
    while qdir.exists():
        n += 1
        qdir = root / f"{stamp}-{n}"
    files = [db_path.name + s for s in SUFFIXES if Path(str(db_path) + s).exists()]
    try:
        qdir.mkdir(parents=True)
        write_json(qdir / MANIFEST, {"state": "moving", "db": db_path.name, "files": files,
                                      "reason": reason, "wall": wall})
        fsync_dir(root)
        _move(db_path.parent, qdir, files)
    except OSError as exc:
        raise StoreError(f"cannot quarantine damaged pass log {db_path}: {exc.strerror or exc}") from None
    log.error("pass log %s quarantined to %s: %s", db_path, qdir, reason)
    return qdir


def finish_interrupted(db_path: Path) -> list[Path]:
    """Complete any quarantine a crash interrupted (before the log is opened again)."""
    done = []
    for qdir in _quarantines(db_path):
        manifest = read_json(qdir / MANIFEST)
        if manifest.get("state") != "moving":
            continue
        _move(Path(db_path).parent, qdir, [f for f in manifest.get("files", [])
                                           if (Path(db_path).parent / f).exists()])
        done.append(qdir)
        log.warning("finished the interrupted quarantine %s", qdir)
    return done


def pending(db_path: Path) -> list[Path]:
    """Quarantines whose recovery has not finished yet."""
    return [q for q in _quarantines(db_path)
            if read_json(q / MANIFEST).get("state") == "moved" and not (q / REPORT).exists()]


def spawn_recovery(qdir: Path, kiosk_id: str, recovered_dir: Path) -> subprocess.Popen[bytes]:
    """Recover in a separate, niced process: the page scan is CPU work the gate loop must not
    share a GIL with, and a crash there cannot touch the kiosk."""
    cmd = [sys.executable, "-m", "kiosk.passlog.recover", "--kiosk-id", kiosk_id, "--out", str(recovered_dir),
           str(qdir)]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, preexec_fn=lambda: os.nice(10))


def prune(db_path: Path, acked_through: dict[str, int], now_wall: float, keep_days: float) -> list[Path]:
    """Delete recovered logs the server fully acknowledged (and their quarantine dir), and any
    quarantine or recovered log older than ``keep_days`` (personal data has a retention limit)."""
    gone: list[Path] = []
    limit = now_wall - keep_days * 86400.0
    for qdir in _quarantines(db_path):
        manifest = read_json(qdir / MANIFEST)
        report = read_json(qdir / REPORT)
        if manifest.get("state") != "moved":
            continue
        outputs = [Path(p) for p in report.get("outputs", [])] if report else []
        acked = bool(report) and all(
            acked_through.get(o["db_epoch"], 0) >= o["last_seq"] for o in report.get("epochs", []))
        if acked or float(manifest.get("wall", now_wall)) < limit:
            for out in outputs:
                out.unlink(missing_ok=True)
                gone.append(out)
            shutil.rmtree(qdir, ignore_errors=True)
            gone.append(qdir)
    return gone


# ---------------------------------------------------------------------------- internals

def _quarantines(db_path: Path) -> list[Path]:
    root = quarantine_root(db_path)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / MANIFEST).exists())


def _move(src_dir: Path, qdir: Path, files: list[str]) -> None:
    for name in files:
        os.replace(src_dir / name, qdir / name)
    fsync_dir(src_dir)
    fsync_dir(qdir)
    manifest = read_json(qdir / MANIFEST)
    manifest["state"] = "moved"
    write_json(qdir / MANIFEST, manifest)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
