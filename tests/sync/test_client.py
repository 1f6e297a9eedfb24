"""The upload client against the real street server: draining, state, bundle, heartbeat, clock, timeouts."""

from __future__ import annotations

import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware_mocks.fault_proxy import Fault, FaultProxy
from kiosk.clock import FakeClock
from kiosk.core.records import Record
from kiosk.statefiles import SYNC_STATE as FILENAME
from street.server import StreetServer
from sync import protocol
from sync.client import SyncClient
from sync.errors import SecretError
from sync.secret import read_secret
from tests.synckit import SkewedClock, append, fast_fill, kiosk_config, log_digests, open_log, server_digests


@pytest.fixture
def street(tmp_path: Path) -> Iterator[StreetServer]:
    with StreetServer(tmp_path / "street.db") as server:
        yield server


def client_for(street: StreetServer, root: Path, kiosk_id: str = "k1", url: str | None = None,
               clock: FakeClock | None = None, **sync: object) -> SyncClient:
    secret = street.db.add_kiosk(kiosk_id) if street.db.kiosk(kiosk_id) is None else None
    cfg = kiosk_config(root, kiosk_id, url or street.url, secret, **sync)
    return SyncClient(cfg, clock or FakeClock(wall=time.time()), rng=random.Random(1), sleep=lambda s: None)


def test_drains_the_backlog_exactly_once_in_batches(street: StreetServer, tmp_path: Path) -> None:
    c = client_for(street, tmp_path / "k1", batch_max_records=100)
    log = open_log(c.cfg)
    fast_fill(log, 1234, random.Random(2))
    report = c.run_once()
    assert report.ok and report.sent == 1234 and report.stored == 1234 and report.batches == 13
    assert report.backlog == 0 and report.acked_through == 1234 and report.heartbeat
    assert server_digests(street, "k1") == log_digests(c.cfg.db_path)
    append(log, 5, random.Random(3))
    report = c.cycle()
    assert report.sent == 5 and report.duplicates == 0
    state = json.loads((c.cfg.kiosk.state_dir / FILENAME).read_text())
    assert state["epochs"][log.db_epoch]["acked_through"] == 1239
    assert server_digests(street, "k1") == log_digests(c.cfg.db_path)


def test_batches_respect_the_256_kib_cap(street: StreetServer, tmp_path: Path) -> None:
    c = client_for(street, tmp_path / "k1")
    log = open_log(c.cfg)
    for i in range(300):
        log.append(Record(kind="fault", t=float(i), device="camera", detail="x" * 1500))
    report = c.cycle()
    assert report.ok and report.sent == 300 and report.batches >= 2


def test_the_client_never_writes_the_pass_log(street: StreetServer, tmp_path: Path) -> None:
    c = client_for(street, tmp_path / "k1")
    log = open_log(c.cfg)
    append(log, 3, random.Random(1))
    from sync.logreader import LogReader
    with LogReader(c.cfg.db_path, "k1") as reader:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.conn.execute("DELETE FROM records")
        with pytest.raises(sqlite3.OperationalError):
            reader.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            reader.conn.execute("CREATE TABLE x (y)")
    before = log.conn.execute("SELECT COUNT(*), MAX(seq) FROM records").fetchone()
    assert c.cycle().ok
    assert log.conn.execute("SELECT COUNT(*), MAX(seq) FROM records").fetchone() == before
    log.append(Record(kind="alarm", t=1.0, device="disk", detail="still writable"))   # the writer is unaffected


def test_lost_state_file_sends_everything_again(street: StreetServer, tmp_path: Path) -> None:
    """The server's mark is not believed beyond what this kiosk has sent (issue 14): a kiosk that
    lost its state sends its log again and the server's unique key absorbs every record."""
    c = client_for(street, tmp_path / "k1")
    log = open_log(c.cfg)
    fast_fill(log, 700, random.Random(1))
    assert c.cycle().ok
    (c.cfg.kiosk.state_dir / FILENAME).unlink()
    c2 = client_for(street, tmp_path / "k1")
    report = c2.cycle()
    assert report.ok and report.sent == 700 and report.duplicates == 700 and report.stored == 0
    assert report.acked_through == 700
    assert server_digests(street, "k1") == log_digests(c.cfg.db_path)


def test_bundle_is_fetched_once_and_written_atomically(street: StreetServer, tmp_path: Path) -> None:
    c = client_for(street, tmp_path / "k1")
    open_log(c.cfg)
    assert c.cycle().bundle == "none"
    street.db.publish_bundle(b"\xa1bundle-1")
    assert c.cycle().bundle == "updated"
    bundle = c.cfg.kiosk.state_dir / "bundle.cbor"
    assert bundle.read_bytes() == b"\xa1bundle-1"
    assert c.cycle().bundle == "unchanged"
    bundle.write_bytes(b"damaged")          # a damaged local copy is replaced, not trusted
    assert c.cycle().bundle == "updated" and bundle.read_bytes() == b"\xa1bundle-1"
    street.db.publish_bundle(b"\xa1bundle-2")
    assert c.cycle().bundle == "updated" and bundle.read_bytes() == b"\xa1bundle-2"
    assert not [p for p in bundle.parent.iterdir() if p.name.startswith(".bundle")]


def test_heartbeat_says_who_is_on_duty_what_is_faulted_and_the_backlog(street: StreetServer, tmp_path: Path) -> None:
    c = client_for(street, tmp_path / "k1")
    log = open_log(c.cfg)
    log.append(Record(kind="shift_start", t=1.0, volunteer_ref="a" * 32))
    log.append(Record(kind="fault", t=2.0, device="thermometer", detail="no frames for 5 s"))
    log.append(Record(kind="fault", t=3.0, device="camera", detail="unplugged"))
    log.append(Record(kind="recovered", t=4.0, device="camera"))
    c.cfg.kiosk.runtime_dir.mkdir(parents=True)
    (c.cfg.kiosk.runtime_dir / "status.json").write_text(json.dumps({"state": "idle", "written": 1.0}))   # stale
    assert c.cycle().ok
    hb = json.loads(street.db.rows("SELECT payload FROM heartbeats")[0][0])
    assert hb["on_duty"]["volunteer_ref"] == "a" * 32
    assert [f["device"] for f in hb["faults"]] == ["thermometer"]
    assert hb["backlog"] == 0 and hb["last_seq"] == 4 and hb["software_version"]
    assert hb["kiosk_status"]["state"] == "idle" and hb["status_file"] == "ok" and not hb["kiosk_running"]
    log.append(Record(kind="shift_end", t=5.0, volunteer_ref="a" * 32))
    assert c.cycle().ok
    hb = json.loads(street.db.rows("SELECT payload FROM heartbeats")[0][0])
    assert hb["on_duty"] is None
    # while the kiosk runs, its fresh status file is the live view
    (c.cfg.kiosk.runtime_dir / "status.json").write_text(json.dumps(
        {"written": c.clock.wall(), "on_duty": "b" * 32, "faults": {"camera": "no frames"}}))
    assert c.cycle().ok
    hb = json.loads(street.db.rows("SELECT payload FROM heartbeats")[0][0])
    assert hb["kiosk_running"] and hb["on_duty"] == {"volunteer_ref": "b" * 32}
    assert hb["faults"] == [{"device": "camera", "detail": "no frames"}]


def test_a_kiosk_clock_three_days_off_is_corrected_and_its_records_placed(street: StreetServer,
                                                                         tmp_path: Path) -> None:
    """T-TIME-1/T-TIME-3: the first request is refused for skew, re-signed with the learned offset."""
    truth = time.time()
    clock = FakeClock(wall=truth - 3 * 86400, mono=5000.0, synced=False, boot_id="boot-x")
    c = client_for(street, tmp_path / "k1", clock=clock)
    log = open_log(c.cfg, clock)
    append(log, 5, random.Random(1), clock, step_s=10.0)    # five passes, 10 s apart, clock unsynced
    report = c.cycle()
    assert report.ok and report.stored == 5
    assert report.clock_offset_s == pytest.approx(time.time() - clock.wall(), abs=2)
    rows = street.db.rows("SELECT seq, ts, ts_source FROM records ORDER BY seq")
    for r in rows:   # the kiosk sent at truth ≈ now; record seq k was (5 - k) * 10 s earlier
        assert r["ts_source"] == "server"
        assert abs(r["ts"] - (truth - (5 - r["seq"]) * 10)) <= 2


def test_offset_estimate_error_stays_within_half_the_round_trip(street: StreetServer, tmp_path: Path) -> None:
    """T-TIME-3: 0.4 s of latency on the way in only (the worst case for Cristian's algorithm)."""
    with FaultProxy(("127.0.0.1", street.port)) as proxy:
        clock = SkewedClock(+1234.0)
        c = client_for(street, tmp_path / "k1", url=proxy.url, clock=clock)  # type: ignore[arg-type]
        open_log(c.cfg, clock)
        proxy.push(*[Fault("delay", delay_s=0.4)] * 3)
        assert c.cycle().ok
        true_offset = -1234.0
        rtt = c.state.clock["rtt_s"]
        assert abs(c.state.clock["offset_s"] - true_offset) <= rtt / 2 + 1.0


def test_503_with_retry_after_is_honoured(street: StreetServer, tmp_path: Path) -> None:
    with FaultProxy(("127.0.0.1", street.port)) as proxy:
        c = client_for(street, tmp_path / "k1", url=proxy.url)
        append(open_log(c.cfg), 3, random.Random(1))
        proxy.push(Fault("status", status=503, retry_after=42))
        slept: list[float] = []
        c.sleep = slept.append
        report = c.run_once(deadline_s=100)
        assert report.ok and slept == [42.0]
        assert c.state.failures == 0


def test_failures_back_off_with_full_jitter_and_persist(street: StreetServer, tmp_path: Path) -> None:
    with FaultProxy(("127.0.0.1", street.port)) as proxy:
        clock = FakeClock(wall=time.time())
        c = client_for(street, tmp_path / "k1", url=proxy.url, clock=clock)
        append(open_log(c.cfg), 3, random.Random(1))
        proxy.push(*[Fault("drop")] * 6)
        slept: list[float] = []

        def sleep(s: float) -> None:
            slept.append(s)
            clock.advance(s)

        c.sleep = sleep
        report = c.run_once(deadline_s=10_000)
        assert report.ok
        assert len(slept) == 6 and all(0 <= s <= 2 ** i for i, s in enumerate(slept))
        proxy.push(Fault("drop"))
        assert not c.cycle().ok
        again = client_for(street, tmp_path / "k1", url=proxy.url, clock=clock)   # a new oneshot process
        assert again.state.failures == 1 and 0 < again.pending_wait() <= 1.0


def test_every_http_call_times_out_against_a_black_hole(street: StreetServer, tmp_path: Path) -> None:
    """T-SYNC-6: accepted connection that never answers (read timeout), and a full accept queue
    that never completes the handshake (connect timeout); the cycle returns, nothing is left blocked."""
    with FaultProxy(("127.0.0.1", street.port), [Fault("blackhole")] * 10) as proxy:
        c = client_for(street, tmp_path / "k1", url=proxy.url, connect_timeout_s=0.5, read_timeout_s=1.0)
        append(open_log(c.cfg), 3, random.Random(1))
        t0 = time.monotonic()
        report = c.cycle()
        assert not report.ok and report.error is not None and "timed out" in report.error
        assert time.monotonic() - t0 < 1.0 + 0.5 + 2.0
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(4):      # fill the accept queue so further SYNs are dropped
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(listener.getsockname())
        fillers.append(s)
    try:
        c2 = client_for(street, tmp_path / "k2", kiosk_id="k2", url=f"http://127.0.0.1:{listener.getsockname()[1]}",
                        connect_timeout_s=0.5, read_timeout_s=1.0)
        open_log(c2.cfg)
        t0 = time.monotonic()
        report = c2.cycle()
        assert not report.ok and report.error is not None and "timed out" in report.error
        assert time.monotonic() - t0 < 1.0 + 0.5 + 2.0
    finally:
        for s in fillers:
            s.close()
        listener.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("sync")]


def test_a_refused_batch_stops_the_cycle_with_a_permanent_error(street: StreetServer, tmp_path: Path) -> None:
    c = client_for(street, tmp_path / "k1")
    append(open_log(c.cfg), 3, random.Random(1))
    street.db.revoke_kiosk("k1")
    report = c.run_once()
    assert not report.ok and report.permanent and report.error is not None and "revoked" in report.error


def test_secret_file_rules(tmp_path: Path) -> None:
    p = tmp_path / "secret"
    p.write_text(protocol.new_secret())
    os.chmod(p, 0o644)
    with pytest.raises(SecretError, match="readable by others"):
        read_secret(p)
    os.chmod(p, 0o600)
    assert len(read_secret(p).key) == 32
    p.write_text("hunter2")
    with pytest.raises(SecretError, match="64 hexadecimal"):
        read_secret(p)
    with pytest.raises(SecretError, match="does not exist"):
        read_secret(tmp_path / "nope")


def _write_config(root: Path, kiosk_id: str, url: str, secret: str | None) -> Path:
    cfg = kiosk_config(root, kiosk_id, url, secret)
    path = root / "kiosk.toml"
    path.write_text(f'[kiosk]\nid = "{kiosk_id}"\nstate_dir = "{cfg.kiosk.state_dir}"\n'
                    f'runtime_dir = "{cfg.kiosk.runtime_dir}"\n[sync]\nserver_url = "{url}"\n'
                    f'secret_file = "{cfg.sync.secret_file}"\nconnect_timeout_s = 1.0\nread_timeout_s = 2.0\n'
                    'interval_s = 5.0\n')
    return path


def test_kiosk_sync_once_command(street: StreetServer, tmp_path: Path) -> None:
    path = _write_config(tmp_path, "k1", street.url, street.db.add_kiosk("k1"))
    cfg_log = kiosk_config(tmp_path, "k1", street.url, None)
    append(open_log(cfg_log), 7, random.Random(1))
    out = subprocess.run([sys.executable, "-m", "kiosk", "sync", "--once", "--json", "--config", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["stored"] == 7
    street.db.revoke_kiosk("k1")
    append(open_log(cfg_log), 1, random.Random(2))
    out = subprocess.run([sys.executable, "-m", "kiosk", "sync", "--once", "--config", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("kiosk sync: ") and "revoked" in last and "nothing is lost" in last
    assert "Traceback" not in out.stderr


def test_kiosk_sync_without_a_secret_is_one_clear_line(tmp_path: Path) -> None:
    path = _write_config(tmp_path, "k1", "http://127.0.0.1:9", None)
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    out = subprocess.run([sys.executable, "-m", "kiosk", "sync", "--once", "--config", str(path)],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    secret = tmp_path / "sync.secret"
    assert out.stderr.strip().splitlines() == [f"kiosk sync: sync secret file {secret} does not exist"]


# ------------------------------------------------------------------ `kiosk sync --once` for a technician

def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_sync_once_with_the_server_down_tries_once_and_says_why_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    path = _write_config(tmp_path, "k1", url, protocol.new_secret())
    append(open_log(kiosk_config(tmp_path, "k1", url, None)), 5, random.Random(1))
    out = subprocess.run([sys.executable, "-m", "kiosk", "sync", "--once", "--config", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stdout == ""
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("kiosk sync: POST /v1/records: cannot connect to 127.0.0.1:")
    assert "connection refused" in line
    assert "5 records still waiting" in line and len(line) < 200 and "HTTPConnectionPool" not in line
    state = json.loads((tmp_path / "state" / FILENAME).read_text())
    assert state["failures"] == 1                    # one try, no retries within the run


def test_sync_once_tries_now_whatever_backoff_an_earlier_failure_saved(street: StreetServer, tmp_path: Path) -> None:
    path = _write_config(tmp_path, "k1", street.url, street.db.add_kiosk("k1"))
    append(open_log(kiosk_config(tmp_path, "k1", street.url, None)), 3, random.Random(1))
    state_file = tmp_path / "state" / FILENAME
    state_file.write_text(json.dumps({"version": 1, "kiosk_id": "k1", "failures": 9,
                                      "not_before": time.time() + 166}))   # after a URL that was wrong
    out = subprocess.run([sys.executable, "-m", "kiosk", "sync", "--once", "--config", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(state_file.read_text())["failures"] == 0


def test_a_large_backlog_shows_progress(street: StreetServer, tmp_path: Path) -> None:
    path = _write_config(tmp_path, "k1", street.url, street.db.add_kiosk("k1"))
    fast_fill(open_log(kiosk_config(tmp_path, "k1", street.url, None)), 6000, random.Random(1))
    out = subprocess.run([sys.executable, "-m", "kiosk", "sync", "--once", "--config", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [x for x in out.stderr.splitlines() if x.startswith("sync: ")]
    assert len(lines) >= 5 and lines[-1] == "sync: 6000 of 6000 records sent (100 %)", out.stderr
    assert "sent 6000 records" in out.stdout
