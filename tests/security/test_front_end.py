"""Issue 14, attack 2 and the TLS link, through systemd/nginx/street-nginx.conf: a real nginx and a
real street-server process on 127.0.0.1, certificates from `street-server tls init`.

CI opens ``STREET_SOCKETS`` (default 200) slow and as many idle sockets; the issue's full size is
``STREET_SOCKETS=1000 pytest -s tests/security/test_front_end.py`` (it prints its figures)."""

from __future__ import annotations

import os
import random
import resource
import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from kiosk import config as config_mod
from kiosk.clock import FakeClock
from kiosk.errors import ConfigError
from sync import protocol
from sync.client import SyncClient
from tests.security.attack import enrol
from tests.security.frontend import needs_nginx, nginx
from tests.street.procs import serving, street_cli
from tests.synckit import fast_fill, kiosk_config, log_digests, open_log

pytestmark = needs_nginx
SOCKETS = int(os.environ.get("STREET_SOCKETS", "200"))


def test_a_kiosk_syncs_over_tls_with_the_street_ca_pinned_and_nothing_else(tmp_path: Path) -> None:
    tls = tmp_path / "tls"
    tls.mkdir()
    assert street_cli("tls", "init", "--dir", str(tls), "--name", "127.0.0.1").returncode == 0
    again = street_cli("tls", "init", "--dir", str(tls), "--name", "127.0.0.1")
    assert again.returncode == 1 and "nothing was overwritten" in again.stderr
    db = tmp_path / "street.db"
    with serving(db, log=tmp_path / "server.log") as (base, _), \
            nginx(tmp_path / "nginx", tls, base.removeprefix("http://")) as url:
        cred = street_cli("kiosk", "add", "k1", "--db", str(db))
        assert cred.returncode == 0
        cfg = kiosk_config(tmp_path / "k1", "k1", url, cred.stdout.strip(), ca_file=str(tls / "ca.crt"))
        client = SyncClient(cfg, FakeClock(wall=time.time()), rng=random.Random(1), sleep=lambda s: None)
        log = open_log(cfg)
        fast_fill(log, 50, random.Random(5))
        report = client.cycle()
        assert report.ok and report.sent == 50 and report.acked_through == 50, report.error
        # the system's CAs do not know the street's CA: without the pin the kiosk trusts nothing
        unpinned = kiosk_config(tmp_path / "k1", "k1", url, None)
        fast_fill(log, 5, random.Random(6))
        report = SyncClient(unpinned, FakeClock(wall=time.time()), rng=random.Random(1), sleep=lambda s: None).cycle()
        assert not report.ok and "certificate" in (report.error or "").lower()
        # plain http to another machine is refused when the config is read
        with pytest.raises(ConfigError, match="plain http:// to another machine"):
            config_mod.from_dict({"kiosk": {"id": "k1"}, "sync": {"server_url": "http://192.0.2.7:8470"}})
        config_mod.from_dict({"kiosk": {"id": "k1"}, "sync": {"server_url": "http://192.0.2.7:8470",
                                                               "allow_plain_http": True}})
        report = client.cycle()
        assert report.ok and report.sent == 5
    with sqlite3.connect(db) as conn:                                    # lost: none
        held = conn.execute("SELECT COUNT(*) FROM records WHERE kiosk_id = 'k1'").fetchone()[0]
    assert held == len(log_digests(cfg.db_path)) == 55


def _open_sockets(port: int, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        out.append(s)
    return out


def test_slow_and_idle_sockets_do_not_keep_a_kiosk_out(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * SOCKETS + 512)), hard))
    tls = tmp_path / "tls"
    tls.mkdir()
    assert street_cli("tls", "init", "--dir", str(tls), "--name", "127.0.0.1").returncode == 0
    db = tmp_path / "street.db"
    with serving(db, log=tmp_path / "server.log") as (base, _), \
            nginx(tmp_path / "nginx", tls, base.removeprefix("http://")) as url:
        k = enrol(db, "k1", url)
        k.verify = str(tls / "ca.crt")
        port = int(url.rsplit(":", 1)[1])
        idle = _open_sockets(port, SOCKETS)
        slow = _open_sockets(port, SOCKETS)
        served, latencies = 0, []
        try:
            for _ in range(6):
                for s in slow:                       # a byte of a TLS handshake record at a time
                    try:
                        s.send(b"\x16"[:1])
                    except OSError:
                        pass
                t0 = time.monotonic()
                r = k.post(protocol.HEARTBEAT_PATH, {"kiosk_id": "k1", "sent_wall": time.time()}, gz=False)
                latencies.append(time.monotonic() - t0)
                served += r.status_code == 200
        finally:
            for s in idle + slow:
                s.close()
        print(f"\n{SOCKETS} slow + {SOCKETS} idle sockets: {served} of 6 kiosk probes served, "
              f"slowest {max(latencies):.3f} s")
        assert served == 6
        # body cap and rate limits answer 413 and 429, never a 5xx
        big = requests.post(url + protocol.RECORDS_PATH, data=b"x" * (2 * 1024 * 1024), verify=k.verify, timeout=30)
        assert big.status_code == 413
        with requests.Session() as office, ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda _: office.get(url + "/login", verify=k.verify, timeout=30).status_code,
                                     range(150)))
        assert 429 in statuses and not any(s >= 500 for s in statuses)
