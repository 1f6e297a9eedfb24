"""The street server's storage: one SQLite file (WAL, ``synchronous=FULL``).

An answer of 200 tells a kiosk it may forget (purge) what it sent, so every acknowledged
write is durable before the answer leaves: the same WAL + FULL rule as the kiosk's own log
(docs/reliability.md §1). Records are keyed ``UNIQUE (kiosk_id, db_epoch, seq)`` with the
digest of their content; a re-sent record with the same digest is a duplicate (absorbed), one
with another digest is a conflict (409, nothing stored, an alarm). The full record is kept as
canonical JSON in ``body`` (so columns the kiosk adds later need no server change), with the
columns the status page needs copied out beside it.

Writes are serialised by a process-wide lock around ``BEGIN IMMEDIATE`` (all writers live in
this process; the busy timeout covers the CLI's occasional registration from another one).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.clock import Clock
from street.api.validate import record_problem
from street.errors import Conflict, RegistryError, Replay, ServerStoreError
from street.storage.gaps import Gap, Progress, advance, merge_ranges, settle, subtract
from sync.protocol import KIOSK_ID_RE, WINDOW_S, canonical_record, digest_of, new_secret

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
NONCE_PRUNE_S = 60.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS kiosks (
    kiosk_id TEXT PRIMARY KEY, secret TEXT NOT NULL, created REAL NOT NULL, revoked REAL,
    last_contact REAL, online_since REAL);
CREATE TABLE IF NOT EXISTS streams (
    kiosk_id TEXT NOT NULL, db_epoch TEXT NOT NULL,
    acked_through INTEGER NOT NULL DEFAULT 0, max_seq INTEGER NOT NULL DEFAULT 0,
    stored INTEGER NOT NULL DEFAULT 0, quarantined INTEGER NOT NULL DEFAULT 0,
    redelivered INTEGER NOT NULL DEFAULT 0, first_seen REAL, last_seen REAL,
    PRIMARY KEY (kiosk_id, db_epoch));
CREATE TABLE IF NOT EXISTS gaps (
    kiosk_id TEXT NOT NULL, db_epoch TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
    since REAL NOT NULL, PRIMARY KEY (kiosk_id, db_epoch, first));
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    kiosk_id TEXT NOT NULL, db_epoch TEXT NOT NULL, seq INTEGER NOT NULL, digest TEXT NOT NULL,
    kind TEXT NOT NULL, ts REAL NOT NULL, ts_source TEXT NOT NULL,
    wall_ts REAL NOT NULL, clock_synced INTEGER NOT NULL, boot_id TEXT NOT NULL, mono_ns INTEGER NOT NULL,
    decision TEXT, cause TEXT, device TEXT, volunteer_ref TEXT, temp_c REAL,
    body TEXT NOT NULL, received REAL NOT NULL,
    UNIQUE (kiosk_id, db_epoch, seq));
CREATE INDEX IF NOT EXISTS records_day ON records (ts, kind, kiosk_id, cause, decision);
CREATE INDEX IF NOT EXISTS records_boot ON records (kiosk_id, boot_id, clock_synced);
CREATE TABLE IF NOT EXISTS quarantine (
    kiosk_id TEXT NOT NULL, db_epoch TEXT NOT NULL, seq INTEGER NOT NULL, digest TEXT NOT NULL,
    reason TEXT NOT NULL, body TEXT NOT NULL, received REAL NOT NULL,
    PRIMARY KEY (kiosk_id, db_epoch, seq));
CREATE TABLE IF NOT EXISTS heartbeats (
    kiosk_id TEXT PRIMARY KEY, received REAL NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY, kiosk_id TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL, detail TEXT);
CREATE TABLE IF NOT EXISTS nonces (
    kiosk_id TEXT NOT NULL, nonce TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (kiosk_id, nonce)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lost (
    kiosk_id TEXT NOT NULL, db_epoch TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
    reported REAL NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (kiosk_id, db_epoch, first));
CREATE TABLE IF NOT EXISTS bundles (
    id INTEGER PRIMARY KEY, etag TEXT NOT NULL, data BLOB NOT NULL, published REAL NOT NULL);
"""

_RECORD_COLS = ("kiosk_id", "db_epoch", "seq", "digest", "kind", "ts", "ts_source", "wall_ts", "clock_synced",
                "boot_id", "mono_ns", "decision", "cause", "device", "volunteer_ref", "temp_c", "body", "received")
_INSERT_RECORD = (f"INSERT INTO records ({', '.join(_RECORD_COLS)}) VALUES ({', '.join('?' * len(_RECORD_COLS))}) "
                  "ON CONFLICT (kiosk_id, db_epoch, seq) DO NOTHING")



@dataclass(frozen=True)
class KioskEntry:
    kiosk_id: str
    secret: bytes
    revoked: float | None


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


class StreetDB:
    """The server's database; one connection per thread, writes serialised."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = Path(path)
        self.clock = clock
        self._local = threading.local()
        self._write = threading.Lock()
        self._last_prune = 0.0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self.conn()
            conn.executescript(SCHEMA)
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if version is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(version[0]) != SCHEMA_VERSION:
                raise ServerStoreError(f"street database {self.path} has schema {version[0]}, "
                                       f"this server needs {SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
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
            c.row_factory = sqlite3.Row
            self._local.conn = c
            conns: list[sqlite3.Connection] = self.__dict__.setdefault("_all", [])
            conns.append(c)
        return c

    def close(self) -> None:
        for c in self.__dict__.get("_all", []):
            try:
                c.close()
            except sqlite3.Error:
                pass
        self.__dict__["_all"] = []
        self._local = threading.local()

    class _Txn:
        def __init__(self, db: StreetDB) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db._write.acquire()
            self.conn = self.db.conn()
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.db._write.release()
                raise
            return self.conn

        def __exit__(self, exc_type: Any, *rest: Any) -> None:
            try:
                if exc_type is None:
                    self.conn.execute("COMMIT")
                else:
                    self.conn.execute("ROLLBACK")
            finally:
                self.db._write.release()

    def txn(self) -> StreetDB._Txn:
        return StreetDB._Txn(self)

    # ------------------------------------------------------------------ registry

    def add_kiosk(self, kiosk_id: str) -> str:
        """Register a kiosk and return its new secret (shown once; stored for HMAC checks)."""
        if not KIOSK_ID_RE.fullmatch(kiosk_id):
            raise RegistryError(f"kiosk id {kiosk_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
        secret = new_secret()
        with self.txn() as c:
            row = c.execute("SELECT revoked FROM kiosks WHERE kiosk_id = ?", (kiosk_id,)).fetchone()
            if row is not None and row["revoked"] is None:
                raise RegistryError(f"kiosk {kiosk_id} is already registered (revoke it first to issue a new secret)")
            c.execute("INSERT INTO kiosks (kiosk_id, secret, created) VALUES (?, ?, ?) "
                      "ON CONFLICT (kiosk_id) DO UPDATE SET secret = excluded.secret, created = excluded.created, "
                      "revoked = NULL", (kiosk_id, secret, self.clock.wall()))
        return secret

    def revoke_kiosk(self, kiosk_id: str) -> None:
        with self.txn() as c:
            cur = c.execute("UPDATE kiosks SET revoked = ? WHERE kiosk_id = ? AND revoked IS NULL",
                            (self.clock.wall(), kiosk_id))
            if cur.rowcount == 0:
                raise RegistryError(f"kiosk {kiosk_id} is not registered (or already revoked)")

    def kiosk(self, kiosk_id: str) -> KioskEntry | None:
        row = self.conn().execute("SELECT kiosk_id, secret, revoked FROM kiosks WHERE kiosk_id = ?",
                                  (kiosk_id,)).fetchone()
        if row is None:
            return None
        return KioskEntry(row["kiosk_id"], bytes.fromhex(row["secret"]), row["revoked"])

    def kiosks(self) -> list[sqlite3.Row]:
        return self.conn().execute("SELECT * FROM kiosks ORDER BY kiosk_id").fetchall()

    # ------------------------------------------------------------------ helpers inside a write

    def _use_nonce(self, c: sqlite3.Connection, kiosk_id: str, nonce: str, now: float) -> None:
        try:
            c.execute("INSERT INTO nonces VALUES (?, ?, ?)", (kiosk_id, nonce, now + WINDOW_S))
        except sqlite3.IntegrityError:
            raise Replay() from None
        if now - self._last_prune > NONCE_PRUNE_S:
            c.execute("DELETE FROM nonces WHERE expires < ?", (now - WINDOW_S,))
            self._last_prune = now

    def _contact(self, c: sqlite3.Connection, kiosk_id: str, now: float, offline_after: float) -> None:
        c.execute("UPDATE kiosks SET online_since = CASE WHEN last_contact IS NULL OR ? - last_contact > ? "
                  "THEN ? ELSE online_since END, last_contact = ? WHERE kiosk_id = ?",
                  (now, offline_after, now, now, kiosk_id))

    # ------------------------------------------------------------------ ingest

    def ingest(self, kiosk_id: str, batch: dict[str, Any], nonce: str,
               offline_after: float = 1800.0) -> dict[str, Any]:
        """Store one validated batch; returns the answer for the kiosk. Raises Conflict/Replay."""
        epoch = batch["db_epoch"]
        records: list[dict[str, Any]] = batch["records"]
        seqs = [int(r["seq"]) for r in records]
        canon = [canonical_record(r) for r in records]
        digests = [digest_of(c) for c in canon]
        now = self.clock.wall()
        with self.txn() as c:
            self._use_nonce(c, kiosk_id, nonce, now)
            held: dict[int, str] = {}
            for table in ("records", "quarantine"):
                for row in c.execute(f"SELECT seq, digest FROM {table} WHERE kiosk_id = ? AND db_epoch = ? "
                                     "AND seq BETWEEN ? AND ?", (kiosk_id, epoch, seqs[0], seqs[-1])):
                    held[row[0]] = row[1]
            conflicts = [s for s, d in zip(seqs, digests, strict=True) if s in held and held[s] != d]
            if conflicts:
                raise Conflict(conflicts)
            fresh = [(r, d, c) for r, d, c, s in zip(records, digests, canon, seqs, strict=True) if s not in held]
            stored: list[tuple[dict[str, Any], str, str]] = []
            quarantined: list[dict[str, Any]] = []
            q_rows = []
            for rec, digest, text in fresh:
                problem = record_problem(rec)
                if problem is None:
                    stored.append((rec, digest, text))
                else:
                    quarantined.append({"seq": rec["seq"], "reason": problem})
                    q_rows.append((kiosk_id, epoch, rec["seq"], digest, problem, text[:16384], now))
            rows = self._record_rows(c, kiosk_id, batch, stored, now)
            c.executemany(_INSERT_RECORD, rows)
            if q_rows:
                c.executemany("INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?)", q_rows)
                c.executemany("INSERT INTO alarms (kiosk_id, at, kind, detail) VALUES (?, ?, 'quarantine', ?)",
                              [(kiosk_id, now, f"seq {q['seq']}: {q['reason']}") for q in quarantined])
            self._reanchor(c, kiosk_id, stored)
            progress = self._progress(c, kiosk_id, epoch, seqs, now, len(stored), len(quarantined),
                                      len(records) - len(fresh))
            self._contact(c, kiosk_id, now, offline_after)
        return {"db_epoch": epoch, "batch_through": seqs[-1], "acked_through": progress.acked_through,
                "max_seq": progress.max_seq, "gaps": [[g.first, g.last] for g in progress.gaps],
                "stored": len(stored), "duplicates": len(records) - len(fresh), "quarantined": quarantined,
                "server_time": now}

    def record_conflict(self, kiosk_id: str, conflict: Conflict) -> None:
        with self.txn() as c:
            c.execute("INSERT INTO alarms (kiosk_id, at, kind, detail) VALUES (?, ?, 'conflict', ?)",
                      (kiosk_id, self.clock.wall(), str(conflict)))

    def _record_rows(self, c: sqlite3.Connection, kiosk_id: str, batch: dict[str, Any],
                     stored: Sequence[tuple[dict[str, Any], str, str]], now: float) -> list[tuple[Any, ...]]:
        """Rows to insert, each with its best-known time (docs/reliability.md §3.3).

        Synced records keep their wall time. A record written before the clock was synced is
        placed by an *anchor* — the first synced record of the same boot — as
        ``anchor_wall - (anchor_mono - mono)``; failing that, if it is from the boot that is
        sending now, by the server's own clock as ``now - (sent_mono - mono)`` (error ≤ one-way
        delay); otherwise it keeps its device time, flagged ``device_unsynced``.
        """
        rows = []
        for rec, digest, text in stored:
            boot = rec["boot_id"]
            if rec["clock_synced"] == 1:
                ts, source = rec["wall_ts"], "device"
            else:
                anchor = self._anchor(c, kiosk_id, boot, stored)
                if anchor is not None:
                    ts, source = anchor[0] - (anchor[1] - rec["mono_ns"]) / 1e9, "anchor"
                elif boot == batch["boot_id"]:
                    ts, source = now - (batch["sent_mono_ns"] - rec["mono_ns"]) / 1e9, "server"
                else:
                    ts, source = rec["wall_ts"], "device_unsynced"
            rows.append((kiosk_id, batch["db_epoch"], rec["seq"], digest, rec["kind"], ts, source, rec["wall_ts"],
                         rec["clock_synced"], boot, rec["mono_ns"], rec.get("decision"), rec.get("cause"),
                         rec.get("device"), rec.get("volunteer_ref"), rec.get("temp_c"), text, now))
        return rows

    def _anchor(self, c: sqlite3.Connection, kiosk_id: str, boot: str,
                stored: Sequence[tuple[dict[str, Any], str, str]]) -> tuple[float, int] | None:
        cache: dict[tuple[str, str], tuple[float, int] | None] = self.__dict__.setdefault("_anchor_cache", {})
        key = (kiosk_id, boot)
        if key in cache:
            return cache[key]
        row = c.execute("SELECT wall_ts, mono_ns FROM records WHERE kiosk_id = ? AND boot_id = ? AND clock_synced = 1 "
                        "ORDER BY seq LIMIT 1", (kiosk_id, boot)).fetchone()
        anchor = (row[0], row[1]) if row else None
        if anchor is None:
            for rec, *_ in stored:
                if rec["boot_id"] == boot and rec["clock_synced"] == 1:
                    anchor = (rec["wall_ts"], rec["mono_ns"])
                    break
        if row is not None:      # only a stored anchor is final; one from this batch is stored next
            cache[key] = anchor
        return anchor

    def _reanchor(self, c: sqlite3.Connection, kiosk_id: str,
                  stored: Sequence[tuple[dict[str, Any], str, str]]) -> None:
        """A boot's first synced record also corrects its earlier pre-sync records already stored."""
        done: set[str] = set()
        for rec, *_ in stored:
            boot = rec["boot_id"]
            if rec["clock_synced"] != 1 or boot in done:
                continue
            done.add(boot)
            anchor = self._anchor(c, kiosk_id, boot, stored)
            if anchor is None:
                continue
            c.execute("UPDATE records SET ts = ? - (? - mono_ns) / 1e9, ts_source = 'anchor' "
                      "WHERE kiosk_id = ? AND boot_id = ? AND clock_synced = 0 AND ts_source != 'anchor'",
                      (anchor[0], anchor[1], kiosk_id, boot))

    def _load_progress(self, c: sqlite3.Connection, kiosk_id: str, epoch: str, now: float) -> Progress:
        row = c.execute("SELECT acked_through, max_seq FROM streams WHERE kiosk_id = ? AND db_epoch = ?",
                        (kiosk_id, epoch)).fetchone()
        if row is None:
            c.execute("INSERT INTO streams (kiosk_id, db_epoch, first_seen) VALUES (?, ?, ?)", (kiosk_id, epoch, now))
            return Progress(0, 0, ())
        gaps = tuple(Gap(g[0], g[1], g[2]) for g in c.execute(
            "SELECT first, last, since FROM gaps WHERE kiosk_id = ? AND db_epoch = ? ORDER BY first",
            (kiosk_id, epoch)))
        return Progress(row[0], row[1], gaps)

    def _save_gaps(self, c: sqlite3.Connection, kiosk_id: str, epoch: str, old: Progress, new: Progress) -> None:
        if new.gaps != old.gaps:
            c.execute("DELETE FROM gaps WHERE kiosk_id = ? AND db_epoch = ?", (kiosk_id, epoch))
            c.executemany("INSERT INTO gaps VALUES (?, ?, ?, ?, ?)",
                          [(kiosk_id, epoch, g.first, g.last, g.since) for g in new.gaps])

    def _progress(self, c: sqlite3.Connection, kiosk_id: str, epoch: str, seqs: list[int], now: float,
                  n_stored: int, n_quarantined: int, n_dup: int) -> Progress:
        old = self._load_progress(c, kiosk_id, epoch, now)
        new = advance(old, seqs, now)
        self._save_gaps(c, kiosk_id, epoch, old, new)
        c.execute("UPDATE streams SET acked_through = ?, max_seq = ?, stored = stored + ?, "
                  "quarantined = quarantined + ?, redelivered = redelivered + ?, last_seen = ? "
                  "WHERE kiosk_id = ? AND db_epoch = ?",
                  (new.acked_through, new.max_seq, n_stored, n_quarantined, n_dup, now, kiosk_id, epoch))
        return new

    # ------------------------------------------------------------------ lost seqs

    def report_lost(self, kiosk_id: str, report: dict[str, Any], nonce: str,
                    offline_after: float = 1800.0) -> dict[str, Any]:
        """Seqs a kiosk can never send (rows of a damaged log, POST /v1/lost): those the server does
        not hold are recorded as lost (one alarm for the new ones) and their gaps closed, so the
        stream's mark can pass them. Seqs it holds stay as they are. Idempotent."""
        epoch, reason = report["db_epoch"], str(report["reason"])
        asked = merge_ranges((int(a), int(b)) for a, b in report["ranges"])
        now = self.clock.wall()
        with self.txn() as c:
            self._use_nonce(c, kiosk_id, nonce, now)
            held: list[int] = []
            for first, last in asked:
                held += [r[0] for r in c.execute(
                    "SELECT seq FROM records WHERE kiosk_id = ? AND db_epoch = ? AND seq BETWEEN ? AND ? UNION "
                    "SELECT seq FROM quarantine WHERE kiosk_id = ? AND db_epoch = ? AND seq BETWEEN ? AND ?",
                    (kiosk_id, epoch, first, last, kiosk_id, epoch, first, last))]
            lost = subtract(asked, held)
            known = [(r[0], r[1]) for r in c.execute(
                "SELECT first, last FROM lost WHERE kiosk_id = ? AND db_epoch = ? ORDER BY first", (kiosk_id, epoch))]
            fresh = _minus(lost, known)
            merged = merge_ranges(known + lost)
            if merged != known:
                c.execute("DELETE FROM lost WHERE kiosk_id = ? AND db_epoch = ?", (kiosk_id, epoch))
                c.executemany("INSERT INTO lost VALUES (?, ?, ?, ?, ?, ?)",
                              [(kiosk_id, epoch, a, b, now, reason[:200]) for a, b in merged])
            if fresh:
                n = sum(b - a + 1 for a, b in fresh)
                shown = ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in fresh[:10])
                c.execute("INSERT INTO alarms (kiosk_id, at, kind, detail) VALUES (?, ?, 'lost', ?)",
                          (kiosk_id, now, f"epoch {epoch}: {n} record{'s' if n != 1 else ''} lost for good "
                                          f"(seq {shown}{' …' if len(fresh) > 10 else ''}): {reason[:200]}"))
            old = self._load_progress(c, kiosk_id, epoch, now)
            new = settle(old, lost, now)
            self._save_gaps(c, kiosk_id, epoch, old, new)
            c.execute("UPDATE streams SET acked_through = ?, max_seq = ?, last_seen = ? "
                      "WHERE kiosk_id = ? AND db_epoch = ?", (new.acked_through, new.max_seq, now, kiosk_id, epoch))
            self._contact(c, kiosk_id, now, offline_after)
        return {"db_epoch": epoch, "acked_through": new.acked_through, "max_seq": new.max_seq,
                "gaps": [[g.first, g.last] for g in new.gaps], "lost": [list(r) for r in merged],
                "newly_lost": sum(b - a + 1 for a, b in fresh), "server_time": now}

    def lost_count(self, kiosk_id: str) -> int:
        row = self.conn().execute("SELECT COALESCE(SUM(last - first + 1), 0) FROM lost WHERE kiosk_id = ?",
                                  (kiosk_id,)).fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ heartbeats

    def heartbeat(self, kiosk_id: str, payload: dict[str, Any], nonce: str,
                  offline_after: float = 1800.0) -> dict[str, Any]:
        now = self.clock.wall()
        with self.txn() as c:
            self._use_nonce(c, kiosk_id, nonce, now)
            c.execute("INSERT INTO heartbeats VALUES (?, ?, ?) ON CONFLICT (kiosk_id) DO UPDATE SET "
                      "received = excluded.received, payload = excluded.payload",
                      (kiosk_id, now, json.dumps(payload, ensure_ascii=False)[:65536]))
            self._contact(c, kiosk_id, now, offline_after)
            answer: dict[str, Any] = {"server_time": now}
            epoch = payload.get("db_epoch")
            if epoch:
                row = c.execute("SELECT acked_through FROM streams WHERE kiosk_id = ? AND db_epoch = ?",
                                (kiosk_id, epoch)).fetchone()
                answer["acked_through"] = row[0] if row else 0
                answer["gaps"] = [[g[0], g[1]] for g in c.execute(
                    "SELECT first, last FROM gaps WHERE kiosk_id = ? AND db_epoch = ? ORDER BY first",
                    (kiosk_id, epoch))]
        return answer

    # ------------------------------------------------------------------ bundles

    def publish_bundle(self, data: bytes) -> str:
        etag = f'"sha256:{hashlib.sha256(data).hexdigest()}"'
        with self.txn() as c:
            c.execute("INSERT INTO bundles (etag, data, published) VALUES (?, ?, ?)", (etag, data, self.clock.wall()))
        return etag

    def latest_bundle(self) -> tuple[str, bytes] | None:
        row = self.conn().execute("SELECT etag, data FROM bundles ORDER BY id DESC LIMIT 1").fetchone()
        return (row[0], bytes(row[1])) if row else None

    # ------------------------------------------------------------------ reading back

    def stream_rows(self, kiosk_id: str) -> list[sqlite3.Row]:
        return self.conn().execute("SELECT * FROM streams WHERE kiosk_id = ? ORDER BY first_seen",
                                   (kiosk_id,)).fetchall()

    def held(self, kiosk_id: str, epoch: str) -> Iterator[tuple[int, str]]:
        """(seq, digest) of every record held for a stream, stored or quarantined, in seq order."""
        yield from self.conn().execute(
            "SELECT seq, digest FROM records WHERE kiosk_id = ? AND db_epoch = ? UNION ALL "
            "SELECT seq, digest FROM quarantine WHERE kiosk_id = ? AND db_epoch = ? ORDER BY seq",
            (kiosk_id, epoch, kiosk_id, epoch))

    def duplicate_keys(self, kiosk_id: str) -> int:
        """Rows beyond one per key (the UNIQUE constraint keeps this at 0; checked, not assumed)."""
        row = self.conn().execute(
            "SELECT COUNT(*) - (SELECT COUNT(*) FROM (SELECT DISTINCT db_epoch, seq FROM records WHERE kiosk_id = ?)) "
            "FROM records WHERE kiosk_id = ?", (kiosk_id, kiosk_id)).fetchone()
        return int(row[0])


def _minus(ranges: list[tuple[int, int]], known: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``ranges`` not covered by ``known`` (both sorted and merged)."""
    out: list[tuple[int, int]] = []
    for first, last in ranges:
        start = first
        for a, b in known:
            if b < start or a > last:
                continue
            if a > start:
                out.append((start, a - 1))
            start = max(start, b + 1)
        if start <= last:
            out.append((start, last))
    return out
