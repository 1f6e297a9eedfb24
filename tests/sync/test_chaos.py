"""Exactly-once under chaos (docs/faults.md T-SYNC-1, T-SYNC-3).

A Hypothesis state machine writes passes, syncs through the fault proxy with every kind of
fault, kills the sync client between the server's commit and its own state write, restarts the
kiosk's writer and the server, and takes the server down. After every step the server holds
only records the kiosk wrote, with the same content; at the end, after a clean drain, the
server's rows per (kiosk, epoch) equal the kiosk's exactly — no duplicates, no gaps.

CI runs modest sizes; the full research targets:
    SYNC_CHAOS_EXAMPLES=200 SYNC_AMBIGUOUS_BATCHES=1000 .venv/bin/python -m pytest tests/sync/test_chaos.py
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hardware_mocks.fault_proxy import Fault, FaultProxy
from kiosk.clock import FakeClock
from street.server import StreetServer
from sync.client import SyncClient
from tests.synckit import append, fast_fill, kiosk_config, log_digests, open_log, server_digests

EXAMPLES = int(os.environ.get("SYNC_CHAOS_EXAMPLES", "15"))
AMBIGUOUS_BATCHES = int(os.environ.get("SYNC_AMBIGUOUS_BATCHES", "100"))

faults = st.one_of(
    st.just(Fault("pass")),
    st.just(Fault("drop")),
    st.just(Fault("duplicate")),
    st.builds(Fault, st.just("delay"), delay_s=st.floats(0.0, 0.03)),
    st.builds(Fault, st.just("reset_request"), keep_bytes=st.integers(0, 800)),
    st.builds(Fault, st.just("cut_response"), keep_bytes=st.integers(0, 400)),
    st.builds(Fault, st.just("status"), status=st.sampled_from([429, 500, 503]),
              retry_after=st.sampled_from([None, 0, 3])),
)


class KilledAfterCommit(Exception):
    """The sync process died after the server committed a batch, before its state hit the disk."""


class MortalClient(SyncClient):
    die_after_answer = False

    def _apply(self, batch: Any, data: Any, report: Any) -> None:
        if self.die_after_answer:
            raise KilledAfterCommit()
        super()._apply(batch, data, report)


class SyncChaos(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="sync-chaos-"))
        self.server = StreetServer(self.root / "street.db").start()
        self.proxy = FaultProxy(("127.0.0.1", self.server.port)).start()
        self.cfg = kiosk_config(self.root / "k1", "k1", self.proxy.url, self.server.db.add_kiosk("k1"),
                                batch_max_records=7, connect_timeout_s=0.5, read_timeout_s=2.0)
        self.clock = FakeClock(wall=time.time())
        self.log = open_log(self.cfg, self.clock)
        self.rng = random.Random(0)
        self.client = self._client()

    def _client(self) -> MortalClient:
        return MortalClient(self.cfg, self.clock, rng=random.Random(0), sleep=lambda s: None)

    @rule(n=st.integers(1, 20))
    def kiosk_writes(self, n: int) -> None:
        append(self.log, n, self.rng, self.clock, step_s=2.0)

    @rule(plan=st.lists(faults, min_size=1, max_size=4))
    def sync_through_faults(self, plan: list[Fault]) -> None:
        self.proxy.clear()
        self.proxy.push(*plan)
        self.client.cycle()

    @rule()
    def sync_dies_between_server_commit_and_state_write(self) -> None:
        self.proxy.clear()
        self.client.die_after_answer = True
        try:
            self.client.cycle()
        except KilledAfterCommit:
            pass
        self.client.close()
        self.client = self._client()          # a new process, from the state on disk

    @rule()
    def kiosk_restarts(self) -> None:
        self.log.close()
        self.log = open_log(self.cfg, self.clock)

    @rule()
    def server_restarts(self) -> None:
        self.server.stop()
        self.server = StreetServer(self.root / "street.db").start()
        self.proxy.set_upstream(("127.0.0.1", self.server.port))

    @rule()
    def sync_while_server_is_down(self) -> None:
        self.server.stop()
        self.proxy.clear()
        report = self.client.cycle()
        assert not report.ok and not report.permanent
        self.server = StreetServer(self.root / "street.db").start()
        self.proxy.set_upstream(("127.0.0.1", self.server.port))

    @invariant()
    def server_holds_only_what_the_kiosk_wrote(self) -> None:
        held = server_digests(self.server, "k1")
        wrote = log_digests(self.cfg.db_path)
        assert all(wrote.get(k) == d for k, d in held.items())
        mark = self.client.state.epoch(self.log.db_epoch).acked_through
        assert all((self.log.db_epoch, s) in held for s in range(1, mark + 1)), "watermark ahead of the server"

    def teardown(self) -> None:
        try:
            self.proxy.clear()
            report = self.client.run_once(deadline_s=60)
            assert report.ok, report.error
            assert server_digests(self.server, "k1") == log_digests(self.cfg.db_path)
            stream = self.server.db.stream_rows("k1")
            assert [(s["acked_through"], s["max_seq"]) for s in stream] in ([], [(self.log.last_seq,) * 2])
            assert self.server.db.duplicate_keys("k1") == 0
            assert not self.server.db.rows("SELECT COUNT(*) FROM gaps")[0][0]
        finally:
            self.client.close()
            self.log.close()
            self.proxy.stop()
            self.server.stop()
            shutil.rmtree(self.root, ignore_errors=True)


SyncChaos.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=12, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])
test_exactly_once_under_chaos = SyncChaos.TestCase


def test_ambiguous_outcomes_never_duplicate(tmp_path: Path) -> None:
    """T-SYNC-3: the answer of every other batch is cut after the server committed it."""
    with StreetServer(tmp_path / "street.db") as server, FaultProxy(("127.0.0.1", server.port)) as proxy:
        cfg = kiosk_config(tmp_path / "k1", "k1", proxy.url, server.db.add_kiosk("k1"), batch_max_records=5)
        log = open_log(cfg)
        fast_fill(log, AMBIGUOUS_BATCHES * 5, random.Random(1))
        for i in range(AMBIGUOUS_BATCHES):
            proxy.push(Fault("cut_response", keep_bytes=i % 150), Fault("pass"))
        client = SyncClient(cfg, rng=random.Random(1), sleep=lambda s: None)
        cut = 0
        while client.cycle().error:
            cut += 1
            assert cut <= AMBIGUOUS_BATCHES + 1
        assert cut >= AMBIGUOUS_BATCHES // 2
        assert server_digests(server, "k1") == log_digests(cfg.db_path)
        stream = server.db.stream_rows("k1")[0]
        assert stream["redelivered"] >= cut - 2           # the re-sent batches were absorbed, not stored
        assert client.state.epoch(log.db_epoch).acked_through == stream["acked_through"] == log.last_seq
        client.close()
        log.close()


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition (not a sleep for synchronisation: it returns as soon as it holds)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_sigkill_of_the_sync_process_and_of_the_server_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """Real processes, real SIGKILLs: the sync mid-drain, then the server mid-drain."""
    db = tmp_path / "street.db"
    secret = subprocess.run([sys.executable, "-m", "street.cli", "kiosk", "add", "k1", "--db", str(db)],
                            capture_output=True, text=True, check=True).stdout.strip()

    def start_server(port: int = 0) -> tuple[subprocess.Popen[str], int]:
        # --retention-days 0: the log's records are from 2026-05, past the default 21 days
        p = subprocess.Popen([sys.executable, "-m", "street.cli", "serve", "--db", str(db), "--port", str(port),
                              "--retention-days", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert p.stdout is not None
        line = p.stdout.readline()
        assert "serving http://127.0.0.1:" in line, line
        return p, int(line.split("http://127.0.0.1:")[1].split()[0])

    server, port = start_server()
    with FaultProxy(("127.0.0.1", port), seed=3, weights={"pass": 8, "delay": 4}) as proxy:
        cfg = kiosk_config(tmp_path / "k1", "k1", proxy.url, secret, batch_max_records=20)
        log = open_log(cfg)
        fast_fill(log, 3000, random.Random(4))
        conf = tmp_path / "kiosk.toml"
        conf.write_text(f'[kiosk]\nid = "k1"\nstate_dir = "{cfg.kiosk.state_dir}"\n'
                        f'runtime_dir = "{cfg.kiosk.runtime_dir}"\n'
                        f'[sync]\nserver_url = "{proxy.url}"\nsecret_file = "{cfg.sync.secret_file}"\n'
                        'batch_max_records = 20\ninterval_s = 5.0\n')
        sql = "SELECT COALESCE(SUM(stored), 0) FROM streams"

        def held() -> int:
            import sqlite3
            c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                return int(c.execute(sql).fetchone()[0])
            finally:
                c.close()

        sync = subprocess.Popen([sys.executable, "-m", "kiosk", "sync", "--config", str(conf)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: held() >= 400, 60, "the first batches")
        sync.send_signal(signal.SIGKILL)
        sync.wait()
        sync = subprocess.Popen([sys.executable, "-m", "kiosk", "sync", "--config", str(conf)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = held()
        wait_until(lambda: held() >= before + 400, 60, "more batches")
        server.send_signal(signal.SIGKILL)
        server.wait()
        server, port = start_server(port)
        proxy.set_upstream(("127.0.0.1", port))
        wait_until(lambda: held() >= 3000, 120, "the drain to finish")
        sync.send_signal(signal.SIGTERM)
        sync.wait(timeout=30)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    with StreetServer(db) as check:
        assert server_digests(check, "k1") == log_digests(cfg.db_path)
        assert check.db.duplicate_keys("k1") == 0
        assert [(s["acked_through"], s["max_seq"]) for s in check.db.stream_rows("k1")] == [(3000, 3000)]
    log.close()
