"""The street database's rules, the same on both engines: ingest exactly once, gaps, counters,
the kiosk registry, heartbeats, bundles.

An answer of 200 tells a kiosk it may forget (purge) what it sent, so every acknowledged write
is durable before the answer leaves (each engine commits durably: street/storage/sqlite.py,
postgres.py). Records are keyed ``UNIQUE (kiosk_id, db_epoch, seq)`` with the digest of their
content; a re-sent record with the same digest is a duplicate (absorbed), one with another
digest is a conflict (409, nothing stored, an alarm). The full record is kept as canonical JSON
in ``body`` (so columns the kiosk adds later need no server change), with the columns the server
needs copied out beside it.

Every write of a kiosk runs in one transaction holding that kiosk's lock (engine.py): the nonce,
the held-or-new check, the rows, the per-hour counters, the stream's ``acked_through`` and gaps
and the kiosk's contact time commit together or not at all, whichever process receives the
request. The status page reads the counters (``counts``: per kiosk and UTC hour, each decision,
fever alerts and overrides; ``COUNTERS``), never the day's records.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kiosk.clock import Clock
from kiosk.schema import OVERRIDES
from street.alerts import outbox
from street.api.validate import record_problem
from street.doors import alerts as door_alerts
from street.doors import store as doors
from street.errors import Conflict, RegistryError, Replay, Revoked, ServerStoreError
from street.registry import credentials
from street.registry.places import Place, Scope
from street.storage import downtime, migrate
from street.storage.engine import Engine, Row, Tx
from street.storage.gaps import Gap, Progress, advance, merge_ranges, settle, subtract
from street.storage.registry_cache import ALL, RegistryCache
from sync.errors import BadRequest
from sync.protocol import KIOSK_ID_RE, WINDOW_S, canonical_record, digest_of

T = TypeVar("T")
HOUR_S = 3600
MAX_GAPS = 256           # open gaps one stream may have (issue 14: odd seqs made a batch cost 1.8 s)

REGISTRY_CHANNEL = "street_registry"     # NOTIFY payload: the kiosk id whose registry row changed, or "*"
NOTIFY_EACH_MAX = 20       # a registration of more kiosks than this sends one "*" (forget every entry)
MAX_ANCHORED = 200_000     # (kiosk, boot) pairs a process remembers as anchored (a few per kiosk)
NONCE_PRUNE_S = 600.0      # how often a process deletes one kiosk's expired nonces
SWEEP_EVERY_S = 30.0       # door sweeps ride on heartbeats, at most this often per process
_RECORD_COLS = ("kiosk_id", "db_epoch", "seq", "digest", "kind", "ts", "ts_source", "wall_ts", "clock_synced",
                "boot_id", "mono_ns", "decision", "cause", "device", "volunteer_ref", "temp_c", "body", "received")
# The counters per kiosk and hour (schema 4): one per decision, fever alerts, and overrides.
COUNTERS = ("passes", "fevers", "overrides", "denies", "manual_passes", "manual_denies", "emergency_opens")
_COUNTER_OF = {"pass": "passes", "deny": "denies", "manual_pass": "manual_passes", "manual_deny": "manual_denies",
               "emergency_open": "emergency_opens"}
_BY_DECISION = {decision: COUNTERS.index(counter) for decision, counter in _COUNTER_OF.items()}
_BUMP_COUNTS = (f"INSERT INTO counts (kiosk_id, hour, {', '.join(COUNTERS)}) "
                f"VALUES (?, ?, {', '.join('?' * len(COUNTERS))}) ON CONFLICT (kiosk_id, hour) DO UPDATE SET "
                + ", ".join(f"{c} = counts.{c} + excluded.{c}" for c in COUNTERS))

# A stream's progress and its open gaps in one statement (a row per gap; one with NULLs for none)
_STREAM_AND_GAPS = ("SELECT s.acked_through, s.max_seq, g.first, g.last, g.since FROM streams s "
                    "LEFT JOIN gaps g ON g.kiosk_id = s.kiosk_id AND g.db_epoch = s.db_epoch "
                    "WHERE s.kiosk_id = ? AND s.db_epoch = ? ORDER BY g.first")

Stored = tuple[dict[str, Any], str, str]        # (record, digest, canonical text)


def is_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def open_engine(target: str | Path, pool_size: int = 8) -> Engine:
    """The engine for a file path (SQLite) or a ``postgresql://`` URL."""
    if is_url(target):
        try:
            from street.storage.postgres import PostgresEngine
        except ImportError:
            raise ServerStoreError("PostgreSQL support is not installed: pip install 'checkpoint-kiosk[district]'") \
                from None
        return PostgresEngine(str(target), pool_size)
    from street.storage.sqlite import SQLiteEngine
    path = Path(target)
    if "://" in str(target):
        raise ServerStoreError(f"{str(target).split('://')[0]}:// is not a database this server knows "
                               "(a file path for SQLite, or postgresql://…)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServerStoreError(f"cannot open street database {path}: {exc.strerror or exc}") from None
    return SQLiteEngine(path)


@dataclass(frozen=True)
class KioskEntry:
    kiosk_id: str
    secret: bytes                    # the HMAC secret, or the Ed25519 public key (kind)
    revoked: float | None
    street: str | None = None
    kind: str = credentials.HMAC


@dataclass(frozen=True)
class Registration:
    kiosk_id: str
    place: Place
    credential: credentials.Credential


def hour_of(ts: float) -> int:
    return math.floor(ts / HOUR_S)


class Counts:
    """Per-hour counter deltas of one transaction, in the order of :data:`COUNTERS`."""

    def __init__(self) -> None:
        self.by_hour: dict[int, list[int]] = defaultdict(lambda: [0] * len(COUNTERS))

    def add(self, ts: float, kind: str, cause: str | None, decision: str | None, sign: int = 1) -> None:
        if kind != "pass" or not ts >= 0:
            return
        c = self.by_hour[hour_of(ts)]
        if decision in _BY_DECISION:
            c[_BY_DECISION[decision]] += sign
        c[1] += sign * (cause == "fever")
        c[2] += sign * (decision in OVERRIDES)

    def save(self, tx: Tx, kiosk_id: str) -> None:
        tx.many(_BUMP_COUNTS, [(kiosk_id, h, *c) for h, c in sorted(self.by_hour.items()) if any(c)])


class StreetDB:
    """The server's database on either engine. ``target``: a file path, a ``postgresql://`` URL, or
    an engine. A new database is created at the latest schema; an older one is refused unless
    ``upgrade`` (`street-server db upgrade`), a newer one always."""

    def __init__(self, target: str | Path | Engine, clock: Clock, *, upgrade: bool = False,
                 pool_size: int = 8) -> None:
        self.engine = open_engine(target, pool_size) if isinstance(target, (str, Path)) else target
        self.clock = clock
        self._anchor_cache: dict[tuple[str, str], tuple[float, int] | None] = {}
        # (kiosk, boot) whose synced records a committed ingest already anchored the boot by: its
        # earlier unsynced records were re-placed then, later ones are placed at insert
        self._anchored: set[tuple[str, str]] = set()
        self._swept_at = float("-inf")
        self._nonces_pruned: dict[str, float] = {}
        self._registry: RegistryCache[KioskEntry] = RegistryCache(clock)
        self._watching: bool | None = None      # None: not asked yet (only a serving process reads kiosks)
        self.bundles_published = 0          # bundles published through this handle (street/api/bundle_cache.py)
        self.applied: list[migrate.Migration] = []
        try:
            version = migrate.check(self.engine, allow_older=upgrade)
            if version == 0 or upgrade:
                self.applied = migrate.upgrade(self.engine)
        except BaseException:
            self.engine.close()
            raise

    @property
    def where(self) -> str:
        return self.engine.where

    def close(self) -> None:
        self.engine.close()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """A read in the portable dialect (``?`` placeholders), one snapshot."""
        return self.engine.read(lambda tx: tx.all(sql, params))

    def read(self, fn: Callable[[Tx], T], snapshot: bool = False) -> T:
        return self.engine.read(fn, snapshot)

    # ------------------------------------------------------------------ registry

    def add_kiosk(self, kiosk_id: str, place: Place | None = None, server_public: bytes | None = None) -> str:
        """Register one kiosk; returns its credential file's content (shown once): an Ed25519 key
        pair with the server's public key, else an HMAC secret (street/registry/credentials.py)."""
        cred = credentials.issue(server_public)
        self.register([Registration(kiosk_id, place or Place(), cred)])
        return cred.kiosk_file.strip()

    def register(self, entries: Sequence[Registration]) -> None:
        """Register kiosks and their places in one transaction: all of them or none.

        A kiosk already registered and not revoked is refused (revoke it first to issue a new
        credential); a revoked one gets its new credential. Places are created, or renamed by a
        non-empty name."""
        for e in entries:
            if not KIOSK_ID_RE.fullmatch(e.kiosk_id):
                raise RegistryError(f"kiosk id {e.kiosk_id[:40]!r} must be 1-64 letters, digits, '.', '_' or '-'")
            e.place.check()
        now = self.clock.wall()

        def write(tx: Tx) -> None:
            ids = [e.kiosk_id for e in entries]
            known = {}
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                marks = ", ".join("?" * len(part))
                for r in tx.all(f"SELECT kiosk_id, revoked FROM kiosks WHERE kiosk_id IN ({marks})", part):
                    known[r[0]] = r[1]
            taken = [k for k in ids if k in known and known[k] is None]
            if taken:
                shown = ", ".join(taken[:10]) + (" …" if len(taken) > 10 else "")
                raise RegistryError(f"kiosk {shown} {'is' if len(taken) == 1 else 'are'} already registered "
                                    "(revoke it first to issue a new secret)")
            self._save_places(tx, [e.place for e in entries])
            tx.many("INSERT INTO kiosks (kiosk_id, secret, created, street_id, compound_id, gate_id, gate_name, "
                    "credential_kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kiosk_id) DO UPDATE SET "
                    "secret = excluded.secret, created = excluded.created, revoked = NULL, "
                    "street_id = excluded.street_id, compound_id = excluded.compound_id, "
                    "gate_id = excluded.gate_id, gate_name = excluded.gate_name, "
                    "credential_kind = excluded.credential_kind",
                    [(e.kiosk_id, e.credential.stored, now, e.place.street or None, e.place.compound or None,
                      e.place.gate or None, e.place.gate_name, e.credential.kind) for e in entries])
            for key in ids if len(ids) <= NOTIFY_EACH_MAX else [ALL]:
                tx.notify(REGISTRY_CHANNEL, key)        # every server process drops its copy at commit

        self.engine.write(write)
        self._registry.changed(ALL, self._registry.live)           # this one's at once

    @staticmethod
    def _save_places(tx: Tx, places: Sequence[Place]) -> None:
        def upsert(table: str, keys: tuple[str, ...], rows: dict[Any, Any], extra: tuple[str, ...]) -> None:
            cols = (*keys, *extra)
            sets = ", ".join(f"{c} = CASE WHEN excluded.{c} != '' THEN excluded.{c} ELSE {table}.{c} END"
                             if c == "name" else f"{c} = COALESCE(excluded.{c}, {table}.{c})" for c in extra)
            tx.many(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                    f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}", [(*k, *v) for k, v in rows.items()])

        districts = {(p.district,): (p.district_name,) for p in places if p.district}
        streets = {(p.street,): (p.district or None, p.street_name) for p in places if p.street}
        compounds = {(p.street, p.compound): (p.compound_name,) for p in places if p.compound}
        upsert("districts", ("district_id",), districts, ("name",))
        upsert("streets", ("street_id",), streets, ("district_id", "name"))
        upsert("compounds", ("street_id", "compound_id"), compounds, ("name",))

    def revoke_kiosk(self, kiosk_id: str) -> None:
        def write(tx: Tx) -> None:
            if tx.run("UPDATE kiosks SET revoked = ? WHERE kiosk_id = ? AND revoked IS NULL",
                      (self.clock.wall(), kiosk_id)) == 0:
                raise RegistryError(f"kiosk {kiosk_id} is not registered (or already revoked)")
            tx.notify(REGISTRY_CHANNEL, kiosk_id)      # every server process drops its copy at commit
        self.engine.write(write)
        self._registry.changed(kiosk_id, self._registry.live)      # this one's at once

    def kiosk(self, kiosk_id: str) -> KioskEntry | None:
        """The kiosk's registry entry, for the signature check of each of its requests: from this
        process's copy while the engine's change feed is live (PostgreSQL), else read
        (street/storage/registry_cache.py). An unknown kiosk is never kept."""
        if self._watching is None:
            self._watching = self.engine.watch(REGISTRY_CHANNEL, self._registry.changed)
        entry = self._registry.get(kiosk_id)
        if entry is not None:
            return entry
        generation = self._registry.generation()
        row = self.engine.read(lambda tx: tx.one(
            "SELECT kiosk_id, secret, revoked, street_id, credential_kind FROM kiosks WHERE kiosk_id = ?",
            (kiosk_id,)))
        if row is None:
            return None
        entry = KioskEntry(row[0], bytes.fromhex(row[1]), row[2], row[3], row[4])
        self._registry.put(kiosk_id, entry, generation)
        return entry

    def kiosks(self, scope: Scope | None = None) -> list[Row]:
        """The registry with each kiosk's place and names, in place order."""
        return self.engine.read(lambda tx: self.kiosks_in(tx, scope or Scope()))

    @staticmethod
    def kiosks_in(tx: Tx, scope: Scope) -> list[Row]:
        cond, params = scope.where("k")
        return tx.all(
            "SELECT k.kiosk_id, k.revoked, k.last_contact, k.online_since, k.street_id, k.compound_id, "
            "k.gate_id, k.gate_name, k.credential_kind, s.district_id, COALESCE(d.name, '') AS district_name, "
            "COALESCE(s.name, '') AS street_name, COALESCE(c.name, '') AS compound_name "
            "FROM kiosks k LEFT JOIN streets s ON s.street_id = k.street_id "
            "LEFT JOIN districts d ON d.district_id = s.district_id "
            "LEFT JOIN compounds c ON c.street_id = k.street_id AND c.compound_id = k.compound_id "
            f"WHERE {cond} ORDER BY COALESCE(k.street_id, ''), COALESCE(k.compound_id, ''), k.kiosk_id", params)

    # ------------------------------------------------------------------ helpers inside a write

    def _use_nonce(self, tx: Tx, kiosk_id: str, nonce: str, now: float) -> None:
        """Spend the request's nonce; first refuse a kiosk found revoked under its lock (the
        signature check may have used a copy of the registry a few milliseconds old)."""
        if tx.locked is not None and tx.locked[0] is not None:
            raise Revoked(kiosk_id)
        if tx.run("INSERT INTO nonces (kiosk_id, nonce, expires) VALUES (?, ?, ?) "
                  "ON CONFLICT (kiosk_id, nonce) DO NOTHING", (kiosk_id, nonce, now + WINDOW_S)) == 0:
            raise Replay()
        # a kiosk's expired nonces go at most every NONCE_PRUNE_S per process, not at every write:
        # a statement less for most requests, and at most a few dozen expired rows per kiosk
        if now - self._nonces_pruned.get(kiosk_id, -math.inf) >= NONCE_PRUNE_S:
            tx.run("DELETE FROM nonces WHERE kiosk_id = ? AND expires < ?", (kiosk_id, now - WINDOW_S))
            self._nonces_pruned[kiosk_id] = now

    @staticmethod
    def _contact(tx: Tx, kiosk_id: str, now: float, offline_after: float) -> None:
        last = tx.locked[1] if tx.locked is not None else None
        if tx.locked is None or (last is not None and now - last > offline_after):
            # the silence this contact ends, if any (known from the lock's read: mostly none)
            downtime.note_contact(tx, kiosk_id, now, offline_after)
        tx.run("UPDATE kiosks SET online_since = CASE WHEN last_contact IS NULL OR ? - last_contact > ? "
               "THEN ? ELSE online_since END, last_contact = ? WHERE kiosk_id = ?",
               (now, offline_after, now, now, kiosk_id))

    @staticmethod
    def _alarm(tx: Tx, kiosk_id: str, now: float, kind: str, details: Sequence[str]) -> None:
        tx.many("INSERT INTO alarms (kiosk_id, at, kind, detail) VALUES (?, ?, ?, ?)",
                [(kiosk_id, now, kind, d) for d in details])

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
        raised: list[door_alerts.DoorAlert] = []
        synced_boots: set[str] = set()

        def write(tx: Tx) -> dict[str, Any]:
            raised.clear()          # a retried transaction raises its alerts afresh
            synced_boots.clear()
            self._use_nonce(tx, kiosk_id, nonce, now)
            held = {int(r[0]): r[1] for r in tx.all(      # stored or quarantined: one statement
                "SELECT seq, digest FROM records WHERE kiosk_id = ? AND db_epoch = ? AND seq BETWEEN ? AND ? "
                "UNION ALL SELECT seq, digest FROM quarantine WHERE kiosk_id = ? AND db_epoch = ? "
                "AND seq BETWEEN ? AND ?", (kiosk_id, epoch, seqs[0], seqs[-1], kiosk_id, epoch, seqs[0], seqs[-1]))}
            conflicts = [s for s, d in zip(seqs, digests, strict=True) if s in held and held[s] != d]
            if conflicts:
                raise Conflict(conflicts)
            fresh = [(r, d, c) for r, d, c, s in zip(records, digests, canon, seqs, strict=True) if s not in held]
            stored: list[Stored] = []
            quarantined: list[dict[str, Any]] = []
            q_rows = []
            for rec, digest, text in fresh:
                problem = record_problem(rec)
                if problem is None:
                    stored.append((rec, digest, text))
                else:
                    quarantined.append({"seq": rec["seq"], "reason": problem})
                    kept = doors.redacted(rec, text)      # a door record's free text may hold a name: not kept
                    q_rows.append((kiosk_id, epoch, rec["seq"], digest, problem, kept[:16384], now))
            rows = self._record_rows(tx, kiosk_id, batch, stored, now)
            tx.insert("records", _RECORD_COLS, rows, "ON CONFLICT (kiosk_id, db_epoch, seq) DO NOTHING")
            if doors.has_door_records([r[4] for r in rows]):
                raised.extend(doors.note_records(tx, kiosk_id, epoch,
                                                 [(s[0], r[5]) for s, r in zip(stored, rows, strict=True)]))
            counts = Counts()
            for r in rows:
                counts.add(r[5], r[4], r[12], r[11])
            outbox.from_records(tx, kiosk_id, rows, now)
            if q_rows:
                tx.many("INSERT INTO quarantine (kiosk_id, db_epoch, seq, digest, reason, body, received) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", q_rows)
                self._alarm(tx, kiosk_id, now, "quarantine", [f"seq {q['seq']}: {q['reason']}" for q in quarantined])
            self._reanchor(tx, kiosk_id, stored, counts)
            synced_boots.update(rec["boot_id"] for rec, *_ in stored if rec["clock_synced"] == 1)
            counts.save(tx, kiosk_id)
            progress = self._progress(tx, kiosk_id, epoch, seqs, now, len(stored), len(quarantined),
                                      len(records) - len(fresh))
            self._contact(tx, kiosk_id, now, offline_after)
            return {"db_epoch": epoch, "batch_through": seqs[-1], "acked_through": progress.acked_through,
                    "max_seq": progress.max_seq, "gaps": [[g.first, g.last] for g in progress.gaps],
                    "stored": len(stored), "duplicates": len(records) - len(fresh), "quarantined": quarantined,
                    "server_time": now}

        answer = self.engine.write(write, lock=kiosk_id)
        if len(self._anchored) > MAX_ANCHORED:
            self._anchored.clear()          # forgetting costs the two lookups again, once per boot
        self._anchored.update((kiosk_id, boot) for boot in synced_boots)      # committed: final
        for alert in raised:
            door_alerts.log_raised(alert)
        return answer

    def record_conflict(self, kiosk_id: str, conflict: Conflict) -> None:
        self.engine.write(lambda tx: self._alarm(tx, kiosk_id, self.clock.wall(), "conflict", [str(conflict)]),
                          lock=kiosk_id)

    def _record_rows(self, tx: Tx, kiosk_id: str, batch: dict[str, Any],
                     stored: Sequence[Stored], now: float) -> list[tuple[Any, ...]]:
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
                anchor = self._anchor(tx, kiosk_id, boot, stored)
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

    def _anchor(self, tx: Tx, kiosk_id: str, boot: str, stored: Sequence[Stored],
                remember: bool = True) -> tuple[float, int] | None:
        key = (kiosk_id, boot)
        if key in self._anchor_cache:
            return self._anchor_cache[key]
        row = tx.one("SELECT wall_ts, mono_ns FROM records WHERE kiosk_id = ? AND boot_id = ? AND clock_synced = 1 "
                     "ORDER BY seq LIMIT 1", (kiosk_id, boot))
        anchor = (float(row[0]), int(row[1])) if row else None
        if anchor is None:
            for rec, *_ in stored:
                if rec["boot_id"] == boot and rec["clock_synced"] == 1:
                    anchor = (rec["wall_ts"], rec["mono_ns"])
                    break
        if row is not None and remember:    # only a committed anchor is final; one from this batch is stored next
            self._anchor_cache[key] = anchor
        return anchor

    def _reanchor(self, tx: Tx, kiosk_id: str, stored: Sequence[Stored], counts: Counts) -> None:
        """A boot's first synced record also corrects its earlier pre-sync records already stored
        (and moves them between hourly counters)."""
        done: set[str] = set()
        for rec, *_ in stored:
            boot = rec["boot_id"]
            if rec["clock_synced"] != 1 or boot in done or (kiosk_id, boot) in self._anchored:
                continue                    # (anchored by a committed batch before: nothing left to move)
            done.add(boot)
            anchor = self._anchor(tx, kiosk_id, boot, stored, remember=False)
            if anchor is None:
                continue
            moved = tx.all("SELECT id, mono_ns, ts, kind, cause, decision FROM records WHERE kiosk_id = ? "
                           "AND boot_id = ? AND clock_synced = 0 AND ts_source != 'anchor'", (kiosk_id, boot))
            updates = []
            for r in moved:
                ts = anchor[0] - (anchor[1] - r[1]) / 1e9
                counts.add(r[2], r[3], r[4], r[5], sign=-1)
                counts.add(ts, r[3], r[4], r[5])
                updates.append((ts, r[0]))
            tx.many("UPDATE records SET ts = ?, ts_source = 'anchor' WHERE id = ?", updates)

    def _load_progress(self, tx: Tx, kiosk_id: str, epoch: str, now: float) -> Progress:
        rows = tx.all(_STREAM_AND_GAPS, (kiosk_id, epoch))
        if not rows:
            tx.run("INSERT INTO streams (kiosk_id, db_epoch, first_seen) VALUES (?, ?, ?)", (kiosk_id, epoch, now))
            return Progress(0, 0, ())
        gaps = tuple(Gap(int(g[2]), int(g[3]), float(g[4])) for g in rows if g[2] is not None)
        return Progress(int(rows[0][0]), int(rows[0][1]), gaps)

    @staticmethod
    def _save_gaps(tx: Tx, kiosk_id: str, epoch: str, old: Progress, new: Progress) -> None:
        if len(new.gaps) > MAX_GAPS and len(new.gaps) > len(old.gaps):
            # a kiosk sends its seqs in order; a batch that scatters them is refused, not bookkept
            raise BadRequest(f"this batch would leave {len(new.gaps)} gaps in epoch {epoch} (at most {MAX_GAPS}): "
                             "send records in seq order", 422, "too_many_gaps")
        if new.gaps != old.gaps:
            tx.run("DELETE FROM gaps WHERE kiosk_id = ? AND db_epoch = ?", (kiosk_id, epoch))
            tx.many("INSERT INTO gaps (kiosk_id, db_epoch, first, last, since) VALUES (?, ?, ?, ?, ?)",
                    [(kiosk_id, epoch, g.first, g.last, g.since) for g in new.gaps])

    def _progress(self, tx: Tx, kiosk_id: str, epoch: str, seqs: list[int], now: float,
                  n_stored: int, n_quarantined: int, n_dup: int) -> Progress:
        old = self._load_progress(tx, kiosk_id, epoch, now)
        new = advance(old, seqs, now)
        self._save_gaps(tx, kiosk_id, epoch, old, new)
        tx.run("UPDATE streams SET acked_through = ?, max_seq = ?, stored = stored + ?, "
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

        def write(tx: Tx) -> dict[str, Any]:
            self._use_nonce(tx, kiosk_id, nonce, now)
            held: list[int] = []
            for first, last in asked:
                held += [int(r[0]) for r in tx.all(
                    "SELECT seq FROM records WHERE kiosk_id = ? AND db_epoch = ? AND seq BETWEEN ? AND ? UNION "
                    "SELECT seq FROM quarantine WHERE kiosk_id = ? AND db_epoch = ? AND seq BETWEEN ? AND ?",
                    (kiosk_id, epoch, first, last, kiosk_id, epoch, first, last))]
            lost = subtract(asked, held)
            known = [(int(r[0]), int(r[1])) for r in tx.all(
                "SELECT first, last FROM lost WHERE kiosk_id = ? AND db_epoch = ? ORDER BY first", (kiosk_id, epoch))]
            fresh = _minus(lost, known)
            merged = merge_ranges(known + lost)
            if merged != known:
                tx.run("DELETE FROM lost WHERE kiosk_id = ? AND db_epoch = ?", (kiosk_id, epoch))
                tx.many("INSERT INTO lost (kiosk_id, db_epoch, first, last, reported, reason) "
                        "VALUES (?, ?, ?, ?, ?, ?)", [(kiosk_id, epoch, a, b, now, reason[:200]) for a, b in merged])
            if fresh:
                n = sum(b - a + 1 for a, b in fresh)
                shown = ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in fresh[:10])
                self._alarm(tx, kiosk_id, now, "lost", [
                    f"epoch {epoch}: {n} record{'s' if n != 1 else ''} lost for good "
                    f"(seq {shown}{' …' if len(fresh) > 10 else ''}): {reason[:200]}"])
            old = self._load_progress(tx, kiosk_id, epoch, now)
            new = settle(old, lost, now)
            self._save_gaps(tx, kiosk_id, epoch, old, new)
            tx.run("UPDATE streams SET acked_through = ?, max_seq = ?, last_seen = ? "
                   "WHERE kiosk_id = ? AND db_epoch = ?", (new.acked_through, new.max_seq, now, kiosk_id, epoch))
            self._contact(tx, kiosk_id, now, offline_after)
            return {"db_epoch": epoch, "acked_through": new.acked_through, "max_seq": new.max_seq,
                    "gaps": [[g.first, g.last] for g in new.gaps], "lost": [list(r) for r in merged],
                    "newly_lost": sum(b - a + 1 for a, b in fresh), "server_time": now}

        return self.engine.write(write, lock=kiosk_id)

    def purge(self, before: float, batch: int = 5000) -> int:
        """Server-side retention (issue 14): delete records (and quarantined ones) older than
        ``before`` that their stream has acknowledged — the kiosk purges the same ones at its own
        ``keep_acked_days`` — in batches, so kiosks' writes never wait long. Returns how many.
        The per-hour counters stay: they name no one."""
        total = 0
        for table, when in (("records", "ts"), ("quarantine", "received")):
            sql = (f"DELETE FROM {table} WHERE (kiosk_id, db_epoch, seq) IN ("
                   f"SELECT r.kiosk_id, r.db_epoch, r.seq FROM {table} r JOIN streams s "
                   f"ON s.kiosk_id = r.kiosk_id AND s.db_epoch = r.db_epoch "
                   f"WHERE r.{when} < ? AND r.seq <= s.acked_through LIMIT ?)")

            def one_batch(tx: Tx, sql: str = sql) -> int:
                return tx.run(sql, (before, batch))
            while True:
                n = self.engine.write(one_batch)
                total += n
                if n < batch:
                    break
        return total

    def lost_count(self, kiosk_id: str) -> int:
        row = self.rows("SELECT COALESCE(SUM(CAST(last - first + 1 AS DOUBLE PRECISION)), 0) FROM lost "
                        "WHERE kiosk_id = ?", (kiosk_id,))
        return int(row[0][0])

    # ------------------------------------------------------------------ heartbeats

    def heartbeat(self, kiosk_id: str, payload: dict[str, Any], nonce: str,
                  offline_after: float = 1800.0) -> dict[str, Any]:
        now = self.clock.wall()
        text = json.dumps(payload, ensure_ascii=False)     # validated and capped (street/api/validate.py): never cut

        def write(tx: Tx) -> dict[str, Any]:
            self._use_nonce(tx, kiosk_id, nonce, now)
            tx.run("INSERT INTO heartbeats (kiosk_id, received, payload) VALUES (?, ?, ?) ON CONFLICT (kiosk_id) "
                   "DO UPDATE SET received = excluded.received, payload = excluded.payload", (kiosk_id, now, text))
            self._contact(tx, kiosk_id, now, offline_after)
            answer: dict[str, Any] = {"server_time": now}
            epoch = payload.get("db_epoch")
            if epoch:
                rows = tx.all(_STREAM_AND_GAPS, (kiosk_id, epoch))
                answer["acked_through"] = int(rows[0][0]) if rows else 0
                answer["gaps"] = [[int(g[2]), int(g[3])] for g in rows if g[2] is not None]
            return answer

        # not durable: a heartbeat promises nothing, and a crash losing the last one costs the
        # board a few seconds of "last seen" (docs/street-server.md §3.2); records stay durable
        answer = self.engine.write(write, lock=kiosk_id, durable=False)
        if now - self._swept_at >= SWEEP_EVERY_S:
            try:
                self.door_sweep()
            except ServerStoreError:
                pass            # the heartbeat is stored; the next one (or the board) sweeps again
        return answer

    # ------------------------------------------------------------------ door nodes

    def door_sweep(self, lost_after: float = doors.LOST_AFTER_S) -> doors.SweepResult:
        """End quarantines, notice lost door nodes, apply retention (street/doors/store.py); run
        from heartbeats at most every SWEEP_EVERY_S per process, and when the board is read."""
        now = self.clock.wall()
        self._swept_at = now
        result = self.engine.write(lambda tx: doors.sweep(tx, now, lost_after))
        for alert in result.alerts:
            door_alerts.log_raised(alert)
        return result

    def door_acknowledge(self, alert_id: int, staff: str, note: str) -> None:
        now = self.clock.wall()
        self.engine.write(lambda tx: doors.acknowledge(tx, alert_id, staff, note, now))

    # ------------------------------------------------------------------ bundles

    def publish_bundle(self, data: bytes, street: str | None = None) -> str:
        """Publish a trust bundle for one street's kiosks, or (``street`` None) for every kiosk
        whose street has none of its own."""
        etag = f'"sha256:{hashlib.sha256(data).hexdigest()}"'
        self.engine.write(lambda tx: tx.run("INSERT INTO bundles (etag, data, published, street_id) "
                                            "VALUES (?, ?, ?, ?)", (etag, data, self.clock.wall(), street)))
        self.bundles_published += 1
        return etag

    def latest_bundle(self, street: str | None = None) -> tuple[str, bytes] | None:
        """The newest bundle of ``street``, else the newest one for every street."""
        row = self.engine.read(lambda tx: tx.one(
            "SELECT etag, data FROM bundles WHERE street_id = ? OR street_id IS NULL "
            "ORDER BY CASE WHEN street_id IS NULL THEN 1 ELSE 0 END, id DESC LIMIT 1", (street,)))
        return (row[0], bytes(row[1])) if row else None

    # ------------------------------------------------------------------ reading back

    def stream_rows(self, kiosk_id: str) -> list[Row]:
        return self.rows("SELECT * FROM streams WHERE kiosk_id = ? ORDER BY first_seen", (kiosk_id,))

    def held(self, kiosk_id: str, epoch: str) -> Iterator[tuple[int, str]]:
        """(seq, digest) of every record held for a stream, stored or quarantined, in seq order."""
        for r in self.rows("SELECT seq, digest FROM records WHERE kiosk_id = ? AND db_epoch = ? UNION ALL "
                           "SELECT seq, digest FROM quarantine WHERE kiosk_id = ? AND db_epoch = ? ORDER BY seq",
                           (kiosk_id, epoch, kiosk_id, epoch)):
            yield int(r[0]), r[1]

    def duplicate_keys(self, kiosk_id: str) -> int:
        """Rows beyond one per key (the UNIQUE constraint keeps this at 0; checked, not assumed)."""
        row = self.rows(
            "SELECT COUNT(*) - (SELECT COUNT(*) FROM (SELECT DISTINCT db_epoch, seq FROM records "
            "WHERE kiosk_id = ?) d) FROM records WHERE kiosk_id = ?", (kiosk_id, kiosk_id))
        return int(row[0][0])


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
