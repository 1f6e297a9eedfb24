"""`kiosk run` under a systemd-like supervisor: sd_notify on a real datagram socket, the watchdog,
the status file, the disk guard and the retention purge."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.cli.run import watchdog_interval
from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.core.events import Event
from kiosk.core.records import Record
from kiosk.devices.camera_boot import CameraBoot
from kiosk.passlog.reader import connect_readonly
from kiosk.service.assembly import assembled
from kiosk.service.housekeeping import DISK_CHECK_S, Housekeeper
from kiosk.service.sdnotify import Notifier
from kiosk.statefiles import read_status, write_status
from tests.paths import REPO


def messages_until(sock: socket.socket, wanted: str, limit: int = 500) -> list[str]:
    seen: list[str] = []
    for _ in range(limit):
        msg = sock.recv(4096).decode()
        seen.append(msg)
        if wanted in msg:
            return seen
    raise AssertionError(f"{wanted} never came: {seen[-5:]}")


def test_ready_watchdog_and_stopping_reach_the_notify_socket(tmp_path: Path, notify_socket: socket.socket) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'[kiosk]\nid = "k1"\ncompound = "c1"\n'
                   f'state_dir = "{tmp_path}/state"\nruntime_dir = "{tmp_path}/run"\n'
                   '[gpio]\npin_factory = "mock"\n[thermometer]\nenabled = false\n[camera]\nenabled = false\n'
                   '[voice]\nbackend = "none"\n')
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "200000"}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(cfg)], cwd=REPO, env=env,
                            stderr=subprocess.DEVNULL)
    try:
        first = messages_until(notify_socket, "READY=1")
        assert "READY=1" in first[-1] and "STATUS=gate main" in first[-1]
        messages_until(notify_socket, "WATCHDOG=1")
        messages_until(notify_socket, "WATCHDOG=1")
        status = read_status(tmp_path / "run" / "status.json")
        assert status["running"] and status["state"] == "idle" and status["pid"] == proc.pid
        proc.send_signal(signal.SIGTERM)
        messages_until(notify_socket, "STOPPING=1")
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()


def test_watchdog_stops_while_the_main_loop_hangs(cfg: Config, clock: FakeClock, tmp_path: Path,
                                                  notify_socket: socket.socket) -> None:
    release = threading.Event()
    entered = threading.Event()
    stop = threading.Event()
    with assembled(cfg, clock) as kiosk:
        keeper = Housekeeper(kiosk, Notifier(str(tmp_path / "notify.sock")), watchdog_every_s=0.0)
        original = kiosk.handle

        def handle(event: Event) -> None:
            if isinstance(event, Hang):
                entered.set()
                release.wait()            # the loop is stuck here (a hung driver call, say)
            else:
                original(event)

        kiosk.handle = handle  # type: ignore[method-assign]
        loop = threading.Thread(target=kiosk.run, args=(stop, keeper.cycle))
        loop.start()
        try:
            assert "WATCHDOG=1" in notify_socket.recv(64).decode()
            kiosk.post(Hang())  # type: ignore[arg-type]  # an event no flow knows, on purpose
            assert entered.wait(10)
            while True:                    # drain pings sent before the hang began
                notify_socket.settimeout(1.0)
                try:
                    notify_socket.recv(64)
                except TimeoutError:
                    break
            with pytest.raises(socket.timeout):
                notify_socket.recv(64)     # no ping while hung: systemd would restart us
            release.set()
            notify_socket.settimeout(20)
            assert "WATCHDOG=1" in notify_socket.recv(64).decode()
        finally:
            release.set()
            stop.set()
            loop.join(10)


class Hang:
    """An event whose handling blocks the loop."""


def test_watchdog_interval_is_half_of_watchdog_sec() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert watchdog_interval({}) == 1.0


def test_status_file_is_atomic_and_stale_means_not_running(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    write_status(path, {"written": 1000.0, "pid": os.getpid(), "state": "idle"})
    assert read_status(path, now=1005.0)["running"]
    assert not read_status(path, now=1100.0)["running"]
    write_status(path, {"written": 1000.0, "pid": 2**22 + 12345, "state": "idle"})
    assert not read_status(path, now=1001.0)["running"]
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_disk_guard_raises_an_alarm_within_seconds_and_clears(cfg: Config, clock: FakeClock) -> None:
    free = {"mb": 5000.0}
    with assembled(cfg, clock) as kiosk:
        keeper = Housekeeper(kiosk, Notifier(""), disk_free=lambda _p: free["mb"])
        keeper.cycle()
        kiosk.pump()
        free["mb"] = 50.0
        clock.advance(DISK_CHECK_S)
        keeper.cycle()
        kiosk.pump()
        assert "disk" in kiosk.flow.faults
        free["mb"] = 900.0
        clock.advance(DISK_CHECK_S)
        keeper.cycle()
        kiosk.pump()
        assert "disk" not in kiosk.flow.faults
        rows = [tuple(r) for r in connect_readonly(kiosk.store.path).execute("SELECT kind, device FROM records")]
    assert rows == [("fault", "disk"), ("recovered", "disk")]


def _fill(kiosk, clock: FakeClock, n: int, holder: str) -> None:
    from kiosk.core.verdict import CodeVerdict
    for _ in range(n):
        kiosk.record(Record(kind="pass", t=clock.monotonic(), decision="manual_pass", cause="no_code",
                            verdict=CodeVerdict(reason="ok", holder_ref=holder)))
        clock.advance(3600)


def test_purge_deletes_only_acknowledged_old_records_and_leaves_no_bytes(cfg: Config, clock: FakeClock) -> None:
    with assembled(cfg, clock) as kiosk:
        _fill(kiosk, clock, 10, "deadbeefcafe0001" * 2)        # 10 h of old records
        clock.advance(8 * 86400)
        _fill(kiosk, clock, 3, "0123456789abcdef" * 2)         # recent
        state = cfg.kiosk.state_dir / "sync-state.json"
        state.write_text(json.dumps({"acked_through": {kiosk.store.db_epoch: 6}}))
        keeper = Housekeeper(kiosk, Notifier(""))
        clock.set_synced(False)
        keeper.cycle()
        assert kiosk.store.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 13
        clock.set_synced(True)
        keeper.request_purge()
        keeper.cycle()
        seqs = [r[0] for r in kiosk.store.conn.execute("SELECT seq FROM records WHERE kind='pass' ORDER BY seq")]
        alarms = [r[0] for r in kiosk.store.conn.execute("SELECT detail FROM records WHERE kind='alarm'")]
        assert seqs == list(range(7, 14))                  # 1-6 acked and old: gone; 7-10 old but unacked
        assert alarms and "4 records older than 7 days are not yet acknowledged" in alarms[0]
        assert kiosk.store.last_seq == 14
        assert kiosk.store.append(Record(kind="alarm", t=clock.monotonic())) == 15   # seq never reused


def test_purged_pseudonyms_leave_the_file_bytes(cfg: Config, clock: FakeClock) -> None:
    with assembled(cfg, clock) as kiosk:
        _fill(kiosk, clock, 5, "5ec12e7000000000" * 2)
        clock.advance(8 * 86400)
        _fill(kiosk, clock, 2, "0000000000000000" * 2)
        (cfg.kiosk.state_dir / "sync-state.json").write_text(
            json.dumps({"acked_through": {kiosk.store.db_epoch: 7}}))
        Housekeeper(kiosk, Notifier("")).cycle()
        assert kiosk.store.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 2
    data = b"".join(p.read_bytes() for p in cfg.db_path.parent.glob("passes.db*"))
    assert b"5ec12e70" not in data


def test_offline_after_no_successful_sync_and_back_online(cfg: Config, clock: FakeClock) -> None:
    from kiosk.service.housekeeping import SYNC_CHECK_S
    state = cfg.kiosk.state_dir / "sync-state.json"
    with assembled(cfg, clock) as kiosk:
        keeper = Housekeeper(kiosk, Notifier(""))
        keeper.cycle()
        clock.advance(cfg.sync.offline_after_s - SYNC_CHECK_S)
        keeper.cycle()
        kiosk.pump()
        assert "sync" not in kiosk.flow.faults            # not offline sooner than that after a start
        clock.advance(2 * SYNC_CHECK_S)
        keeper.cycle()
        kiosk.pump()
        assert "sync" in kiosk.flow.faults
        assert kiosk.devices.indicators.state == "offline"
        state.write_text(json.dumps({"last_ok": clock.wall()}))   # the sync timer succeeded
        clock.advance(SYNC_CHECK_S)
        keeper.cycle()
        kiosk.pump()
        assert "sync" not in kiosk.flow.faults and kiosk.devices.indicators.state == "idle"
        rows = [tuple(r) for r in kiosk.store.conn.execute("SELECT kind, device FROM records")]
    assert rows == [("fault", "sync"), ("recovered", "sync")]


class _Feed:
    def close(self) -> None:
        pass


@pytest.mark.parametrize(("feed", "said"), [(_Feed(), "camera on"), (None, "no camera: see the journal")])
def test_the_camera_start_after_ready_is_said_once_in_systemds_status(
        cfg: Config, clock: FakeClock, tmp_path: Path, notify_socket: socket.socket, feed: _Feed | None,
        said: str) -> None:
    def statuses() -> list[str]:
        notify_socket.setblocking(False)
        out: list[str] = []
        try:
            while True:
                out += [f for f in notify_socket.recv(4096).decode().split("\n") if f.startswith("STATUS=")]
        except BlockingIOError:
            return out
        finally:
            notify_socket.setblocking(True)

    opened = threading.Event()
    with assembled(cfg, clock) as kiosk:
        keeper = Housekeeper(kiosk, Notifier(str(tmp_path / "notify.sock")))
        boot = kiosk.camera_boot = CameraBoot(lambda: feed if opened.wait(30) else None,  # type: ignore[arg-type,return-value]
                                              kiosk.inbox)
        try:
            keeper.cycle()
            boot.start()
            keeper.cycle()                                   # still importing OpenCV: nothing said yet
            assert statuses() == []
            opened.set()
            assert boot.started.wait(30)
            keeper.cycle()
            keeper.cycle()
            assert statuses() == [f"STATUS=gate {cfg.kiosk.gate}, {said}"]
        finally:
            boot.close()
