"""The pass log: one SQLite file, one writer, every decision committed before the gate moves.

Settings follow research/reliability.md §1.9: WAL with ``synchronous=FULL`` (a power cut loses
no acknowledged pass), ``BEGIN IMMEDIATE`` for every write (the busy handler covers it),
``busy_timeout``, ``temp_store=MEMORY``, a size cap through ``max_page_count`` (set on every
open: it is not persisted) and ``secure_delete`` so purged pseudonyms leave the file bytes.

``seq`` is gap-free per ``db_epoch``: it is assigned inside the writing transaction, so a
rolled-back write consumes nothing, and it never goes backwards after a purge (``seq_floor``).
Readers (sync, export, tests) open the file read-only with :func:`connect_readonly`.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any, Iterator

import sqlite_utils

from kiosk import audit
from kiosk.clock import Clock
from kiosk.errors import StoreCorrupt, StoreError, StoreFull, StoreMismatch
from kiosk.records import Record

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
PAGE_SIZE = 4096

COLUMNS: dict[str, type] = {
    "seq": int, "kiosk_id": str, "db_epoch": str, "kind": str,
    "wall_ts": float, "clock_synced": int, "boot_id": str, "mono_ns": int,
    "gate": str, "direction": str,
    "code_format": str, "code_kind": str, "kid": str, "issuer": str,
    "token_hash": str, "holder_ref": str, "colour": str, "reason": str,
    "temp_c": float, "temp_object_c": float, "temp_samples": int, "temp_spread_c": float,
    "ambient_c": float, "temp_verdict": str,
    "decision": str, "cause": str, "volunteer_ref": str, "device": str, "detail": str,
    "latency_ms": float,
    "chain": str,          # audit link of override and shift records (kiosk/audit.py), else NULL
}
NOT_NULL = {"kiosk_id", "db_epoch", "kind", "wall_ts", "clock_synced", "boot_id", "mono_ns"}
_INSERT = (f"INSERT INTO records ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in COLUMNS)})")

PASSES_VIEW = """
SELECT seq, datetime(wall_ts, 'unixepoch') AS wall_time, clock_synced, gate, direction,
       decision, cause, reason, colour, code_kind, temp_c, temp_verdict, temp_samples,
       ambient_c, volunteer_ref, latency_ms
FROM records WHERE kind = 'pass'
"""


def _writer_pragmas(conn: sqlite3.Connection, max_db_mb: int) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise StoreError(f"pass log refused WAL mode (got {mode!r}); is it on a network filesystem?")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute(f"PRAGMA journal_size_limit = {8 * 1024 * 1024}")
    conn.execute("PRAGMA wal_autocheckpoint = 1000")
    conn.execute(f"PRAGMA max_page_count = {max_db_mb * 1024 * 1024 // PAGE_SIZE}")


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that cannot write (the sync process, export, tests)."""
    if not Path(path).exists():
        raise StoreError(f"pass log {path} does not exist")
    conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.row_factory = sqlite3.Row
    return conn


def _is_corrupt(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in str(exc)


def _is_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or "full" in str(exc).lower()


class PassLog:
    """The single writer of the pass log."""

    def __init__(self, path: Path, *, kiosk_id: str, gate: str, direction: str, clock: Clock,
                 max_db_mb: int = 512) -> None:
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
            _writer_pragmas(self.conn, max_db_mb)
            self._check_integrity()
            self._ensure_schema()
            self.db_epoch = self._meta("db_epoch")
            self._ensure_audit()
            self.audit_head = audit.head(self.conn)
            owner = self._meta("kiosk_id")
            if owner != kiosk_id:
                raise StoreMismatch(f"pass log {self.path} belongs to kiosk {owner!r}, not {kiosk_id!r}; "
                                    "move it aside or fix kiosk.id")
            row = self.conn.execute("SELECT MAX(seq) FROM records").fetchone()
            self.last_seq = max(row[0] or 0, int(self._meta("seq_floor") or 0))
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
        db = sqlite_utils.Database(self.conn)
        if "meta" in db.table_names():
            version = int(self._meta("schema_version") or 0)
            if version != SCHEMA_VERSION:
                raise StoreError(f"pass log {self.path} has schema version {version}, "
                                 f"this kiosk writes version {SCHEMA_VERSION}")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            db["meta"].create({"key": str, "value": str}, pk="key")
            db["records"].create(COLUMNS, pk="seq", not_null=NOT_NULL)
            db["records"].create_index(["kind", "wall_ts"])
            db.create_view("passes", PASSES_VIEW)
            for k, v in (("schema_version", str(SCHEMA_VERSION)), ("kiosk_id", self.kiosk_id),
                         ("db_epoch", str(uuid.uuid4())), ("created_wall", repr(self.clock.wall())),
                         ("seq_floor", "0")):
                self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (k, v))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

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
        seq = self.last_seq + 1
        row = self._row(record, seq)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.execute(_INSERT, tuple(row[c] for c in COLUMNS))
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if _is_full(exc):
                raise StoreFull(f"pass log {self.path} is full: {exc}") from None
            raise StoreError(f"pass log {self.path} write failed: {_why(exc)}") from None
        self.last_seq = seq
        if row["chain"] is not None:
            self.audit_head = row["chain"]
        return seq

    def _row(self, record: Record, seq: int) -> dict[str, Any]:
        now_mono = self.clock.monotonic()
        row: dict[str, Any] = {
            "seq": seq, "kiosk_id": self.kiosk_id, "db_epoch": self.db_epoch,
            "wall_ts": self.clock.wall(), "clock_synced": int(self.clock.synced()),
            "boot_id": self.clock.boot_id(), "mono_ns": int(now_mono * 1e9),
            "gate": self.gate, "direction": self.direction,
            "latency_ms": round(max(0.0, now_mono - record.t) * 1000, 3),
        }
        row.update(record.columns())
        row = {c: _typed(t, row.get(c)) for c, t in COLUMNS.items()}
        row["chain"] = audit.link(self.audit_head, row) if audit.is_audited(row) else None
        return row

    # -------------------------------------------------------------- retention

    def purge(self, before_wall: float, acked_through: dict[str, int]) -> int:
        """Delete records older than ``before_wall`` that the street server acknowledged.

        Only this epoch's rows up to its acknowledged seq go; ``seq_floor`` keeps seq from ever
        going backwards, and a TRUNCATE checkpoint with ``secure_delete`` leaves no purged bytes
        behind in the file or the WAL. Returns the number of rows deleted.
        """
        acked = int(acked_through.get(self.db_epoch, 0))
        if acked <= 0:
            return 0
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                # audited records may only go once the audit anchor has moved past them (kiosk/audit.py)
                last = self.conn.execute("SELECT MAX(seq) FROM records WHERE seq <= ? AND wall_ts < ? "
                                         "AND chain IS NOT NULL", (acked, before_wall)).fetchone()[0]
                if last is not None:
                    audit.advance_anchor(self.conn, int(last))
                cur = self.conn.execute("DELETE FROM records WHERE seq <= ? AND wall_ts < ?", (acked, before_wall))
                self.conn.execute("UPDATE meta SET value = ? WHERE key = 'seq_floor'", (str(self.last_seq),))
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise StoreError(f"purge of {self.path} failed: {_why(exc)}") from None
        return cur.rowcount

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

    def __enter__(self) -> "PassLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_records(conn: sqlite3.Connection, after_seq: int = 0, since_wall: float | None = None,
                 batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Records in seq order, read in short transactions so a reader never pins the WAL."""
    last = after_seq
    while True:
        sql = "SELECT * FROM records WHERE seq > ?"
        args: list[Any] = [last]
        if since_wall is not None:
            sql += " AND wall_ts >= ?"
            args.append(since_wall)
        rows = conn.execute(sql + " ORDER BY seq LIMIT ?", (*args, batch)).fetchall()
        if not rows:
            return
        for r in rows:
            yield dict(r)
        last = rows[-1]["seq"]


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
