"""The PostgreSQL engine: a district's streets in one database, several server processes writing.

Why psycopg 3 (docs/street-server.md §2): it is the maintained successor of psycopg2 by the
same authors, speaks libpq (server-side parameters, COPY for bulk moves, pipeline mode for
``executemany``), ships inline type hints, and its pool (psycopg-pool) checks a connection
before handing it out, so a restarted PostgreSQL costs one reconnect instead of a failed
request per pooled connection. No ORM: the street database's SQL is small, hand-written and
shared with SQLite (street/storage/engine.py).

Each process keeps a small pool, opened after gunicorn forks its workers; its connections are in
autocommit mode, so a plain read costs its statements alone and a write opens its own
transaction. Commits are durable before the answer (PostgreSQL's default ``synchronous_commit =
on``), except a heartbeat's (``write(durable=False)``: docs/street-server.md §3.2). A write
holds its kiosk's registry row (``SELECT … FOR UPDATE``) for the whole transaction: the same
kiosk's overlapping retries, arriving at two processes, take turns, and each sees the other's
committed rows (READ COMMITTED takes a new snapshot per statement, after the lock is granted).
"""

from __future__ import annotations

import functools
import re
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import psycopg
import psycopg.errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout

from street.errors import ServerStoreError, StoreUnavailable
from street.storage.engine import Row
from street.storage.pg_listen import Listener, OnChange

T = TypeVar("T")
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 10.0
RETRIES = 5                      # a transaction PostgreSQL aborted on its own (deadlock, serialization)
PING_IDLE_S = 2.0                # a pooled connection idle this long is pinged before use
MIGRATION_LOCK = 0x5354_5245     # pg_advisory_xact_lock key: one upgrade at a time ("STRE")


# A write's lock on its kiosk's registry row, reading what the write needs from it.
_LOCK = "SELECT revoked, last_contact FROM kiosks WHERE kiosk_id = %s FOR UPDATE"
# ... and for a heartbeat, also ``SET LOCAL synchronous_commit = off`` (set_config's third argument:
# this transaction only); were the row missing the commit would simply stay synchronous
_LOCK_ASYNC = ("SELECT revoked, last_contact, set_config('synchronous_commit', 'off', true) FROM kiosks "
               "WHERE kiosk_id = %s FOR UPDATE")

_PASSWORD = re.compile(r"(://[^:/@\s\"']*:)[^@\s\"']*@|(password\s*=\s*)\S+", re.I)


def scrub(text: str) -> str:
    """A driver's message without any password it quoted (libpq quotes a malformed URL whole)."""
    return _PASSWORD.sub(lambda m: (m.group(1) or m.group(2)) + "***" + ("@" if m.group(1) else ""), text)


def display_url(url: str) -> str:
    """The URL as it may be shown: user, host, port and database, never the password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://…"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "")
    port = f":{parts['port']}" if parts.get("port") else ""
    if host.startswith("/"):
        return f"postgresql://{user}/{parts.get('dbname', '')}?host={host}"
    return f"postgresql://{user}{host}{port}/{parts.get('dbname', '')}"


class PgRow(tuple[Any, ...]):
    """A row readable by position and by column name, like sqlite3.Row."""

    names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[PgRow]:
    """One row class per column list (made once, not per query)."""
    return type("Row", (PgRow,), {"names": {n: i for i, n in enumerate(names)}, "__slots__": ()})


def _row_factory(cursor: Any) -> RowMaker[PgRow]:
    cls = _row_class(tuple(c.name for c in cursor.description or ()))
    return lambda values: cls(values)


@functools.lru_cache(maxsize=512)
def _dialect(sql: str) -> str:
    """``?`` placeholders → psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgTx:
    def __init__(self, cur: psycopg.Cursor[PgRow], types: dict[str, dict[str, str]],
                 locked: Row | None = None) -> None:
        self.cur = cur
        self.types = types            # table → column → SQL type, read from the catalog once
        self.locked = locked          # the locked kiosk's (revoked, last_contact), read with its lock

    def notify(self, channel: str, payload: str) -> None:
        """Delivered to every listening process when (and only if) this transaction commits."""
        self.cur.execute("SELECT pg_notify(%s, %s)", (channel, payload))

    def insert(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]], tail: str = "") -> None:
        """One statement whatever the number of rows: each column travels as one array and
        ``unnest`` turns them back into rows (one parse, one plan, one round trip)."""
        if not rows:
            return
        if table not in self.types:
            self.cur.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                             "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (table,))
            self.types[table] = {r[0]: r[1] for r in self.cur.fetchall()}
        kinds = self.types[table]
        arrays = ", ".join(f"%b::{kinds[c]}[]" for c in cols)      # binary: no per-element text escaping
        self.cur.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT * FROM unnest({arrays}) {tail}",
                         [list(col) for col in zip(*rows, strict=True)])

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.cur.execute(_dialect(sql), params)
        return self.cur.rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if len(rows) == 1:
            # psycopg's executemany enters pipeline mode (sync messages, result bookkeeping): for the
            # one row most calls have (an hour's counters, an alarm) a plain execute is half the CPU
            self.cur.execute(_dialect(sql), rows[0])
        elif rows:
            self.cur.executemany(_dialect(sql), rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self.cur.execute(_dialect(sql), params)
        return self.cur.fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.cur.execute(_dialect(sql), params)
        return list(self.cur.fetchall())


def connect_once(url: str) -> psycopg.Connection[Any]:
    """One connection, or ServerStoreError naming what is wrong (never the password)."""
    shown = display_url(url)
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ServerStoreError(f"{shown} is not a valid PostgreSQL URL: {scrub(str(exc).splitlines()[0])}") from None
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or ["connection failed"])[-1 if "FATAL" not in str(exc) else 0]
        raise ServerStoreError(f"cannot connect to {shown}: {scrub(first.strip())}") from None


class PostgresEngine:
    kind = "postgresql"

    def __init__(self, url: str, pool_size: int = 8) -> None:
        self.url = url
        self.where = display_url(url)
        connect_once(url).close()                       # wrong or unreachable: one clear line, now
        self._types: dict[str, dict[str, str]] = {}
        self._listeners: dict[str, Listener] = {}
        self._returned: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = weakref.WeakKeyDictionary()
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url, min_size=1, max_size=max(1, pool_size), open=True, timeout=POOL_TIMEOUT_S,
            check=self._check, kwargs={"connect_timeout": CONNECT_TIMEOUT_S, "autocommit": True}, name="street")

    def _check(self, conn: psycopg.Connection[Any]) -> None:
        """Ping (an empty query) a connection before lending it, unless it was in use within the
        last ``PING_IDLE_S``: under load a ping per checkout was a quarter of a request's round
        trips. One that broke since (PostgreSQL restarted) fails its first statement instead, and
        :meth:`_run` then checks the whole pool and tries once more."""
        returned = self._returned.get(conn)
        if returned is None or time.monotonic() - returned >= PING_IDLE_S:
            ConnectionPool.check_connection(conn)

    def _run(self, fn: Callable[[PgTx], T], lock: str | None, *, write: bool, snapshot: bool = False,
             durable: bool = True) -> T:
        stale_retried = False
        for attempt in range(RETRIES + 1):
            began = False
            try:
                with self.pool.connection() as conn:
                    try:
                        cur = conn.cursor(row_factory=_row_factory)
                        if not (write or snapshot):
                            # autocommit: a plain read is its statements alone, no BEGIN/COMMIT round
                            # trips; READ COMMITTED takes a snapshot per statement either way
                            return fn(PgTx(cur, self._types))
                        with conn.transaction():
                            began = True
                            if snapshot:
                                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                            locked = None
                            if lock is not None:
                                # the lock also reads what the write checks (revoked) and needs
                                # (last contact); a heartbeat's asynchronous commit is set in the
                                # same statement: one round trip for all three
                                cur.execute(_LOCK if durable else _LOCK_ASYNC, (lock,))
                                locked = cur.fetchone()
                            elif not durable:
                                cur.execute("SET LOCAL synchronous_commit = off")
                            return fn(PgTx(cur, self._types, locked))
                    finally:
                        self._returned[conn] = time.monotonic()     # back to the pool: _check reads it
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                if attempt >= RETRIES - 1:
                    raise StoreUnavailable(f"{self.where}: transaction kept conflicting; retry later") from None
            except psycopg.OperationalError as exc:
                # A write whose connection broke after BEGIN is never re-run here (its COMMIT may
                # have landed): not acknowledged, the kiosk retries. A read, or a write refused at
                # BEGIN, did nothing: a pooled connection gone stale gets one more try.
                if not stale_retried and not began:
                    stale_retried = True
                    self.pool.check()               # drops every broken idle connection
                    continue
                raise StoreUnavailable(f"{self.where}: {scrub(str(exc).strip().splitlines()[0])}") from None
            except PoolTimeout as exc:
                raise StoreUnavailable(f"{self.where}: {scrub(str(exc).strip().splitlines()[0])}") from None
        raise AssertionError("unreachable")

    def watch(self, channel: str, on_change: OnChange) -> bool:
        """Follow ``channel``'s notices from a thread of this process (street/storage/pg_listen.py)."""
        if channel not in self._listeners:
            self._listeners[channel] = Listener(self.url, channel, on_change, CONNECT_TIMEOUT_S).start()
        return True

    def write(self, fn: Callable[[PgTx], T], lock: str | None = None, durable: bool = True) -> T:
        """``durable=False``: the commit returns before its WAL reaches the disk (``SET LOCAL
        synchronous_commit = off``, this transaction only). A crash may then lose it (never
        half of it: PostgreSQL's asynchronous commit keeps the database consistent), so only
        writes nobody was promised may use it — heartbeats; never an acknowledged record."""
        return self._run(fn, lock, write=True, durable=durable)

    def read(self, fn: Callable[[PgTx], T], snapshot: bool = False) -> T:
        return self._run(fn, None, write=False, snapshot=snapshot)

    def schema_version(self) -> int:
        def version(tx: PgTx) -> int:
            if tx.one("SELECT to_regclass('meta')")[0] is None:     # type: ignore[index]
                return 0
            row = tx.one("SELECT value FROM meta WHERE key = 'schema_version'")
            return int(row[0]) if row else 0
        return self._run(version, None, write=False)

    def apply(self, version: int, script: str) -> bool:
        """The script in one transaction (PostgreSQL's DDL is transactional) under an advisory
        lock, so two processes upgrading at once apply it once."""
        with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=_row_factory)
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            tx = PgTx(cur, {})
            if tx.one("SELECT to_regclass('meta')")[0] is not None:     # type: ignore[index]
                row = tx.one("SELECT value FROM meta WHERE key = 'schema_version'")
                if row is not None and int(row[0]) >= version:
                    return False
            cur.execute(script.encode())
            cur.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(version),))
            return True

    def close(self) -> None:
        for listener in self._listeners.values():
            listener.stop()
        self.pool.close()
