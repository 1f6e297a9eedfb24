"""The SQLite engine: one street on one file, nothing to install (the default).

WAL with ``synchronous=FULL``: an answer of 200 tells a kiosk it may purge what it sent, so every
acknowledged write is on disk before the answer leaves — the same rule as the kiosk's own log
(docs/reliability.md §1). SQLite has one writer: writes are serialised by a process-wide lock
around ``BEGIN IMMEDIATE`` (the busy timeout covers a command run from another process, e.g.
`street-server kiosk add`). Readers never wait for the writer (WAL). One connection per thread.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from street.errors import ServerStoreError, StoreUnavailable
from street.storage.engine import Row

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


class SQLiteTx:
    """Statements of one transaction on a sqlite3 connection (``?`` placeholders as they are)."""

    def __init__(self, conn: sqlite3.Connection, locked: Row | None = None) -> None:
        self.conn = conn
        self.locked = locked          # the locked kiosk's (revoked, last_contact)

    def notify(self, channel: str, payload: str) -> None:
        """Nothing: one server process, which reads the registry per request (no copy to drop)."""

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def insert(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]], tail: str = "") -> None:
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) {tail}",
                              rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(sql, params).fetchall()


class SQLiteEngine:
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self._local = threading.local()
        self._write = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        try:
            _create_private(self.path)
            self.conn().execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()   # an unreadable file fails here
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise ServerStoreError(f"cannot open street database {self.path}: {_why(exc)}") from None

    def conn(self) -> sqlite3.Connection:
        c: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(str(self.path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                                check_same_thread=False)
            c.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = FULL")
            c.execute("PRAGMA temp_store = MEMORY")
            c.execute("PRAGMA secure_delete = ON")          # purged records are overwritten, not left in free pages
            c.row_factory = sqlite3.Row
            self._local.conn = c
            self._all.append(c)
        return c

    def write(self, fn: Callable[[SQLiteTx], T], lock: str | None = None, durable: bool = True) -> T:
        # every commit is durable here, ``durable=False`` too: ``synchronous`` is a connection's
        # setting in SQLite, not a transaction's, and one street's heartbeats are few
        with self._write:
            conn = self.conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"street database {self.path} is busy: {exc}") from None
            try:
                locked = None if lock is None else conn.execute(
                    "SELECT revoked, last_contact FROM kiosks WHERE kiosk_id = ?", (lock,)).fetchone()
                out = fn(SQLiteTx(conn, locked))
                conn.execute("COMMIT")
                return out
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):      # locked, full, I/O error
                    raise StoreUnavailable(f"street database {self.path}: {exc}") from None
                raise

    def watch(self, channel: str, on_change: Callable[[str | None, bool], None]) -> bool:
        """No change feed: another process (`street-server kiosk revoke`) writes the same file
        unannounced, so the registry is read per request (in-process: microseconds)."""
        return False

    def read(self, fn: Callable[[SQLiteTx], T], snapshot: bool = False) -> T:     # a read in WAL is one snapshot
        conn = self.conn()
        try:
            conn.execute("BEGIN")
            try:
                return fn(SQLiteTx(conn))
            finally:
                conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"street database {self.path}: {exc}") from None

    def schema_version(self) -> int:
        conn = self.conn()
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
            return 0
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def apply(self, version: int, script: str) -> bool:
        """Statement by statement (``sqlite3.complete_statement`` finds their ends) inside one
        ``BEGIN IMMEDIATE``: SQLite's DDL is transactional, so a failed step leaves nothing."""
        with self._write:
            conn = self.conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self.schema_version() >= version:
                    conn.execute("ROLLBACK")
                    return False
                buf = ""
                for line in script.splitlines(keepends=True):
                    buf += line
                    if sqlite3.complete_statement(buf):
                        conn.execute(buf)
                        buf = ""
                if buf.strip():
                    conn.execute(buf)
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                             "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(version),))
                conn.execute("COMMIT")
                return True
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        for c in self._all:
            try:
                c.close()
            except sqlite3.Error:
                pass
        self._all = []
        self._local = threading.local()


def _create_private(path: Path) -> None:
    """Create the database file 0600 whatever the umask (SQLite gives its -wal and -shm files the
    database's own mode); an existing file is left as it is."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
