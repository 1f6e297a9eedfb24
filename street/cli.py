"""`street-server`: run the street or district server and manage its database and kiosks
(docs/contracts.md §1.2).

    street-server serve [--db PATH|URL] [--host H] [--port N] [--workers N] [--threads N] …
    street-server kiosk add ID [--street S --compound C --gate G …]   prints the kiosk's secret once
    street-server kiosk import ROSTER.csv --out DIR   registers a street's kiosks; one credential file each
    street-server duty import DUTY.csv                the hours each post must be staffed (replaces the last)
    street-server kiosk revoke ID
    street-server kiosk list [--street S] [--compound C]
    street-server bundle publish FILE --root-key root.pub [--street S]
    street-server db upgrade | db version | db migrate-to postgresql://…
    street-server backup DEST | restore SRC [--force]
    street-server tls init --dir DIR --name HOST [--name IP …] [--street NAME]
    street-server user add NAME --role street|district|inspector [--street S] | user passwd NAME | user list

``--db`` is a SQLite file (one street, the default ``./street.db`` or ``$STREET_DB``) or a
``postgresql://`` URL (a district). Bad input ends in one line on stderr and a non-zero exit,
never a traceback (``STREET_DEBUG=1`` shows one). What it says to a person is Chinese unless
``--lang en`` (anywhere on the line) or ``$STREET_LANG=en`` asks otherwise (street/i18n); the
lines other programs read — ``serving URL``, the printed credential, tab-separated lists — do not
change with the language. A ``--db`` file whose directory does not exist
is a typo, never a reason to create directories (and commands that read a database need an
existing one); a bundle is checked exactly as a kiosk will check it (kiosk.codes.bundle.load
against the street's root key, and a seq above the one published) before it is published.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import ipaddress
import logging
import os
import shutil
import signal
import sys
import tempfile
import zoneinfo
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.clock import SystemClock
from street import i18n
from street.errors import LanguageError, StreetError
from street.i18n import say as _
from street.i18n import say_n as ngettext
from street.registry import credentials, roster, server_key
from street.registry.places import Place, Scope
from street.storage import backup, migrate
from street.storage.db import Registration, StreetDB, is_url, open_engine
from sync import protocol, signing
from sync.errors import SyncError

DEFAULT_DB = "street.db"
DEFAULT_PORT = 8470
def _take_lang(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--lang X`` / ``--lang=X`` wherever it stands (before ``--``), and the rest of ``argv``."""
    lang: str | None = None
    rest: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            rest += [word, *words]
        elif word == "--lang":
            lang = next(words, "")
        elif word.startswith("--lang="):
            lang = word.partition("=")[2]
        else:
            rest.append(word)
    return lang, rest


def _place_args(sp: argparse.ArgumentParser, *, gate: bool = True) -> None:
    for name in ("district", "street", "compound", *(("gate",) if gate else ())):
        sp.add_argument(f"--{name}", default="", help=f"{name} code")
        sp.add_argument(f"--{name}-name", default="", help=f"{name} name (e.g. in Chinese)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="street-server", description="The street (or district) server: receives "
                                "kiosk logs, publishes trust bundles, shows the office its checkpoints.")
    p.add_argument("--lang", metavar="zh|en", help="language of the messages (default $STREET_LANG, else zh); "
                   "may stand anywhere on the line")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def with_db(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--db", default=os.environ.get("STREET_DB", DEFAULT_DB),
                        help=f"SQLite file or postgresql:// URL (default $STREET_DB or ./{DEFAULT_DB})")
        return sp

    def with_key(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--server-key", default=os.environ.get("STREET_SERVER_KEY"),
                        help="the server's Ed25519 key file, made (0600) on first use; it signs answers to "
                             f"kiosks (default $STREET_SERVER_KEY, or {server_key.DEFAULT} beside a SQLite --db)")
        return sp

    serve = with_key(with_db(sub.add_parser("serve", help="serve kiosks and the status page")))
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes (default 1; more than 1 needs PostgreSQL)")
    serve.add_argument("--threads", type=int, default=8, help="kiosk API threads per process (default 8)")
    serve.add_argument("--office-threads", type=int, default=2, help="status page threads per process (default 2)")
    serve.add_argument("--offline-after", type=float, default=1800.0,
                       help="a kiosk silent this many seconds shows as offline (default 1800)")
    serve.add_argument("--retention-days", type=float, default=21.0,
                       help="delete acknowledged records older than this many days, hourly (default 21, as the "
                            "kiosks; 0 keeps everything)")
    serve.add_argument("--tz", default="Asia/Shanghai",
                       help="time zone of the board, reports and alerts for streets without their own "
                            "(street tz); default Asia/Shanghai, like the kiosks, whatever the machine's clock zone")
    serve.add_argument("--alerts", type=Path, metavar="FILE",
                       help="alerts file: thresholds and channels (WeCom, DingTalk, webhook, mail; docs/alerts.md)")

    kiosk = sub.add_parser("kiosk", help="register, import, revoke or list kiosks")
    ksub = kiosk.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = with_key(with_db(ksub.add_parser("add", help="register a kiosk; prints its credential once")))
    add.add_argument("id")
    _place_args(add)
    imp = with_key(with_db(ksub.add_parser("import", help="register a roster CSV's kiosks; one credential file each")))
    imp.add_argument("roster", help="CSV: kiosk_id, street, compound, gate (+ district, *_name columns)")
    imp.add_argument("--out", required=True, help="folder for the kiosks' credential files (made mode 0700)")
    with_db(ksub.add_parser("revoke", help="revoke a kiosk's credential")).add_argument("id")
    ls = with_db(ksub.add_parser("list", help="list registered kiosks"))
    ls.add_argument("--street", help="only this street")
    ls.add_argument("--compound", help="only this compound (with --street)")

    duty = sub.add_parser("duty", help="the duty roster: the hours each post must be staffed")
    dusub = duty.add_subparsers(dest="action", metavar="ACTION", required=True)
    dimp = with_db(dusub.add_parser("import", help="replace the duty roster with a CSV's (kiosk_id,from,to)"))
    dimp.add_argument("roster", help="CSV: kiosk_id,from,to — local HH:MM, 24:00 for midnight; a post may have "
                                     "several rows (docs/street-office.md)")

    street = sub.add_parser("street", help="a street's time zone: its board's and reports' \"today\"")
    ssub = street.add_subparsers(dest="action", metavar="ACTION", required=True)
    stz = with_db(ssub.add_parser("tz", help="set a street's time zone (default: serve --tz)"))
    stz.add_argument("street", help="the street's code, as in the kiosk roster")
    stz.add_argument("zone", nargs="?", help="an IANA zone such as Asia/Shanghai")
    stz.add_argument("--clear", action="store_true", help="use the server's --tz again")
    with_db(ssub.add_parser("list", help="list streets and their time zones"))

    bundle = sub.add_parser("bundle", help="publish a trust bundle")
    bsub = bundle.add_subparsers(dest="action", metavar="ACTION", required=True)
    pub = with_db(bsub.add_parser("publish", help="check FILE as a kiosk would, then publish it"))
    pub.add_argument("file")
    pub.add_argument("--root-key", required=True,
                     help="the street's root public key (root.pub, the kiosks' trust anchor)")
    pub.add_argument("--street", help="for this street's kiosks only (default: every street without its own)")

    db = sub.add_parser("db", help="schema upgrades and moving a street into a district")
    dsub = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    with_db(dsub.add_parser("upgrade", help="upgrade the database's schema in place"))
    with_db(dsub.add_parser("version", help="print the database's schema version"))
    mig = with_db(dsub.add_parser("migrate-to", help="copy this street's SQLite database into a district's "
                                                     "PostgreSQL (stop the street server first)"))
    mig.add_argument("url", help="postgresql://user@host/district")
    _place_args(mig, gate=False)

    tls = sub.add_parser("tls", help="the street's CA and the server's TLS certificate")
    tsub = tls.add_subparsers(dest="action", metavar="ACTION", required=True)
    tinit = tsub.add_parser("init", help="make ca.key, ca.crt, server.key, server.crt in --dir")
    tinit.add_argument("--dir", required=True, help="an existing folder (the keys are written 0600)")
    tinit.add_argument("--street", default="checkpoint", help="the street's name in the CA certificate")
    tinit.add_argument("--name", action="append", required=True,
                       help="the server's host name or IP address as kiosks' server_url has it (repeatable)")

    user = sub.add_parser("user", help="office accounts: add, passwd, list (the password is read from stdin)")
    usub = user.add_subparsers(dest="action", metavar="ACTION", required=True)
    uadd = with_db(usub.add_parser("add", help="add an office account; its password from stdin"))
    uadd.add_argument("name")
    uadd.add_argument("--role", required=True, choices=("street", "district", "inspector"),
                      help="street: its street only; district: every street; inspector: read-only")
    uadd.add_argument("--street", help="the street of a street account (or to limit an inspector)")
    with_db(usub.add_parser("passwd", help="set an account's password (stdin); signs it out everywhere")
            ).add_argument("name")
    with_db(usub.add_parser("list", help="list office accounts"))

    back = with_db(sub.add_parser("backup", help="back the database up into DEST while it serves"))
    back.add_argument("dest")
    rest = with_db(sub.add_parser("restore", help="replace the database with backup SRC (server stopped)"))
    rest.add_argument("src")
    rest.add_argument("--force", action="store_true", help="replace a database that holds data")
    return p


def _db_path(text: str, *, existing: bool = False) -> str | Path:
    """``--db``: a URL as it is; a file's directory must exist (a typo creates nothing) and with
    ``existing`` the file too."""
    if is_url(text) or "://" in text:
        return text
    path = Path(text)
    parent = path.parent
    if not parent.is_dir():
        what = _("is not a directory") if parent.exists() else _("does not exist")
        raise StreetError(_("cannot open street database %(path)s: directory %(dir)s %(what)s")
                          % {"path": path, "dir": parent, "what": what})
    if existing and not path.is_file():
        raise StreetError(_("no street database at %(path)s (check --db; `street-server serve` or "
                            "`street-server kiosk add` creates one)") % {"path": path})
    return path


def _key(args: argparse.Namespace) -> Ed25519PrivateKey:
    """The server's answer-signing key (street/registry/server_key.py), made on first use."""
    if args.server_key:
        return server_key.load_or_create(Path(args.server_key))
    if is_url(args.db) or "://" in args.db:
        raise StreetError(_("a PostgreSQL --db needs --server-key FILE (or $STREET_SERVER_KEY): the same key file "
                            "on every server of the district"))
    return server_key.load_or_create(Path(args.db).parent / server_key.DEFAULT)


def _open(args: argparse.Namespace, *, existing: bool = True, **kw: object) -> StreetDB:
    return StreetDB(_db_path(args.db, existing=existing), SystemClock(assume_synced=True), pool_size=2,
                    **kw)      # type: ignore[arg-type]


def _shown(target: str) -> str:
    if is_url(target):
        from street.storage.postgres import display_url
        return display_url(target)
    return str(Path(target).resolve())


def _serve(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise StreetError(_("--port %(port)s is not a port number") % {"port": args.port})
    for name in ("threads", "office_threads"):
        if not 1 <= getattr(args, name) <= 256:
            raise StreetError(_("%(option)s must be between 1 and 256") % {"option": f"--{name.replace('_', '-')}"})
    if not 1 <= args.workers <= 64:
        raise StreetError(_("--workers must be between 1 and 64"))
    if not 0 <= args.retention_days <= 3650:
        raise StreetError(_("--retention-days must be between 0 (keep everything) and 3650"))
    if args.workers > 1 and not is_url(args.db):
        raise StreetError(_("--workers above 1 needs a PostgreSQL database (--db postgresql://…): "
                            "SQLite has one writer"))
    tz: dt.tzinfo | None = None
    if args.tz:
        try:
            tz = zoneinfo.ZoneInfo(args.tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise StreetError(_("--tz %(zone)r is not a known time zone") % {"zone": args.tz}) from None
    from street.alerts import settings as alert_settings
    alerts = alert_settings.load(args.alerts) if args.alerts else None
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from street.server import StreetServer, raise_fd_limit
    raise_fd_limit()
    target = _db_path(args.db)
    if args.workers > 1 or is_url(args.db):
        _open(args, existing=False).close()      # unreachable, wrong schema: one line now, not N failed workers
    key = _key(args)
    if not _loopback_host(args.host):
        print("street-server: " + _("warning: listening on %(host)s directly; put nginx in front "
                                    "(systemd/nginx/street-nginx.conf: TLS, timeouts, limits) and keep the server "
                                    "on 127.0.0.1") % {"host": args.host}, file=sys.stderr)
    if args.workers > 1:
        from street.workers import Settings, serve
        return serve(Settings(args.db, args.host, args.port, args.workers, args.threads, args.office_threads,
                              args.offline_after, tz, args.server_key, args.retention_days, alerts),
                     _shown(args.db))   # _key checked the key file
    server = StreetServer(target, args.host, args.port, threads=args.threads, office_threads=args.office_threads,
                          offline_after=args.offline_after, tz=tz, server_key=key,
                          retention_days=args.retention_days, alerts=alerts)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server._stop.set())
    # the contract's first line (docs/contracts.md §1.2), read by scripts and tests: never translated
    print(f"street-server: serving {server.url} (database {_shown(args.db)})", flush=True)
    server.serve()
    return 0


def _loopback_host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _place(args: argparse.Namespace, *, gate: bool = True) -> Place:
    fields = ("district", "street", "compound", *(("gate",) if gate else ()))
    return Place(**{f: getattr(args, f) for f in fields}, **{f"{f}_name": getattr(args, f"{f}_name") for f in fields})


def _kiosk(args: argparse.Namespace) -> int:
    if args.action == "import":
        return _import(args)
    db = _open(args, existing=args.action != "add")
    try:
        if args.action == "add":
            public = signing.public_bytes(_key(args))
            print(db.add_kiosk(args.id, _place(args).check(), public))
            print("street-server: " + _("kiosk %(id)s registered. Its credential (the kiosk's private key and "
                                        "this server's public key) is shown only once: put both lines in the "
                                        "kiosk's [sync] secret_file (mode 0600) or its LoadCredential= file.")
                  % {"id": args.id}, file=sys.stderr)
        elif args.action == "revoke":
            db.revoke_kiosk(args.id)
            print("street-server: " + _("kiosk %(id)s revoked") % {"id": args.id}, file=sys.stderr)
        else:
            for k in db.kiosks(Scope(street=args.street, compound=args.compound)):
                state = "revoked" if k["revoked"] is not None else "active"
                print("\t".join([k["kiosk_id"], state, k["street_id"] or "", k["compound_id"] or "",
                                 k["gate_id"] or "", k["gate_name"] or ""]))
    finally:
        db.close()
    return 0


def _import(args: argparse.Namespace) -> int:
    """Check the roster, write every credential file into a fresh folder beside ``--out``, register
    all kiosks in one transaction, and only then move the files into ``--out``: a refused roster
    or registration leaves neither kiosks nor files behind."""
    entries = roster.read(Path(args.roster))
    out = Path(args.out)
    public = signing.public_bytes(_key(args))
    regs = [Registration(e.kiosk_id, e.place, credentials.issue(public)) for e in entries]
    names = [r.kiosk_id + r.credential.file_suffix for r in regs]
    if out.exists() and not out.is_dir():
        raise StreetError(_("--out %(out)s is not a folder") % {"out": out})
    clash = [n for n in names if (out / n).exists()]
    if clash:
        raise StreetError(_("--out %(out)s already holds %(files)s: choose an empty folder")
                          % {"out": out, "files": ", ".join(clash[:5])})
    if not out.parent.is_dir():
        raise StreetError(_("--out %(out)s: folder %(dir)s does not exist") % {"out": out, "dir": out.parent})
    db = _open(args, existing=False)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.import-", dir=out.parent))
        try:
            for name, reg in zip(names, regs, strict=True):
                fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(reg.credential.kiosk_file)
                    f.flush()
                    os.fsync(f.fileno())
            db.register(regs)
            from street.storage import zones
            for street, tz in sorted({(e.place.street, e.street_tz) for e in entries if e.street_tz}):
                zones.set_street_zone(db, street, tz)        # checked with the roster: a valid zone
            if out.exists():
                for name in names:
                    os.link(staging / name, out / name)       # never replaces a file
            else:
                staging.rename(out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        db.close()
    streets = {e.place.street for e in entries}
    compounds = {(e.place.street, e.place.compound) for e in entries}
    print("street-server: " + _("registered %(kiosks)s kiosks in %(streets)s and %(compounds)s; their credential "
                                "files are in %(out)s/ (<kiosk id>%(suffix)s, mode 0600): copy each to its kiosk's "
                                "[sync] secret_file")
          % {"kiosks": len(entries), "out": out, "suffix": regs[0].credential.file_suffix,
             "streets": ngettext("%(n)s street", "%(n)s streets", len(streets)) % {"n": len(streets)},
             "compounds": ngettext("%(n)s compound", "%(n)s compounds", len(compounds)) % {"n": len(compounds)}},
          file=sys.stderr)
    return 0


def _bundle(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StreetError(_("cannot read bundle %(path)s: %(error)s")
                          % {"path": path, "error": exc.strerror or exc}) from None
    if not data:
        raise StreetError(_("bundle %(path)s is empty") % {"path": path})
    if len(data) > protocol.MAX_BUNDLE_BYTES:
        raise StreetError(_("bundle %(path)s is larger than %(mib)s MiB")
                          % {"path": path, "mib": protocol.MAX_BUNDLE_BYTES // (1024 * 1024)})
    from kiosk.codes import bundle as bundle_mod
    from kiosk.codes.keys import load_public
    root = load_public(Path(args.root_key))
    try:
        checked = bundle_mod.load(data, root)
    except ValueError as exc:
        raise StreetError(_("bundle %(path)s refused, not published: %(error)s")
                          % {"path": path, "error": exc}) from None
    db = _open(args)
    try:
        latest = db.latest_bundle(args.street or None)
        if latest is not None:
            try:
                held = bundle_mod.load(latest[1], root).seq
            except ValueError:
                held = None         # published under another root: the new one replaces it
            if held is not None and checked.seq <= held:
                raise StreetError(_("bundle %(path)s has seq %(seq)s, not above the published seq %(held)s: "
                                    "kiosks would refuse it as a rollback")
                                  % {"path": path, "seq": checked.seq, "held": held})
        etag = db.publish_bundle(data, args.street or None)
    finally:
        db.close()
    print("street-server: " + _("published %(path)s (%(what)s, %(bytes)s bytes) as %(etag)s")
          % {"path": path, "what": checked.describe(), "bytes": len(data), "etag": etag}, file=sys.stderr)
    return 0


def _db(args: argparse.Namespace) -> int:
    if args.action == "version":
        engine = open_engine(_db_path(args.db, existing=True), 1)
        try:
            print(f"{engine.schema_version()}\t(this server: {migrate.LATEST})")
        finally:
            engine.close()
        return 0
    if args.action == "upgrade":
        db = _open(args, upgrade=True)
        db.close()
        done = ", ".join(f"{m.version} ({m.name})" for m in db.applied) or _("nothing to do")
        print("street-server: " + _("%(db)s is at schema %(version)s; applied: %(done)s")
              % {"db": _shown(args.db), "version": migrate.LATEST, "done": done}, file=sys.stderr)
        return 0
    if is_url(args.db):
        raise StreetError(_("db migrate-to moves a street's SQLite file (--db PATH) into PostgreSQL"))
    if not is_url(args.url):
        raise StreetError(_("%(url)r is not a postgresql:// URL") % {"url": args.url})
    from street.storage.transfer import migrate_to
    moved = migrate_to(Path(_db_path(args.db, existing=True)), args.url, _place(args, gate=False))
    from street.storage.postgres import display_url
    print("street-server: " + _("moved %(kiosks)s kiosks and %(records)s records of %(streets)s into %(url)s")
          % {"kiosks": moved.rows["kiosks"], "records": moved.rows["records"],
             "streets": ", ".join(moved.streets) or _("the street"), "url": display_url(args.url)}, file=sys.stderr)
    return 0


def _backup(args: argparse.Namespace) -> int:
    db = _open(args)
    try:
        done = backup.backup(db, Path(args.dest))
    finally:
        db.close()
    print("street-server: " + _("backed up %(records)s records (%(kind)s) to %(path)s")
          % {"records": done.records, "kind": done.kind, "path": done.path}, file=sys.stderr)
    return 0


def _restore(args: argparse.Namespace) -> int:
    done = backup.restore(Path(args.src), _db_path(args.db), force=args.force)
    print("street-server: " + _("restored %(records)s records into %(db)s")
          % {"records": done.records, "db": _shown(args.db)}, file=sys.stderr)
    return 0


def _duty(args: argparse.Namespace) -> int:
    from street.registry import duty
    from street.storage import daily
    db = _open(args)
    try:
        hours = duty.read(Path(args.roster), {r["kiosk_id"] for r in db.kiosks()})
        daily.save_duty(db, hours)
    finally:
        db.close()
    print("street-server: " + _("duty roster of %(posts)s posts, %(stretches)s stretches of hours")
          % {"posts": len(hours), "stretches": sum(map(len, hours.values()))}, file=sys.stderr)
    return 0


def _street(args: argparse.Namespace) -> int:
    from street.storage import zones
    db = _open(args)
    try:
        if args.action == "list":
            for street, tz in zones.street_zones(db).items():
                print(f"{street}\t{tz or '-'}")
            return 0
        if (args.zone is None) == (not args.clear):
            raise StreetError("give a zone (e.g. Asia/Shanghai) or --clear, not both")
        zones.set_street_zone(db, args.street, None if args.clear else args.zone)
    finally:
        db.close()
    print(f"street-server: street {args.street} now reads its day in {args.zone or 'the server zone (serve --tz)'}",
          file=sys.stderr)
    return 0


def _read_password() -> str:
    """The new password: typed twice at a terminal, else the first line of stdin (never argv,
    which every user of the machine can read in ps)."""
    if sys.stdin.isatty():
        first = getpass.getpass(_("password: "))
        if getpass.getpass(_("again: ")) != first:
            raise StreetError(_("the two passwords differ"))
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _tls(args: argparse.Namespace) -> int:
    from street.registry import tls
    made = tls.init(Path(args.dir), args.street, args.name)
    print("street-server: " + _("made %(files)s in %(dir)s: give nginx server.crt and server.key, every kiosk "
                                "ca.crt ([sync] ca_file), and keep ca.key offline")
          % {"files": ", ".join(made.names), "dir": made.folder}, file=sys.stderr)
    return 0


def _user(args: argparse.Namespace) -> int:
    from street.office.accounts import Accounts
    db = _open(args, existing=args.action != "add")
    try:
        accounts = Accounts(db, SystemClock(assume_synced=True))
        if args.action == "add":
            accounts.add(args.name, _read_password(), args.role, args.street or None)
            print("street-server: " + _("office account %(name)s (%(role)s) added")
                  % {"name": args.name, "role": args.role}, file=sys.stderr)
        elif args.action == "passwd":
            accounts.set_password(args.name, _read_password())
            print("street-server: " + _("password of %(name)s changed; its sessions are closed") % {"name": args.name},
                  file=sys.stderr)
        else:
            for name, role, street in accounts.users():
                print(f"{name}\t{role}\t{street}")
    finally:
        db.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    lang, rest = _take_lang(list(sys.argv[1:] if argv is None else argv))
    try:
        i18n.use_terminal(lang)
    except LanguageError as exc:
        where = "" if lang is not None else f"${i18n.ENV_VAR}: "
        print(f"street-server: {where}{exc}", file=sys.stderr)
        return 2
    args = _parser().parse_args(rest)
    try:
        return {"serve": _serve, "kiosk": _kiosk, "bundle": _bundle, "db": _db, "backup": _backup,
                "restore": _restore, "duty": _duty, "user": _user, "tls": _tls, "street": _street}[args.command](args)
    except (SyncError, OSError, ValueError) as exc:
        if os.environ.get("STREET_DEBUG"):
            raise
        print(f"street-server {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
