"""What the district peak's request costs were cut to, and what they must still do: a bundle
check answered from memory (no database read), a heartbeat committed asynchronously on
PostgreSQL but stored, records still committed durably, and a pooled connection that went stale
while PostgreSQL restarted retried instead of failing the request (docs/street-server.md §3.2)."""

from __future__ import annotations

import math
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
    finally:
        engine.close()


def test_a_connection_gone_stale_in_a_restart_is_retried_not_failed(
        pg: PgCluster, pg_street: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "PING_IDLE_S", math.inf)   # never pinged: the first statement finds out
    url = pg.empty(pg_street)
    db = StreetDB(url, FakeClock(), pool_size=1)
    try:
        db.add_kiosk("k1")
        assert db.kiosk("k1") is not None
        pg.restart("fast")
        assert db.kiosk("k1") is not None                      # a read: retried on a fresh connection
        pg.restart("fast")
        db.add_kiosk("k2")                                      # a write refused at BEGIN: retried too
        assert db.kiosk("k2") is not None
    finally:
        db.close()
