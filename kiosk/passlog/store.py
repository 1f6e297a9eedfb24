"""The pass log: one SQLite file, one writer, every decision committed before the gate moves.

Settings follow docs/reliability.md §1.7: WAL with ``synchronous=FULL`` (a power cut loses
no acknowledged pass), ``BEGIN IMMEDIATE`` for every write (the busy handler covers it),
``busy_timeout``, ``temp_store=MEMORY``, a size cap through ``max_page_count`` (set on every
open: it is not persisted) and ``secure_delete`` so purged pseudonyms leave the file bytes.

``seq`` is gap-free per ``db_epoch``: it is assigned inside the writing transaction, so a
rolled-back write consumes nothing, and it never goes backwards after a purge (``seq_floor``).
Readers (sync, export, tests) open the file read-only (kiosk/passlog/reader.py).

The settings, the row stamping and the write transaction are module-level functions
(:func:`writer_pragmas`, :func:`stamp_row`, :func:`insert_rows`) so the fault-injection
harnesses (tests/faults/) drive exactly the shipped code, also through an ``apsw`` connection.
A record is stamped when it is decided and gets its ``seq`` only when it is written, so
records held in memory under ``store.fail_policy = "hold"`` keep their decision-time clocks.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from kiosk.clock import Clock
from kiosk.core.records import Record
from kiosk.errors import StoreCorrupt, StoreError, StoreFull, StoreMismatch
from kiosk.passlog import audit
from kiosk.passlog.reader import BUSY_TIMEOUT_MS
from kiosk.schema import COLUMNS, NOT_NULL, SCHEMA_VERSION

PAGE_SIZE = 4096

INSERT_SQL = (f"INSERT INTO records ({', '.join(COLUMNS)}) "
              f"VALUES ({', '.join('?' for _ in COLUMNS)})")
CACHE_KIB = 128                 # the writer's page cache: what a write touches, not the log (docs/reliability.md §1.7)
WIPE_BUSY_TIMEOUT_MS = 100      # the TRUNCATE checkpoint after a purge never stalls the gate loop long
AUTOCHECKPOINT_PAGES = 1000     # SQLite's default: a COMMIT that takes the WAL past it checkpoints inside the commit
BACKSTOP_PAGES = 10_000         # … once the owner checkpoints between passes (PassLog.checkpoint_between_passes)

PASSES_VIEW = """
SELECT seq, datetime(wall_ts, 'unixepoch') AS wall_time, clock_synced, gate, direction,
       decision, cause, reason, colour, code_kind, temp_c, temp_verdict, temp_samples,
       ambient_c, volunteer_ref, latency_ms
FROM records WHERE kind = 'pass'
"""

Row = dict[str, Any]


class SqlConnection(Protocol):
    """What the shared helpers need: stdlib ``sqlite3`` and ``apsw`` connections both have it."""

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, seq: Any, /) -> Any: ...

    @property
    def in_transaction(self) -> bool: ...


def writer_pragmas(max_pages: int) -> list[str]:
    """The writer's settings, in order (docs/reliability.md §1.7). ``max_page_count`` is
    per connection and not persisted, so these run on every open."""
    return [
        f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
        "PRAGMA temp_store = MEMORY",
        "PRAGMA secure_delete = ON",
        f"PRAGMA journal_size_limit = {8 * 1024 * 1024}",
        f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}",
        f"PRAGMA cache_size = -{CACHE_KIB}",
        f"PRAGMA max_page_count = {max(1, int(max_pages))}",
    ]


def apply_writer_pragmas(conn: SqlConnection, max_pages: int) -> None:
    for sql in writer_pragmas(max_pages):
        row = conn.execute(sql).fetchone()
        if sql.startswith("PRAGMA journal_mode") and str(row[0]).lower() != "wal":
            raise StoreError(f"pass log refused WAL mode (got {row[0]!r}); is it on a network filesystem?")


def stamp_row(record: Record, *, kiosk_id: str, db_epoch: str, gate: str, direction: str,
              clock: Clock) -> Row:
    """A record as its row, stamped with identity and the clocks of now (everything but ``seq``)."""
    now_mono = clock.monotonic()
    row: Row = {
        "kiosk_id": kiosk_id, "db_epoch": db_epoch,
        "wall_ts": clock.wall(), "clock_synced": int(clock.synced()),
        "boot_id": clock.boot_id(), "mono_ns": int(now_mono * 1e9),
        "gate": gate, "direction": direction,
        "latency_ms": round(max(0.0, now_mono - record.t) * 1000, 3),
    }
    row.update(record.columns())
    return row


def insert_rows(conn: SqlConnection, rows: Sequence[Row]) -> None:
    """Commit ``rows`` (each with its ``seq``) in one ``BEGIN IMMEDIATE`` transaction.

    Raises the driver's error with nothing stored; the caller must not treat any of the rows
    as stored unless this returned.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(INSERT_SQL, [tuple(r.get(c) for c in COLUMNS) for r in rows])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def seal_rows(rows: Sequence[Row], first_seq: int, audit_head: str) -> tuple[list[Row], str]:
    """Give stamped rows their seqs in order, typed as read back, with the audit chain linked
    in seq order (kiosk/passlog/audit.py); returns them and the new chain head. Done at write time, so
    records held in memory join the chain in the order they are finally committed."""
    out: list[Row] = []
    head = audit_head
    for seq, row in enumerate(rows, start=first_seq):
        typed = {c: _typed(t, row.get(c)) for c, t in COLUMNS.items()}
        typed["seq"] = seq
        typed["chain"] = None
        if audit.is_audited(typed):
            typed["chain"] = head = audit.link(head, typed)
        out.append(typed)
    return out, head


def read_meta(conn: SqlConnection) -> dict[str, str]:
    return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta").fetchall()}


def last_seq_of(conn: SqlConnection) -> int:
    """The highest seq ever committed in this log (``seq_floor`` remembers purged ones)."""
    top = conn.execute("SELECT MAX(seq) FROM records").fetchone()[0] or 0
    floor = conn.execute("SELECT value FROM meta WHERE key = 'seq_floor'").fetchone()
    return max(int(top), int(floor[0]) if floor else 0)


_SQL_TYPES = {int: "INTEGER", str: "TEXT", float: "REAL"}


def _table_sql(name: str, columns: dict[str, type], *, pk: str, not_null: frozenset[str]) -> str:
    """CREATE TABLE text, byte for byte what sqlite_utils wrote for the logs made before it was
    dropped (plain sqlite3 keeps its dependencies — click, pluggy, dateutil — out of the kiosk)."""
    cols = ",\n".join(f'   "{c}" {_SQL_TYPES[t]}' + (" PRIMARY KEY" if c == pk else "")
                      + (" NOT NULL" if c in not_null else "") for c, t in columns.items())
    return f'CREATE TABLE "{name}" (\n{cols}\n)'


def create_schema(conn: sqlite3.Connection, *, kiosk_id: str, db_epoch: str, created_wall: float,
                  extra_meta: dict[str, str] | None = None) -> None:
    """Tables, index, view and meta of an empty pass log (also used for recovered logs)."""
    conn.execute(_table_sql("meta", {"key": str, "value": str}, pk="key", not_null=frozenset()))
    conn.execute(_table_sql("records", COLUMNS, pk="seq", not_null=NOT_NULL))
    conn.execute('CREATE INDEX "idx_records_kind_wall_ts"\n    ON "records" ("kind", "wall_ts")')
    conn.execute(f'CREATE VIEW "passes" AS {PASSES_VIEW}')
    meta = {"schema_version": str(SCHEMA_VERSION), "kiosk_id": kiosk_id, "db_epoch": db_epoch,
            "created_wall": repr(created_wall), "seq_floor": "0", **(extra_meta or {})}
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", list(meta.items()))


def cap_pages(max_db_mb: int, db_bytes: int, total_bytes: int, free_bytes: int,
              keep_free_pct: float) -> int:
    """The page cap: ``max_db_mb``, lowered so the log never eats the last ``keep_free_pct`` %
    of its filesystem (T-DB-6); never below the pages the log already has."""
    cap = max_db_mb * 1024 * 1024 // PAGE_SIZE
    if keep_free_pct > 0 and total_bytes > 0:
        room = db_bytes + free_bytes - int(total_bytes * keep_free_pct / 100)
        cap = min(cap, max(room // PAGE_SIZE, db_bytes // PAGE_SIZE))
    return max(1, cap)


def disk_space(path: Path) -> tuple[int, int]:
    """(total, free) bytes of the filesystem holding ``path`` (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return usage.total, usage.free


def _is_corrupt(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in str(exc)


def _is_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or "full" in str(exc).lower()


class PassLog:
    """The single writer of the pass log."""

    wipe_pending: bool = False      # a purge's TRUNCATE checkpoint could not finish yet
    unchecked: int = 0              # commits since the last checkpoint (see :meth:`checkpoint`)

    def __init__(self, path: Path, *, kiosk_id: str, gate: str, direction: str, clock: Clock,
                 max_db_mb: int = 512, keep_free_pct: float = 0.0,
                 disk: Callable[[Path], tuple[int, int]] = disk_space) -> None:
        self.path = Path(path)
        self.kiosk_id, self.gate, self.direction = kiosk_id, gate, direction
        self.clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One writer, but not necessarily the thread that opened it (the loop may run in
            # a worker thread); the kiosk loop is still the only user of this connection.
            self.conn = sqlite3.connect(str(self.path), isolation_level=None,
                                        timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open pass log {self.path}: {_why(exc)}") from None
        try:
            apply_writer_pragmas(self.conn, max_db_mb * 1024 * 1024 // PAGE_SIZE)
            self._check_integrity()
            self._ensure_schema()
            epoch = self._meta("db_epoch")
            if not epoch:
                raise StoreCorrupt(f"pass log {self.path} has no db_epoch in its meta table")
            self.db_epoch: str = epoch
            self._ensure_audit()
            self.audit_head = audit.head(self.conn)
            owner = self._meta("kiosk_id")
            if owner != kiosk_id:
                raise StoreMismatch(f"pass log {self.path} belongs to kiosk {owner!r}, not {kiosk_id!r}: if the id "
                                    "changed on purpose, stop the kiosk and run `kiosk retire-log`; otherwise "
                                    "set kiosk.id back")
            self.last_seq = last_seq_of(self.conn)
            self.max_pages = self._cap(max_db_mb, keep_free_pct, disk)
        except StoreError:
            self.conn.close()
            raise
        except sqlite3.Error as exc:
            self.conn.close()
            if _is_corrupt(exc):
                raise StoreCorrupt(f"pass log {self.path} is damaged: {exc}") from None
            raise StoreError(f"cannot open pass log {self.path}: {_why(exc)}") from None

    # -------------------------------------------------------------- schema

    def _check_integrity(self) -> None:
        rows = self.conn.execute("PRAGMA quick_check").fetchall()
        if rows != [("ok",)]:
            first = rows[0][0] if rows else "no answer"
            raise StoreCorrupt(f"pass log {self.path} failed its integrity check: {first}")

    def _ensure_schema(self) -> None:
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
            version = int(self._meta("schema_version") or 0)
            if version != SCHEMA_VERSION:
                raise StoreError(f"pass log {self.path} has schema version {version}, "
                                 f"this kiosk writes version {SCHEMA_VERSION}")
            return
        import uuid  # a new log only: uuid imports platform (about 40 ms of a start under a CPU quota)

        self.conn.execute("BEGIN IMMEDIATE")
        try:
            create_schema(self.conn, kiosk_id=self.kiosk_id, db_epoch=str(uuid.uuid4()),
                          created_wall=self.clock.wall())
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _cap(self, max_db_mb: int, keep_free_pct: float, disk: Callable[[Path], tuple[int, int]]) -> int:
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        try:
            total, free = disk(self.path.parent)
        except OSError:
            total = free = 0
        cap = cap_pages(max_db_mb, pages * PAGE_SIZE, total, free, keep_free_pct)
        self.conn.execute(f"PRAGMA max_page_count = {cap}")
        return cap

    def _ensure_audit(self) -> None:
        """The audit chain's column, triggers and anchor (also added to a log made before them)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            audit.ensure_schema(self.conn, str(self.db_epoch))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # -------------------------------------------------------------- writing

    def append(self, record: Record) -> int:
        """Commit one record and return its seq. Raises StoreFull/StoreError; then nothing was stored."""
        return self.write([self.stamp(record)])[0]

    def stamp(self, record: Record) -> Row:
        """The record's row as of now, without a seq (see :meth:`write`)."""
        return stamp_row(record, kiosk_id=self.kiosk_id, db_epoch=self.db_epoch, gate=self.gate,
                         direction=self.direction, clock=self.clock)

    def write(self, rows: Sequence[Row]) -> list[int]:
        """Commit stamped rows in one transaction, giving them the next seqs in order.

        ``last_seq`` moves only after COMMIT returned; on StoreFull/StoreError nothing was stored
        and no seq was used.
        """
        seqs = list(range(self.last_seq + 1, self.last_seq + 1 + len(rows)))
        numbered, head = seal_rows(rows, seqs[0] if seqs else 1, self.audit_head)
        try:
            insert_rows(self.conn, numbered)
        except sqlite3.Error as exc:
            if _is_full(exc):
                raise StoreFull(f"pass log {self.path} is full: {exc}") from None
            raise StoreError(f"pass log {self.path} write failed: {_why(exc)}") from None
        if seqs:
            self.last_seq = seqs[-1]
            self.audit_head = head
        self.unchecked += 1
        return seqs

    # -------------------------------------------------------------- checkpoints

    def checkpoint_between_passes(self) -> None:
        """The owner checkpoints (:meth:`checkpoint`) when no pass is under way, so SQLite's own
        checkpoint no longer runs inside a pass's COMMIT — copying up to 1,000 pages into the
        database and fsyncing it while the relay waits (up to 86 ms seen; docs/benchmarks.md
        "Zero-class budget"). The automatic checkpoint stays as a backstop at
        :data:`BACKSTOP_PAGES` (40 MiB of WAL) in case the owner never gets an idle moment. Nothing
        about durability changes: each COMMIT is still fsynced in the WAL (``synchronous=FULL``);
        a checkpoint only moves committed pages into the main file, and a crash during one is
        recovered from the WAL."""
        try:
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
        except sqlite3.Error as exc:
            raise StoreError(f"pass log {self.path}: cannot set wal_autocheckpoint: {_why(exc)}") from None

    def checkpoint(self) -> tuple[int, int]:
        """A PASSIVE checkpoint: the WAL's committed pages copied into the database as far as no
        reader pins them; never waits for a reader (the sync) and never calls the busy handler.
        Returns (frames in the WAL, frames checkpointed)."""
        try:
            _busy, frames, done = self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"checkpoint of {self.path} failed: {_why(exc)}") from None
        self.unchecked = 0
        return int(frames), int(done)

    # -------------------------------------------------------------- retention

    def purge(self, before_wall: float, acked_through: dict[str, int], *,
              boot_id: str | None = None, before_mono_ns: int | None = None) -> int:
        """Delete records older than ``before_wall`` that the street server acknowledged.

        Only this epoch's rows up to its acknowledged seq go; ``seq_floor`` keeps seq from ever
        going backwards. With ``boot_id``/``before_mono_ns``, rows of that boot must also be old
        on the monotonic clock, so a wall clock stepped forward cannot delete them early
        (T-TIME-2). Then :meth:`wipe_wal`: with ``secure_delete`` no purged bytes stay behind in
        the file or the WAL. Returns the number of rows deleted.
        """
        acked = int(acked_through.get(self.db_epoch, 0))
        if acked <= 0:
            return 0
        select = "SELECT * FROM records WHERE seq <= ? AND wall_ts < ?"
        args: list[Any] = [acked, before_wall]
        if boot_id is not None and before_mono_ns is not None:
            select += " AND (boot_id <> ? OR mono_ns < ?)"
            args += [boot_id, before_mono_ns]
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                # audited records may only go once the audit anchor has moved past them (kiosk/passlog/audit.py)
                last = self.conn.execute(f"SELECT MAX(seq) FROM ({select}) WHERE chain IS NOT NULL",
                                         args).fetchone()[0]
                if last is not None:
                    audit.advance_anchor(self.conn, int(last))
                cur = self.conn.execute(f"DELETE FROM records WHERE seq IN ({select.replace('*', 'seq', 1)})", args)
                self.conn.execute("UPDATE meta SET value = ? WHERE key = 'seq_floor'", (str(self.last_seq),))
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"purge of {self.path} failed: {_why(exc)}") from None
        self.wipe_wal()
        return cur.rowcount

    def wipe_wal(self) -> bool:
        """Checkpoint everything and truncate the WAL to zero bytes; False if a reader (the sync)
        still pinned old frames — then purged bytes may remain until a later call succeeds."""
        try:
            self.conn.execute(f"PRAGMA busy_timeout = {WIPE_BUSY_TIMEOUT_MS}")
            try:
                busy, _log, _done = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            raise StoreError(f"checkpoint of {self.path} failed: {_why(exc)}") from None
        self.wipe_pending = bool(busy)
        return not busy

    def count_unacked_before(self, before_wall: float, acked_through: dict[str, int]) -> int:
        acked = int(acked_through.get(self.db_epoch, 0))
        row = self.conn.execute("SELECT COUNT(*) FROM records WHERE seq > ? AND wall_ts < ?",
                                (acked, before_wall)).fetchone()
        return int(row[0])

    def close(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> PassLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _typed(kind: type, value: Any) -> Any:
    """A value as its column stores and returns it, so the audit link hashes what is read back."""
    if value is None:
        return None
    if kind is float:
        return float(value)
    if kind is int:
        return int(value)
    return str(value)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
