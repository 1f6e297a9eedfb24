"""`kiosk run` builds its code verifier after READY (kiosk/service/lateverifier.py): nothing of
``cryptography`` is imported before READY, a root key that is plainly wrong still stops the start
at once (exit 78, one line), one that fails only when the verifier is built stops the running
service with exit 78 and one line, and the kiosk verifies with the real verifier once built."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import config as config_mod
from kiosk.clock import FakeClock
from kiosk.codes.drill import Drill
from kiosk.codes.verifier import CodeVerifier
from kiosk.devices.camera_boot import CameraBoot
from kiosk.errors import ConfigError, TrustRootError
from kiosk.service.assembly import open_store
from kiosk.service.lateverifier import LateVerifier, check_root_key
from tests.codes_support import HOLDER, make_drill, make_verifier
from tests.paths import REPO

HEAVY = ("cryptography", "kiosk.codes.verifier", "kiosk.codes.trust", "kiosk.codes.keys")
# moved off the start path of an existing log to cut the CPU of a start (issue 17, docs/benchmarks.md)
OFF_THE_START = ("hashlib", "_hashlib", "ctypes")
BAD_PEM = b"-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n"


def _config(tmp_path: Path, root_key: Path, bundle: Path | None = None) -> Path:
    cfg = tmp_path / "k.toml"
    bundle_line = f'bundle = "{bundle}"\n' if bundle is not None else ""
    cfg.write_text(f'[kiosk]\nid = "k1"\ncompound = "c1"\n'
                   f'state_dir = "{tmp_path}/state"\nruntime_dir = "{tmp_path}/run"\n'
                   '[gpio]\npin_factory = "mock"\n[thermometer]\nenabled = false\n[camera]\nenabled = false\n'
                   f'[voice]\nbackend = "none"\n[codes]\nroot_key = "{root_key}"\n{bundle_line}')
    return cfg


def _kiosk_run(tmp_path: Path, cfg: Path, prelude: str = "") -> subprocess.Popen[str]:
    """`kiosk run` as systemd starts it; ``prelude`` runs in the process first."""
    code = f"{prelude}\nimport sys\nfrom kiosk.cli.main import main\nsys.exit(main(['run', '--config', {str(cfg)!r}]))"
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_nothing_of_the_verifier_nor_what_was_moved_off_the_start_is_imported_before_ready(
        tmp_path: Path, notify_socket: socket.socket) -> None:
    drill = make_drill(tmp_path, FakeClock())
    # at READY the process prints what it has imported and ends (the verifier thread starts after)
    prelude = ("import os, sys\nfrom kiosk.service import sdnotify\n"
               "def ready(self, status=''):\n"
               f"    print(' '.join(m for m in {HEAVY + OFF_THE_START!r} if m in sys.modules), flush=True)\n"
               "    os._exit(0)\n"
               "sdnotify.Notifier.ready = ready")
    cfg = _config(tmp_path, drill.root_key_path, drill.bundle_path)
    open_store(config_mod.load(str(cfg)), FakeClock()).close()     # a restart: the log exists (a new one hashes)
    proc = _kiosk_run(tmp_path, cfg, prelude)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.strip() == "", f"imported before READY: {out.strip()}"


def test_a_root_key_that_is_no_pem_file_stops_the_start_at_once_with_78(tmp_path: Path,
                                                                      notify_socket: socket.socket) -> None:
    key = tmp_path / "root.pub"
    key.write_bytes(b"hello\n")
    proc = _kiosk_run(tmp_path, _config(tmp_path, key))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 78
    assert [line for line in err.splitlines() if "codes.root_key" in line] == \
        [f"kiosk run: codes.root_key: {key} is not a PEM public key (no BEGIN ... KEY line)"]
    assert "Traceback" not in err
    notify_socket.setblocking(False)
    with pytest.raises(BlockingIOError):       # READY never went out
        notify_socket.recv(4096)


def test_a_root_key_that_fails_only_when_built_ends_the_service_with_78(tmp_path: Path,
                                                                       notify_socket: socket.socket) -> None:
    key = tmp_path / "root.pub"
    key.write_bytes(BAD_PEM)                   # passes the cheap checks; cryptography refuses it
    proc = _kiosk_run(tmp_path, _config(tmp_path, key))
    try:
        assert "READY=1" in notify_socket.recv(4096).decode()
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 78
    lines = [line for line in err.splitlines() if "codes.root_key" in line]
    assert len(lines) == 1 and lines[0].startswith(f"kiosk run: codes.root_key: public key {key} is not a PEM"), err
    assert "Traceback" not in err


def test_check_root_key_names_the_file_and_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(TrustRootError, match=r"codes\.root_key: cannot read .*missing\.pub"):
        check_root_key(tmp_path / "missing.pub")
    big = tmp_path / "big.pub"
    big.write_bytes(BAD_PEM * 1000)
    with pytest.raises(TrustRootError, match="larger than 16384 bytes"):
        check_root_key(big)
    good = tmp_path / "good.pub"
    good.write_bytes(BAD_PEM)
    check_root_key(good)                       # the rest is the verifier's to say


def _drill_verifier(tmp_path: Path) -> tuple[Drill, FakeClock, CodeVerifier]:
    clock = FakeClock()
    drill = make_drill(tmp_path, clock)
    return drill, clock, make_verifier(drill, clock)


def test_before_the_build_nothing_is_trusted_after_it_the_real_verifier_decides(tmp_path: Path) -> None:
    drill, clock, real = _drill_verifier(tmp_path)
    late = LateVerifier(lambda: real)
    payload = drill.code("green", HOLDER, clock.wall()).encode()
    assert late.verify(payload).reason == "unsupported_format"
    assert getattr(late.trust, "message", "") == "trust material loading (the verifier is built after READY)"
    assert late.build() and late.ready.is_set()
    verdict = late.verify(payload)
    assert verdict.reason != "unsupported_format" and verdict.reason == real.verify(payload).reason
    assert late.trust is real.trust


def test_a_failed_build_is_reported_once_and_keeps_the_camera_closed() -> None:
    failures: list[ConfigError] = []
    late = LateVerifier(lambda: (_ for _ in ()).throw(TrustRootError("codes.root_key: no")))
    late.on_failure = failures.append
    opened: list[bool] = []

    class Sink:
        def device_fault(self, device: str, message: str) -> None:
            raise AssertionError(message)

    boot = CameraBoot(lambda: opened.append(True), Sink(), late.build)  # type: ignore[arg-type]
    boot.start()
    assert boot.started.wait(30)
    assert opened == [] and [str(e) for e in failures] == ["codes.root_key: no"]
    assert not late.build() and len(failures) == 1          # built once: no second report
    boot.close()
