"""Online backups and restores (`street-server backup DEST`, `street-server restore SRC`).

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the database in one step
under one read snapshot while the server keeps writing (WAL: the copy never blocks a writer);
the copy is checked (``PRAGMA integrity_check``), flushed and renamed into place.
PostgreSQL: ``pg_dump --format=custom``, one consistent snapshot of the whole database while
the server keeps writing; the dump is checked by listing it (``pg_restore --list``). The
password travels in the environment, never on a command line others can read.

Either way a backup holds every record acknowledged before it started. A backup never
overwrites a file; a restore refuses a database that holds data unless told ``--force``, and a
backup of the other engine (move a street into a district with `db migrate-to`).
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kiosk.durable import fsync_dir
from street.errors import BackupError
from street.storage import migrate
from street.storage.db import StreetDB, is_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


@dataclass(frozen=True)
class Summary:
    kind: str
    records: int
    path: Path


def pg_tool(name: str) -> str:
    """``pg_dump`` / ``pg_restore``: on PATH (Debian's wrapper picks the newest client), else the
    newest under /usr/lib/postgresql."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    if found is None:
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client)")
    return found


def pg_args(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and an environment holding it."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    parts = conninfo_to_dict(url)
    env = dict(os.environ)
    password = parts.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in parts.items()}), env


def _run(args: list[str], env: dict[str, str] | None = None) -> None:
    try:
        out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=6 * 3600)
    except OSError as exc:
        raise BackupError(f"cannot run {args[0]}: {exc.strerror or exc}") from None
    if out.returncode != 0:
        lines = [ln for ln in (out.stderr or out.stdout).strip().splitlines() if ln.strip()]
        raise BackupError(f"{Path(args[0]).name} failed: {lines[0] if lines else f'exit {out.returncode}'}")


def _read_only(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro"


def _records(db: StreetDB) -> int:
    return int(db.rows("SELECT COUNT(*) FROM records")[0][0])


def backup(db: StreetDB, dest: Path) -> Summary:
    """Back ``db`` up into the new file ``dest``."""
    if dest.exists():
        raise BackupError(f"{dest} already exists (a backup never overwrites; choose a new name)")
    tmp = dest.with_name(f".{dest.name}.partial")
    tmp.unlink(missing_ok=True)
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))   # 0600 whatever the umask: it holds
        if db.engine.kind == "sqlite":                                         # every record and credential
            src = sqlite3.connect(_read_only(Path(db.where)), uri=True)
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
                check = dst.execute("PRAGMA integrity_check").fetchone()[0]
                records = int(dst.execute("SELECT COUNT(*) FROM records").fetchone()[0])
            finally:
                dst.close()
                src.close()
            if check != "ok":
                raise BackupError(f"the copy of {db.where} does not pass integrity_check: {check}")
        else:
            conninfo, env = pg_args(db.engine.url)          # type: ignore[attr-defined]
            records = _records(db)
            _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={tmp}",
                  f"--dbname={conninfo}"], env)
            _run([pg_tool("pg_restore"), "--list", str(tmp)])
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.rename(tmp, dest)
        fsync_dir(dest.parent)
    except (OSError, sqlite3.Error) as exc:
        raise BackupError(f"cannot write backup {dest}: {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return Summary(db.engine.kind, records, dest)


def kind_of(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise BackupError(f"cannot read backup {path}: {exc.strerror or exc}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is neither a SQLite backup nor a pg_dump archive")


def restore(src: Path, target: str | Path, *, force: bool = False) -> Summary:
    """Replace the database at ``target`` with the backup ``src`` (the server must be stopped)."""
    kind = kind_of(src)
    target_kind = "postgresql" if is_url(target) else "sqlite"
    if kind != target_kind:
        hint = " (street-server db migrate-to moves a street into PostgreSQL)" if kind == "sqlite" else ""
        raise BackupError(f"{src} is a {kind} backup; it cannot be restored into a {target_kind} database{hint}")
    if kind == "sqlite":
        return _restore_sqlite(src, Path(target), force)
    return _restore_pg(src, str(target), force)


def _holds_data(target: str | Path) -> bool:
    from street.storage.db import open_engine
    engine = open_engine(target)
    try:
        if engine.schema_version() == 0:
            return False
        return bool(engine.read(lambda tx: tx.one("SELECT 1 FROM kiosks UNION ALL SELECT 1 FROM records LIMIT 1")))
    finally:
        engine.close()


def _restore_sqlite(src: Path, target: Path, force: bool) -> Summary:
    try:
        b = sqlite3.connect(_read_only(src), uri=True)
        try:
            check = b.execute("PRAGMA integrity_check").fetchone()[0]
            row = b.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        finally:
            b.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{src} is not a readable street database backup: {exc}") from None
    if check != "ok":
        raise BackupError(f"{src} does not pass integrity_check: {check}")
    if row is None or int(row[0]) > migrate.LATEST:
        raise BackupError(f"{src} has schema {row[0] if row else '?'}; this server knows up to {migrate.LATEST}")
    if target.exists() and _holds_data(target) and not force:
        raise BackupError(f"{target} holds data; stop the server and pass --force to replace it")
    try:
        b = sqlite3.connect(_read_only(src), uri=True)
        dst = sqlite3.connect(target)
        try:
            b.backup(dst)
            records = int(dst.execute("SELECT COUNT(*) FROM records").fetchone()[0])
        finally:
            dst.close()
            b.close()
    except (OSError, sqlite3.Error) as exc:
        raise BackupError(f"cannot restore into {target}: {getattr(exc, 'strerror', None) or exc}") from None
    return Summary("sqlite", records, target)


def _restore_pg(src: Path, url: str, force: bool) -> Summary:
    if _holds_data(url) and not force:
        from street.storage.postgres import display_url
        raise BackupError(f"{display_url(url)} holds data; stop the servers and pass --force to replace it")
    conninfo, env = pg_args(url)
    _run([pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={conninfo}", str(src)], env)
    from kiosk.clock import SystemClock
    db = StreetDB(url, SystemClock(assume_synced=True), pool_size=1)
    try:
        return Summary("postgresql", _records(db), src)
    finally:
        db.close()
