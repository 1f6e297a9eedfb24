"""Turn a quarantined pass log into a recovered log the sync can upload.

The kiosk runs this by itself (``python -m kiosk.passlog.recover``, a niced child process) right
after quarantining a damaged log, and again at start for any quarantine left unrecovered;
technicians run it by hand with `kiosk recover` (kiosk/cli/recover.py). Records keep their original ``kiosk_id``,
``db_epoch`` and ``seq``, so uploading them again is safe: the street server's unique key
``(kiosk_id, db_epoch, seq)`` drops every record it already holds (docs/reliability.md §1.5).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sqlite3
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from kiosk.durable import fsync_dir, write_json
from kiosk.errors import KioskError
from kiosk.passlog.quarantine import MANIFEST, REPORT, read_json
from kiosk.passlog.salvage import salvage
from kiosk.passlog.store import create_schema, insert_rows
from kiosk.schema import COLUMNS

CHUNK = 1000


def recover(qdir: Path, kiosk_id: str, recovered_dir: Path) -> dict[str, Any]:
    """Salvage ``qdir``'s log into ``recovered_dir/<db_epoch>.db``; write and return the report."""
    manifest = read_json(qdir / MANIFEST)
    if manifest.get("state") != "moved":
        raise KioskError(f"{qdir} is not a finished quarantine (no {MANIFEST} in state 'moved')")
    db = qdir / str(manifest.get("db", "passes.db"))
    found = salvage(db, Path(str(db) + "-wal"), kiosk_id)
    by_epoch: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for seq in sorted(found.records):
        rec = found.records[seq]
        by_epoch[rec["db_epoch"]].append(rec)
    recovered_dir.mkdir(parents=True, exist_ok=True)
    epochs = []
    for epoch, rows in sorted(by_epoch.items()):
        seqs = [r["seq"] for r in rows]
        missing = _gaps(seqs)
        out = recovered_dir / f"{epoch}.db"
        _write_log(out, kiosk_id, epoch, rows, {
            "recovered_from": qdir.name, "recovered_rows": str(len(rows)),
            "recovered_missing": json.dumps(missing), "read_only": "1"})
        epochs.append({"db_epoch": epoch, "rows": len(rows), "first_seq": seqs[0], "last_seq": seqs[-1],
                       "missing": missing, "output": str(out)})
    report = {"epochs": epochs, "outputs": [e["output"] for e in epochs],
              "old_meta": {k: v for k, v in found.meta.items() if k in ("db_epoch", "kiosk_id", "seq_floor")},
              "pages": found.pages, "leaf_pages": found.leaf_pages, "bad_cells": found.bad_cells,
              "conflicts": found.conflicts, "finished_wall": time.time()}
    write_json(qdir / REPORT, report)
    return report


def _gaps(seqs: list[int]) -> list[list[int]]:
    gaps = []
    for a, b in itertools.pairwise(seqs):
        if b > a + 1:
            gaps.append([a + 1, b - 1])
    return gaps


def _write_log(out: Path, kiosk_id: str, epoch: str, rows: list[dict[str, Any]], meta: dict[str, str]) -> None:
    """Build the log beside its final name, make it read-only and durable, then rename it in."""
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("BEGIN IMMEDIATE")
        create_schema(conn, kiosk_id=kiosk_id, db_epoch=epoch, created_wall=time.time(), extra_meta=meta)
        conn.execute("COMMIT")
        for i in range(0, len(rows), CHUNK):
            insert_rows(conn, [{c: r.get(c) for c in COLUMNS} for r in rows[i:i + CHUNK]])
        top = max(r["seq"] for r in rows)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'seq_floor'", (str(top),))
    finally:
        conn.close()
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o444)
    os.replace(tmp, out)
    fsync_dir(out.parent)



def summary(qdir: Path, report: dict[str, Any]) -> str:
    if not report["epochs"]:
        return f"{qdir.name}: nothing recoverable ({report['pages']} pages read)"
    parts = [f"epoch {e['db_epoch']}: {e['rows']} records, seq {e['first_seq']}..{e['last_seq']}"
             + (f", missing {e['missing']}" if e["missing"] else "") for e in report["epochs"]]
    return f"{qdir.name}: " + "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Entry of the child process the kiosk starts (no config: it is told what to do)."""
    p = argparse.ArgumentParser(prog="python -m kiosk.passlog.recover")
    p.add_argument("--kiosk-id", required=True)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("qdirs", nargs="+", type=Path)
    args = p.parse_args(argv)
    status = 0
    for qdir in args.qdirs:
        try:
            print(summary(qdir, recover(qdir, args.kiosk_id, args.out)), flush=True)
        except (KioskError, OSError, sqlite3.Error) as exc:
            print(f"{qdir}: recovery failed: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
