"""`kiosk export`: the pass log as CSV or JSON lines on stdout, read-only (safe while running)."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sqlite3
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from kiosk import config as config_mod
from kiosk.errors import ConfigError, StoreError
from kiosk.i18n import _
from kiosk.passlog.reader import connect_readonly, iter_records
from kiosk.schema import COLUMNS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    p.add_argument("--db", help="pass log to read (default: the configured one)")
    p.add_argument("--since", help="only records at or after this date/time (ISO 8601; without a zone, in the "
                                   "kiosk's local time zone, kiosk.timezone)")
    p.add_argument("--tz", help="time zone for --since and the wall_time column (default: kiosk.timezone of the "
                                "config, else Asia/Shanghai)")
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json lines")


def parse_since(text: str, tz: dt.tzinfo = dt.UTC) -> float:
    """``text`` as a Unix time; a date or time without a zone is in ``tz`` (the kiosk's local day)."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(_("--since {text!r} is not an ISO date such as 2026-11-29 or 2026-11-29T08:00").format(
            text=text)) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.timestamp()


def with_wall_time(rows: Iterable[dict[str, Any]], tz: dt.tzinfo = dt.UTC) -> Iterable[dict[str, Any]]:
    for row in rows:
        iso = dt.datetime.fromtimestamp(row["wall_ts"], tz).isoformat(timespec="milliseconds")
        yield {"wall_time": iso, **row}


def write(rows: Iterable[dict[str, Any]], fmt: str, out: TextIO) -> int:
    n = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=["wall_time", *COLUMNS], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            n += 1
    else:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config) if args.config or not args.db else None
    path = Path(args.db) if args.db else cfg.db_path if cfg else Path()
    tz = config_mod.zone(args.tz, "--tz") if args.tz else cfg.kiosk.tzinfo if cfg else config_mod.KioskSection().tzinfo
    since = parse_since(args.since, tz) if args.since else None
    conn = connect_readonly(path)
    try:
        write(with_wall_time(iter_records(conn, since_wall=since), tz), args.format, sys.stdout)
    except sqlite3.Error as exc:        # a page damaged half-way through the file
        raise StoreError(_("pass log {db} cannot be read: {error}").format(db=path, error=exc)) from None
    finally:
        conn.close()
    return 0
