"""Admission control (street/app.py): a kiosk request that waited for a thread longer than the
kiosk would wait is shed with 503 + Retry-After before any work, and the kiosk's retry is served.
Against a real server on 127.0.0.1 with one kiosk thread held by a blocked upload; the clock is
injected, so "waited 11 s" is an advance of the fake clock, not a sleep."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from kiosk.clock import FakeClock
from street.app import MAX_QUEUE_WAIT_S
from street.server import StreetServer
from sync import protocol
from tests.synckit import Signer, batch, rec

EPOCH = str(uuid.uuid4())


def test_an_upload_that_waited_too_long_is_shed_and_its_retry_is_served(tmp_path: Path) -> None:
    clock = FakeClock(wall=1_780_000_000.0)
    entered, release = threading.Event(), threading.Event()

    def hold(kiosk_id: str, answer: dict[str, Any]) -> None:
        if kiosk_id == "k1":                      # k1's upload keeps the only kiosk thread busy
            entered.set()
            release.wait(30)

    with StreetServer(tmp_path / "s.db", clock=clock, threads=1, on_ingest=hold) as server, \
            ThreadPoolExecutor(2) as pool:
        k1 = Signer(server.url, "k1", server.db.add_kiosk("k1"))
        k2 = Signer(server.url, "k2", server.db.add_kiosk("k2"))
        queued = threading.Event()
        add_task = server._router.kiosk.add_task

        def spy(task: Any) -> None:
            add_task(task)
            queued.set()

        server._router.kiosk.add_task = spy

        def upload(k: Signer) -> requests.Response:
            return k.post(protocol.RECORDS_PATH, batch(k.kiosk_id, EPOCH, [rec(k.kiosk_id, EPOCH, 1)],
                                                       sent_wall=clock.wall()), now=clock.wall())

        first = pool.submit(upload, k1)
        assert entered.wait(10)
        queued.clear()
        second = pool.submit(upload, k2)
        assert queued.wait(10)                   # k2's upload waits in the kiosk queue
        clock.advance(MAX_QUEUE_WAIT_S + 1)
        release.set()
        shed, served = second.result(), first.result()
        assert served.status_code == 200
        assert shed.status_code == 503 and shed.json()["code"] == "busy"
        assert 5 <= int(shed.headers["Retry-After"]) <= 30
        assert server.app.shed == 1
        assert server.db.rows("SELECT COUNT(*) FROM records WHERE kiosk_id = 'k2'")[0][0] == 0   # no work done
        again = upload(k2)                        # the kiosk's retry, served at once
        assert again.status_code == 200 and again.json()["acked_through"] == 1


def test_a_client_cannot_set_its_own_queue_time(tmp_path: Path) -> None:
    """The router overwrites the header: a kiosk claiming it queued long ago is served normally."""
    clock = FakeClock(wall=1_780_000_000.0)
    with StreetServer(tmp_path / "s.db", clock=clock) as server:
        k = Signer(server.url, "k1", server.db.add_kiosk("k1"))
        body = batch("k1", EPOCH, [rec("k1", EPOCH, 1)], sent_wall=clock.wall())
        r = k.post(protocol.RECORDS_PATH, body, now=clock.wall(), headers={"X-Street-Queued": "-1e9"})
        assert r.status_code == 200 and server.app.shed == 0
