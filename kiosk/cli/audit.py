"""`kiosk audit verify`: check the override audit trail of the pass log (kiosk/passlog/audit.py).

Exit 0 when every override and shift record since the anchor links correctly and the
append-only triggers are in place; exit 1 naming the first bad record otherwise. Works on the
live log (read-only, next to the running kiosk) and on an offline copy (``--db``).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from kiosk import config as config_mod
from kiosk.errors import StoreError
from kiosk.i18n import _
from kiosk.passlog import audit
from kiosk.passlog.reader import connect_readonly


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    v = sub.add_parser("verify", help="check the hash chain of override and shift records")
    v.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    v.add_argument("--db", help="check this pass log file instead of the configured one")
    v.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    db = Path(args.db) if args.db else config_mod.load(args.config).db_path
    conn = connect_readonly(db)
    try:
        report = audit.verify(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(_("pass log {db} cannot be read: {error}").format(db=db, error=exc)) from None
    finally:
        conn.close()
    if args.json:
        print(json.dumps({"ok": report.ok, "checked": report.checked, "first_seq": report.first_seq,
                          "last_seq": report.last_seq, "anchor_seq": report.anchor_seq,
                          "bad_seq": report.problem.seq if report.problem else None,
                          "problem": report.problem.message if report.problem else None}))
    if report.problem is not None:
        print(f"kiosk audit verify: {db}: {report.problem.message}", file=sys.stderr)
        return 1
    if not args.json:
        span = f" (seq {report.first_seq} … {report.last_seq})" if report.checked else ""
        print(_("audit trail ok: {checked} override and shift records{span}, "
                "chained from the anchor at seq {anchor}").format(
            checked=report.checked, span=span, anchor=report.anchor_seq))
    return 0
