"""The stand-in site (kiosk/demo/site.py): everything the stand-in config points at comes up
for real — the pty thermometer, the camera clip, trust material, the street server with this
kiosk registered — and goes away again; with a crowd, a running kiosk makes passes from it."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from kiosk import config as config_mod
from kiosk.clock import FakeClock, SystemClock
from kiosk.core.records import Record
from kiosk.demo.site import Site, site_dir
from kiosk.devices.camera import self_check as camera_check
from kiosk.devices.thermometer import port_of
from kiosk.devices.thermometer import self_check as thermometer_check
from kiosk.service.assembly import assembled, make_verifier, open_store
from sync.client import SyncClient
from tests.standin_support import REPO, standin_config


def test_the_site_brings_up_what_the_config_points_at(tmp_path: Path) -> None:
    cfg = config_mod.load(standin_config(tmp_path))
    with Site(cfg) as site:
        link = Path(port_of(cfg))
        assert link.is_symlink() and os.readlink(link).startswith("/dev/pts/")
        ok, detail = thermometer_check(cfg, seconds=0.5)            # the kiosk's own link reads it
        assert ok and "gy-mcu90614" in detail, detail
        ok, detail = camera_check(cfg.camera, seconds=0.5)           # and its camera plays the clip
        assert ok and "no code in view" in detail, detail

        clock = FakeClock(wall=time.time())
        verifier = make_verifier(cfg, clock)                         # root key + bundle where expected
        code = site.drill.code("paper", b"\x01" * 16, clock.wall())
        assert verifier.verify(code.encode()).reason == "ok"

        secret = cfg.sync.secret_file
        assert secret is not None and stat.S_IMODE(secret.stat().st_mode) == 0o600
        open_store(cfg, clock).close()                               # as a first `kiosk run` leaves it
        with SyncClient(cfg, SystemClock()) as client:
            report = client.cycle()
        assert report.ok and report.heartbeat, report.error
        assert report.bundle in ("updated", "unchanged")            # the drill bundle is published
        assert site.street is not None and site.street.db.rows(
            "SELECT COUNT(*) FROM heartbeats WHERE kiosk_id = ?", (cfg.kiosk.id,))[0][0] == 1
        url = site.street.url
    assert not link.exists()                                         # unplugged
    assert not any(Path(cfg.camera.source).parent.glob("frame_*"))   # no clip, no camera
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/healthz", timeout=2)


def test_a_restarted_site_keeps_the_registration_and_the_street_database(tmp_path: Path) -> None:
    cfg = config_mod.load(standin_config(tmp_path))
    with Site(cfg):
        secret = cfg.sync.secret_file.read_text()  # type: ignore[union-attr]
    with Site(cfg) as again:
        assert cfg.sync.secret_file.read_text() == secret  # type: ignore[union-attr]
        assert any("registered (kept)" in line for line in again.lines)
    assert (site_dir(cfg) / "street.db").exists()


def test_with_a_crowd_a_running_kiosk_makes_a_stream_of_passes(tmp_path: Path) -> None:
    cfg = config_mod.load(standin_config(tmp_path, voice={"backend": "none"}))
    committed: list[Record] = []
    enough = threading.Event()

    def on_commit(_seq: int, record: Record) -> None:
        if record.kind == "pass":
            committed.append(record)
            if len(committed) >= 3:
                enough.set()

    with Site(cfg, crowd=True, period_s=1.5, seed=3) as site:
        with assembled(cfg, SystemClock()) as kiosk:
            kiosk.on_commit(on_commit)
            stop = threading.Event()
            loop = threading.Thread(target=kiosk.run, args=(stop,), daemon=True)
            loop.start()
            try:
                assert enough.wait(60), f"{len(committed)} passes after {site.crowd.residents} residents"  # type: ignore[union-attr]
            finally:
                stop.set()
                loop.join(10)
    assert all(r.decision == "pass" and r.cause == "ok" for r in committed)
    assert all(r.verdict is not None and r.verdict.kind == "paper" for r in committed)
    hashes = [r.verdict.token_hash for r in committed if r.verdict is not None]
    assert len(set(hashes)) == len(hashes)                           # each code used once


def test_cli_prints_what_it_started_and_stops_on_sigterm(tmp_path: Path) -> None:
    path = standin_config(tmp_path)
    cfg = config_mod.load(path)
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.demo.site", "--config", str(path)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:                        # wait for the site to say it is up (no sleeps)
        lines.append(line)
        if line.startswith("Ctrl-C"):
            break
    text = "".join(lines)
    for part in ("thermometer", "camera", "trust", "street", "kiosk run --config"):
        assert part in text, text
    assert Path(port_of(cfg)).is_symlink()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stand-in site stopped" in out
    assert not Path(port_of(cfg)).exists()


def test_cli_refuses_what_it_cannot_stand_in_for(tmp_path: Path) -> None:
    bad = standin_config(tmp_path / "a", gpio={"pin_factory": "lgpio", "mock_journal": None})
    run = lambda p: subprocess.run([sys.executable, "-m", "kiosk.demo.site", "--config", str(p)],  # noqa: E731
                                   cwd=REPO, capture_output=True, text=True, timeout=60)
    done = run(bad)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "pin_factory" in done.stderr, done.stderr
    with Site(config_mod.load(good := standin_config(tmp_path / "b"))):
        done = run(good)                            # a second site on the same port
    assert done.returncode == 1 and "cannot listen" in done.stderr and "Traceback" not in done.stderr
