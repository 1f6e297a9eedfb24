"""117 kiosks drain their backlog after a street-wide outage (docs/faults.md T-SYNC-2).

CI runs 117 kiosks × 200 passes; the full target (117 × 2,000, or 43,200 in the lab):
    SYNC_DRAIN_PASSES=2000 .venv/bin/python -m pytest tests/sync/test_drain.py
"""

from __future__ import annotations

import collections
import os
import random
import threading
from pathlib import Path

from hardware_mocks.fault_proxy import FaultProxy
from street.server import StreetServer
from sync.client import CycleReport, SyncClient
from tests.synckit import fast_fill, kiosk_config, log_digests, open_log, server_digests

KIOSKS = int(os.environ.get("SYNC_DRAIN_KIOSKS", "117"))
PASSES = int(os.environ.get("SYNC_DRAIN_PASSES", "200"))


def test_117_kiosks_drain_after_an_outage_with_spread_retries(tmp_path: Path) -> None:
    with StreetServer(tmp_path / "street.db", threads=8) as server, FaultProxy(("127.0.0.1", 9)) as proxy:
        clients: list[SyncClient] = []
        logs = []
        for i in range(KIOSKS):
            kid = f"cp-{i:03d}"
            cfg = kiosk_config(tmp_path / kid, kid, proxy.url, server.db.add_kiosk(kid),
                               read_timeout_s=30.0)     # the product default: 117 uploads at once queue
            log = open_log(cfg)
            fast_fill(log, PASSES, random.Random(i))
            logs.append(log)
            clients.append(SyncClient(cfg, rng=random.Random(1000 + i), sleep=lambda s: None))

        # the outage: the street server is unreachable; every kiosk has been failing for a while
        first_retry: list[float] = []
        for c in clients:
            c.state.failures = 7
            report = c.cycle()
            assert not report.ok and not report.permanent and report.backlog == PASSES
            assert report.retry_in is not None and 0 <= report.retry_in <= 256
            first_retry.append(report.retry_in)
        assert max(first_retry) - min(first_retry) >= 60
        busiest = collections.Counter(int(d) for d in first_retry).most_common(1)[0][1]
        assert busiest <= 0.2 * KIOSKS

        # the server is back: every kiosk drains at once
        proxy.set_upstream(("127.0.0.1", server.port))
        reports: list[CycleReport | None] = [None] * KIOSKS
        threads = [threading.Thread(target=lambda i=i: reports.__setitem__(i, clients[i].run_once(deadline_s=600)))
                   for i in range(KIOSKS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        errors = [r.error for r in reports if r is not None]
        assert all(r is not None and r.ok and r.backlog == 0 for r in reports), errors
        for c, log in zip(clients, logs, strict=True):
            assert server_digests(server, c.kiosk_id) == log_digests(c.cfg.db_path)
            assert server.db.duplicate_keys(c.kiosk_id) == 0
            assert [(s["acked_through"], s["max_seq"]) for s in server.db.stream_rows(c.kiosk_id)] == [(PASSES, PASSES)]
            c.close()
            log.close()
        assert server.db.rows("SELECT COUNT(*) FROM records")[0][0] == KIOSKS * PASSES
