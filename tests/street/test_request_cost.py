"""What the district peak's request costs were cut to, and what they must still do: a bundle
check answered from memory (no database read), the signature check's registry entry kept per
process yet a revocation by another process refused at once, a heartbeat committed asynchronously
on PostgreSQL but stored, records still committed durably, and a pooled connection that went
stale while PostgreSQL restarted retried instead of failing the request (docs/street-server.md
§3.2)."""

from __future__ import annotations

import math
import queue
import threading
from pathlib import Path
from typing import Any

import pytest

from kiosk.clock import FakeClock
from street.api import bundle_cache
from street.server import StreetServer
from street.storage import postgres
from street.storage.db import StreetDB
from sync import protocol
from tests.pgcluster import PgCluster
from tests.synckit import Signer, batch, rec

EPOCH = "e" * 32


def test_a_bundle_check_is_answered_from_memory_until_the_cache_expires(db_target: str | Path) -> None:
    clock = FakeClock(wall=1_780_000_000.0)
    with StreetServer(db_target, clock=clock) as server:
        k = Signer(server.url, "k1", server.db.add_kiosk("k1"))
        v1 = server.db.publish_bundle(b"bundle-v1")
        first = k.get(protocol.BUNDLE_PATH, now=clock.wall())
        assert first.status_code == 200 and first.headers["ETag"] == v1
        # another process publishes v2: within the cache's time the answer comes from memory,
        # which a database read would have contradicted
        other = StreetDB(db_target, clock)
        try:
            v2 = other.publish_bundle(b"bundle-v2")
        finally:
            other.close()
        assert k.get(protocol.BUNDLE_PATH, {"If-None-Match": v1}, now=clock.wall()).status_code == 304
        clock.advance(bundle_cache.TTL_S)
        fresh = k.get(protocol.BUNDLE_PATH, {"If-None-Match": v1}, now=clock.wall())
        assert fresh.status_code == 200 and fresh.content == b"bundle-v2" and fresh.headers["ETag"] == v2
        assert k.get(protocol.BUNDLE_PATH, {"If-None-Match": v2}, now=clock.wall()).status_code == 304


def test_a_kiosk_revoked_by_another_process_is_refused_at_once(db_target: str | Path) -> None:
    """PostgreSQL: the signature check reads a copy of the registry that a NOTIFY from the revoking
    process drops; until that notice lands a write still finds the revocation under its lock.
    The notice is held back here to make that window as long as the test needs."""
    clock = FakeClock(wall=1_780_000_000.0)
    with StreetServer(db_target, clock=clock) as server:
        cache = server.db._registry
        notices: queue.Queue[tuple[str | None, bool]] = queue.Queue()
        release = threading.Event()
        real_changed = cache.changed

        def changed(key: str | None, live: bool) -> None:      # the listener thread's callback
            if key == "k1" and threading.current_thread().name.startswith("pg-listen"):
                release.wait(10)                                # the notice "in flight"
            real_changed(key, live)
            notices.put((key, live))

        cache.changed = changed                   # type: ignore[method-assign]   # before the feed starts
        reads = [0]
        real_read = server.db.engine.read

        def counting(fn: Any, snapshot: bool = False) -> Any:
            reads[0] += 1
            return real_read(fn, snapshot)

        server.db.engine.read = counting          # type: ignore[method-assign]
        k = Signer(server.url, "k1", server.db.add_kiosk("k1"))

        def beat() -> Any:
            return k.post(protocol.HEARTBEAT_PATH, {"kiosk_id": "k1", "sent_wall": clock.wall()}, now=clock.wall())

        assert beat().status_code == 200          # the first request starts the feed (PostgreSQL)
        pg = server.db.engine.kind == "postgresql"
        if pg:
            while notices.get(timeout=10) != (None, True):      # listening: the copy may be used
                pass
            assert beat().status_code == 200      # read once more, and kept
            before = reads[0]
            assert beat().status_code == 200
            assert reads[0] == before             # the signature check read no registry row
        admin = StreetDB(db_target, clock)        # `street-server kiosk revoke` in another process
        try:
            admin.revoke_kiosk("k1")
        finally:
            admin.close()
        r = beat()                                # at once, whatever this process's copy says
        assert r.status_code == 401 and r.json()["code"] == "revoked"
        if pg:
            # the copy still holds k1 (its notice is held back): only the lock's read refused it
            assert k.get(protocol.BUNDLE_PATH, now=clock.wall()).status_code in (200, 204)
            release.set()
            while notices.get(timeout=10) != ("k1", True):
                pass
        r = k.get(protocol.BUNDLE_PATH, now=clock.wall())
        assert r.status_code == 401 and r.json()["code"] == "revoked"
        release.set()


def test_heartbeats_are_stored_and_records_committed_durably(db_target: str | Path) -> None:
    """The heartbeat's write asks for no durable commit, the ingest's does; both land."""
    clock = FakeClock(wall=1_780_000_000.0)
    with StreetServer(db_target, clock=clock) as server:
        asked: list[tuple[str, bool]] = []
        real_write = server.db.engine.write

        def spy(fn: Any, lock: str | None = None, durable: bool = True) -> Any:
            asked.append((getattr(fn, "__qualname__", "").split(".")[1], durable))
            return real_write(fn, lock, durable)

        server.db.engine.write = spy              # type: ignore[method-assign]
        k = Signer(server.url, "k1", server.db.add_kiosk("k1"))
        up = k.post(protocol.RECORDS_PATH, batch("k1", EPOCH, [rec("k1", EPOCH, 1)], sent_wall=clock.wall()),
                    now=clock.wall())
        beat = k.post(protocol.HEARTBEAT_PATH, {"kiosk_id": "k1", "sent_wall": clock.wall(), "db_epoch": EPOCH,
                                                "backlog": 7}, now=clock.wall())
        assert up.status_code == 200 and beat.status_code == 200 and beat.json()["acked_through"] == 1
        assert ("ingest", True) in asked and ("heartbeat", False) in asked
    reader = StreetDB(db_target, clock)           # another handle: what was committed
    try:
        (row,) = reader.rows("SELECT payload FROM heartbeats WHERE kiosk_id = 'k1'")
        assert '"backlog": 7' in row[0]
        assert reader.rows("SELECT COUNT(*) FROM records WHERE kiosk_id = 'k1'")[0][0] == 1
    finally:
        reader.close()


def test_a_non_durable_write_turns_synchronous_commit_off_for_itself_only(pg_street: str) -> None:
    engine = postgres.PostgresEngine(pg_street, pool_size=1)     # one connection: the same one each time
    try:
        def show(tx: Any) -> str:
            return str(tx.one("SHOW synchronous_commit")[0])
        assert engine.write(show, durable=False) == "off"
        assert engine.write(show) == "on"
        assert engine.read(show) == "on"
        # a heartbeat's: set by the kiosk's lock statement itself (set_config), not a statement more
        engine.write(lambda tx: tx.run("INSERT INTO kiosks (kiosk_id, secret, created) VALUES ('sc', '00', 0) "
                                       "ON CONFLICT (kiosk_id) DO NOTHING"))
        assert engine.write(show, lock="sc", durable=False) == "off"
        assert engine.write(show, lock="sc") == "on"
    finally:
        engine.close()


def test_a_connection_gone_stale_in_a_restart_is_retried_not_failed(
        pg: PgCluster, pg_street: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "PING_IDLE_S", math.inf)   # never pinged: the first statement finds out
    url = pg.empty(pg_street)
    db = StreetDB(url, FakeClock(), pool_size=1)
    try:
        db.add_kiosk("k1")
        assert len(db.kiosks()) == 1                            # (the registry read, never a kept copy)
        pg.restart("fast")
        assert len(db.kiosks()) == 1                            # a read: retried on a fresh connection
        pg.restart("fast")
        db.add_kiosk("k2")                                      # a write refused at BEGIN: retried too
        assert len(db.kiosks()) == 2
    finally:
        db.close()


def counting_statements(db: StreetDB) -> list[int]:
    """The statements each write's function runs from now on (after the engine's BEGIN and lock)."""
    seen: list[int] = []
    real_write = db.engine.write

    def spy(fn: Any, lock: str | None = None, durable: bool = True) -> Any:
        def counted(tx: Any) -> Any:
            n = [0]

            class Counting:
                locked = tx.locked

                def __getattr__(self, name: str) -> Any:
                    attr = getattr(tx, name)
                    if name not in ("run", "many", "insert", "one", "all", "notify"):
                        return attr

                    def statement(*args: Any) -> Any:
                        n[0] += 1
                        return attr(*args)
                    return statement
            try:
                return fn(Counting())
            finally:
                seen.append(n[0])
        return real_write(counted, lock, durable)

    db.engine.write = spy                         # type: ignore[method-assign]
    return seen


def test_a_heartbeat_and_an_upload_make_only_the_statements_they_need(db_target: str | Path) -> None:
    """A heartbeat: nonce, heartbeat, contact, the stream with its gaps — the offline stretch only
    when a contact ends a silence. An upload of an already anchored boot: nonce, held, rows,
    counters, progress, its update, contact (was 12: two held checks, the boot's anchor and the
    records to move by it, stream and gaps apart, the offline stretch)."""
    clock = FakeClock(wall=1_780_000_000.0)
    db = StreetDB(db_target, clock)
    try:
        db.add_kiosk("k1")
        beat = {"kiosk_id": "k1", "sent_wall": clock.wall(), "db_epoch": EPOCH}
        db.heartbeat("k1", beat, protocol.new_nonce())          # the kiosk's first: prunes its nonces
        db.ingest("k1", batch("k1", EPOCH, [rec("k1", EPOCH, 1)]), protocol.new_nonce())
        seen = counting_statements(db)
        db.heartbeat("k1", beat, protocol.new_nonce())
        db.ingest("k1", batch("k1", EPOCH, [rec("k1", EPOCH, 2), rec("k1", EPOCH, 3)]), protocol.new_nonce())
        assert seen == [4, 7]
        clock.advance(2000)                                     # silent longer than offline_after (1800 s)
        db.heartbeat("k1", beat, protocol.new_nonce())
        assert seen[2] == 6             # + the offline stretch, + expired nonces (every 10 min); then a door sweep
        (spell,) = db.rows("SELECT began, ended FROM offline_spells WHERE kiosk_id = 'k1'")
        assert float(spell[1]) - float(spell[0]) == pytest.approx(2000)
    finally:
        db.close()
