"""The district server against real processes on a real PostgreSQL: several server processes
writing one kiosk's stream, a connection lost mid-batch, and the office's pool apart from the
kiosks'."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from kiosk.clock import SystemClock
from street.office import status_page
from street.server import StreetServer
from street.storage.db import StreetDB
from sync import protocol
from tests.office_login import office
from tests.pgcluster import PgCluster
from tests.street.procs import serving
from tests.synckit import Signer, batch, rec

EPOCH = str(uuid.uuid4())


def register(url: str, kiosk_id: str = "k1") -> str:
    db = StreetDB(url, SystemClock(assume_synced=True), pool_size=1)
    try:
        return db.add_kiosk(kiosk_id)
    finally:
        db.close()


def check_stream(url: str, last: int, records: dict[int, dict[str, Any]]) -> None:
    """The server holds seqs 1..last once each, with the content sent, and its mark is at ``last``."""
    db = StreetDB(url, SystemClock(assume_synced=True), pool_size=1)
    try:
        held = dict(db.held("k1", EPOCH))
        assert sorted(held) == list(range(1, last + 1))
        assert all(held[s] == protocol.record_digest(records[s]) for s in held)
        assert db.duplicate_keys("k1") == 0
        (stream,) = db.stream_rows("k1")
        assert (stream["acked_through"], stream["max_seq"]) == (last, last)
        assert db.rows("SELECT COUNT(*) FROM gaps")[0][0] == 0
        assert db.rows("SELECT SUM(passes) FROM counts")[0][0] == last
    finally:
        db.close()


def test_two_processes_receiving_one_kiosks_overlapping_retries_store_each_record_once(
        pg: PgCluster, pg_street: str, tmp_path: Path) -> None:
    url = pg.empty(pg_street)
    secret = register(url)
    records = {s: rec("k1", EPOCH, s) for s in range(1, 311)}
    answers: list[requests.Response] = []
    lock = threading.Lock()
    # one gunicorn arbiter with two workers, and one plain server process: three processes, one database
    with serving(url, "--workers", "2", log=tmp_path / "a.log") as (a, _), \
            serving(url, log=tmp_path / "b.log") as (b, _):
        ka, kb = Signer(a, "k1", secret), Signer(b, "k1", secret)

        def send(k: Signer, lo: int, hi: int, start: threading.Barrier) -> None:
            body = batch("k1", EPOCH, [records[s] for s in range(lo, hi + 1)])
            start.wait()
            r = k.post(protocol.RECORDS_PATH, body)
            with lock:
                answers.append(r)

        for lo in range(1, 301, 10):          # each round: [lo, lo+14] and [lo+5, lo+19] at the same moment
            start = threading.Barrier(3)
            threads = [threading.Thread(target=send, args=(ka, lo, lo + 14, start)),
                       threading.Thread(target=send, args=(kb, lo + 5, min(lo + 19, 310), start))]
            for t in threads:
                t.start()
            start.wait()
            for t in threads:
                t.join(timeout=60)
        # the same new seq with two contents, at once: one is stored, the other is a conflict
        other = {**records[1], "seq": 311, "temp_c": 39.9}
        records[311] = rec("k1", EPOCH, 311)
        start = threading.Barrier(3)
        def race(k: Signer, r: dict[str, Any]) -> None:
            start.wait()
            answers.append(k.post(protocol.RECORDS_PATH, batch("k1", EPOCH, [r])))

        pair = [threading.Thread(target=race, args=(k, r)) for k, r in ((ka, records[311]), (kb, other))]
        for t in pair:
            t.start()
        start.wait()
        for t in pair:
            t.join(timeout=60)
    codes = sorted(r.status_code for r in answers)
    assert codes.count(409) == 1 and codes.count(200) == len(answers) - 1, codes
    ok = [r.json() for r in answers if r.status_code == 200]
    assert sum(a["stored"] for a in ok) == 311              # every seq stored exactly once, none skipped
    assert next(r for r in ok if r["batch_through"] == 311)["acked_through"] == 311
    db = StreetDB(url, SystemClock(assume_synced=True), pool_size=1)
    try:
        kept = dict(db.held("k1", EPOCH))[311]
    finally:
        db.close()
    assert kept in (protocol.record_digest(records[311]), protocol.record_digest(other))
    if kept == protocol.record_digest(other):
        records[311] = other
    check_stream(url, 311, records)


def waiting_on_lock(admin: str, text: str) -> bool:
    with psycopg.connect(admin, autocommit=True) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                 "AND query LIKE %s", (f"%{text}%",)).fetchone())


def test_a_connection_lost_mid_batch_is_not_acknowledged_and_the_retry_stores_it_once(
        pg: PgCluster, pg_street: str, tmp_path: Path) -> None:
    url = pg.empty(pg_street)
    secret = register(url)
    records = {s: rec("k1", EPOCH, s) for s in range(1, 151)}
    with serving(url, log=tmp_path / "server.log") as (base, _):
        k = Signer(base, "k1", secret)

        def upload(lo: int, hi: int) -> requests.Response:
            return k.post(protocol.RECORDS_PATH, batch("k1", EPOCH, [records[s] for s in range(lo, hi + 1)]))

        assert upload(1, 50).status_code == 200
        # hold the kiosk's counter row: the next batch inserts its 50 records, then waits on it
        blocker = psycopg.connect(url)
        blocker.execute("SELECT * FROM counts WHERE kiosk_id = 'k1' FOR UPDATE")
        result: list[requests.Response] = []
        sender = threading.Thread(target=lambda: result.append(upload(51, 100)))
        sender.start()
        deadline = time.monotonic() + 60
        while not waiting_on_lock(pg.url(), "INSERT INTO counts"):     # a condition, polled
            assert sender.is_alive() and time.monotonic() < deadline
        pg.restart("immediate")                       # a crash: every connection cut mid-transaction
        sender.join(timeout=60)
        blocker.close()
        (lost,) = result
        assert lost.status_code == 503 and lost.headers["Retry-After"] and lost.json()["code"] == "unavailable"
        # the kiosk retries (a new nonce), then goes on
        assert upload(51, 100).status_code == 200
        last = upload(101, 150)
        assert last.status_code == 200 and last.json()["acked_through"] == 150
    check_stream(url, 150, records)


def test_a_flood_of_office_pages_never_holds_up_a_kiosk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The office's page loads wait in their own pool: with every office thread stuck and more page
    loads queued behind them than the server has threads, a kiosk's heartbeat is answered at once."""
    release = threading.Event()
    entered = threading.Semaphore(0)
    real_build = status_page.build

    def stuck_build(*args: Any, **kw: Any) -> status_page.Status:
        entered.release()
        release.wait(timeout=60)
        return real_build(*args, **kw)

    monkeypatch.setattr(status_page, "build", stuck_build)
    with StreetServer(tmp_path / "street.db", threads=2, office_threads=1) as server:
        k = Signer(server.url, "k1", server.db.add_kiosk("k1"))
        pages: list[int] = []
        desk = office(server.db, server.url)
        loaders = [threading.Thread(target=lambda: pages.append(
            desk.get(server.url + "/", timeout=60).status_code)) for _ in range(6)]
        for t in loaders:
            t.start()
        assert entered.acquire(timeout=30)            # the office's one thread is stuck; five loads queue
        r = k.post(protocol.HEARTBEAT_PATH, {"kiosk_id": "k1", "sent_wall": server.clock.wall()}, gz=False)
        assert r.status_code == 200
        assert not release.is_set() and pages == []   # …while every page load is still waiting
        release.set()
        for t in loaders:
            t.join(timeout=60)
        assert pages == [200] * 6
