"""`street-server`: run the street server and manage kiosk credentials (docs/contracts.md §1).

    street-server serve [--db PATH] [--host 127.0.0.1] [--port N]
    street-server kiosk add ID        prints the kiosk's new secret once, on stdout
    street-server kiosk revoke ID
    street-server kiosk list
    street-server bundle publish FILE --root-key root.pub

Bad input ends in one line on stderr and a non-zero exit, never a traceback
(``STREET_DEBUG=1`` shows one). A ``--db`` whose directory does not exist is a typo, never a
reason to create directories (and `kiosk list`/`revoke` and `bundle publish` need an existing
database); a bundle is checked exactly as a kiosk will check it (kiosk.codes.bundle.load against
the street's root key, and a seq above the one published) before it is published.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import sys
import zoneinfo
from collections.abc import Sequence
from pathlib import Path

from kiosk.clock import SystemClock
from street.errors import StreetError
from street.server import StreetServer
from street.storage.db import StreetDB
from sync import protocol
from sync.errors import SyncError

DEFAULT_DB = "street.db"
DEFAULT_PORT = 8470


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="street-server", description="The street server: receives kiosk logs, "
                                "publishes the trust bundle, shows the street status page.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def with_db(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--db", default=os.environ.get("STREET_DB", DEFAULT_DB),
                        help=f"street database file (default $STREET_DB or ./{DEFAULT_DB})")
        return sp

    serve = with_db(sub.add_parser("serve", help="serve kiosks and the status page"))
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    serve.add_argument("--offline-after", type=float, default=1800.0,
                       help="a kiosk silent this many seconds shows as offline (default 1800)")
    serve.add_argument("--tz", help="time zone of the status page, e.g. Asia/Shanghai (default: local)")

    kiosk = sub.add_parser("kiosk", help="register, revoke or list kiosks")
    ksub = kiosk.add_subparsers(dest="action", metavar="ACTION", required=True)
    with_db(ksub.add_parser("add", help="register a kiosk; prints its secret once")).add_argument("id")
    with_db(ksub.add_parser("revoke", help="revoke a kiosk's credential")).add_argument("id")
    with_db(ksub.add_parser("list", help="list registered kiosks"))

    bundle = sub.add_parser("bundle", help="publish a trust bundle")
    bsub = bundle.add_subparsers(dest="action", metavar="ACTION", required=True)
    publish = with_db(bsub.add_parser("publish", help="check FILE as a kiosk would, then publish it"))
    publish.add_argument("file")
    publish.add_argument("--root-key", required=True,
                         help="the street's root public key (root.pub, the kiosks' trust anchor)")
    return p


def _db_path(text: str, *, existing: bool = False) -> Path:
    """``--db``: its directory must exist (a typo creates nothing); ``existing``: the file too."""
    path = Path(text)
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise StreetError(f"cannot open street database {path}: directory {parent} {what}")
    if existing and not path.is_file():
        raise StreetError(f"no street database at {path} (check --db; `street-server serve` or "
                          "`street-server kiosk add` creates one)")
    return path


def _serve(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise StreetError(f"--port {args.port} is not a port number")
    if not 1 <= args.threads <= 256:
        raise StreetError("--threads must be between 1 and 256")
    tz: dt.tzinfo | None = None
    if args.tz:
        try:
            tz = zoneinfo.ZoneInfo(args.tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise StreetError(f"--tz {args.tz!r} is not a known time zone") from None
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server = StreetServer(_db_path(args.db), args.host, args.port, threads=args.threads,
                          offline_after=args.offline_after, tz=tz)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server._stop.set())
    print(f"street-server: serving {server.url} (database {Path(args.db).resolve()})", flush=True)
    server.serve()
    return 0


def _kiosk(args: argparse.Namespace) -> int:
    db = StreetDB(_db_path(args.db, existing=args.action != "add"), SystemClock(assume_synced=True))
    try:
        if args.action == "add":
            secret = db.add_kiosk(args.id)
            print(secret)
            print(f"street-server: kiosk {args.id} registered. This secret is shown only once: put it in the "
                  "kiosk's [sync] secret_file (mode 0600) or its LoadCredential= file.", file=sys.stderr)
        elif args.action == "revoke":
            db.revoke_kiosk(args.id)
            print(f"street-server: kiosk {args.id} revoked", file=sys.stderr)
        else:
            for k in db.kiosks():
                state = "revoked" if k["revoked"] is not None else "active"
                print(f"{k['kiosk_id']}\t{state}")
    finally:
        db.close()
    return 0


def _bundle(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StreetError(f"cannot read bundle {path}: {exc.strerror or exc}") from None
    if not data:
        raise StreetError(f"bundle {path} is empty")
    if len(data) > protocol.MAX_BUNDLE_BYTES:
        raise StreetError(f"bundle {path} is larger than {protocol.MAX_BUNDLE_BYTES // (1024 * 1024)} MiB")
    from kiosk.codes import bundle as bundle_mod
    from kiosk.codes.keys import load_public
    root = load_public(Path(args.root_key))
    try:
        checked = bundle_mod.load(data, root)
    except ValueError as exc:
        raise StreetError(f"bundle {path} refused, not published: {exc}") from None
    db = StreetDB(_db_path(args.db, existing=True), SystemClock(assume_synced=True))
    try:
        latest = db.latest_bundle()
        if latest is not None:
            try:
                held = bundle_mod.load(latest[1], root).seq
            except ValueError:
                held = None         # published under another root: the new one replaces it
            if held is not None and checked.seq <= held:
                raise StreetError(f"bundle {path} has seq {checked.seq}, not above the published seq {held}: "
                                  "kiosks would refuse it as a rollback")
        etag = db.publish_bundle(data)
    finally:
        db.close()
    print(f"street-server: published {path} ({checked.describe()}, {len(data)} bytes) as {etag}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"serve": _serve, "kiosk": _kiosk, "bundle": _bundle}[args.command](args)
    except (SyncError, OSError, ValueError) as exc:
        if os.environ.get("STREET_DEBUG"):
            raise
        print(f"street-server {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
