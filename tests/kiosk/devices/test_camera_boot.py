"""kiosk.devices.camera_boot: the camera is started in its own thread after READY — a bad source
string still stops the start at once, a camera that cannot start is a camera fault (never a
crash), a close during the start leaves no camera running; and the start path of `kiosk run`
imports neither OpenCV nor numpy nor the QR engines."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from kiosk.config import CameraSection, Config
from kiosk.devices.camera_boot import CameraBoot, start_soon
from kiosk.errors import ConfigError
from kiosk.service.runtime import Inbox

WAIT = 15.0


class Faults:
    """The part of the kiosk's sink a camera start reports to."""

    def __init__(self) -> None:
        self.got: queue.Queue[tuple[str, str]] = queue.Queue()

    def device_fault(self, device: str, message: str) -> None:
        self.got.put((device, message))


class Feed:
    def __init__(self) -> None:
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()


def test_a_bad_source_string_stops_the_start_at_once(cfg: Config) -> None:
    cfg = cfg.replace(camera=CameraSection(source="picamera2:x"))
    with pytest.raises(ConfigError, match=r"camera\.source: camera source .picamera2:x."):
        start_soon(cfg, Inbox(FakeClock()), verifier=None, now=FakeClock().monotonic)  # type: ignore[arg-type]


def test_a_camera_that_cannot_start_is_a_camera_fault() -> None:
    def broken() -> None:
        raise ImportError("libGL.so.1: cannot open shared object file")

    sink = Faults()
    boot = CameraBoot(broken, sink).start()  # type: ignore[arg-type]
    assert boot.started.wait(WAIT)
    device, message = sink.got.get(timeout=WAIT)
    assert device == "camera" and "camera did not start: libGL.so.1" in message
    assert boot.feed is None
    boot.close()


def test_nothing_starts_before_start_and_a_close_during_the_start_closes_the_camera() -> None:
    entered, release, feed = threading.Event(), threading.Event(), Feed()

    def slow() -> Feed:                    # OpenCV being imported on a quarter of a core
        entered.set()
        release.wait(WAIT)
        return feed

    boot = CameraBoot(slow, Faults())  # type: ignore[arg-type]
    assert not entered.wait(0.2)           # set up, not started (kiosk run starts it after READY)
    boot.start()
    assert entered.wait(WAIT)
    closer = threading.Thread(target=boot.close)
    closer.start()                         # the kiosk stops while the camera is still starting
    release.set()
    closer.join(WAIT)
    assert feed.closed.is_set() and boot.feed is None
    boot.start()                           # a start after close does nothing
    assert boot.feed is None


def test_the_start_path_of_kiosk_run_imports_no_camera_stack() -> None:
    code = ("import sys, kiosk.cli.run, kiosk.service.assembly\n"
            "heavy = sorted(m for m in ('cv2', 'numpy', 'zxingcpp', 'pyzbar', 'flask', 'uuid', 'ctypes.util')"
            " if m in sys.modules)\n"
            "print(' '.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[3])
    assert out.stdout.strip() == "", f"imported before READY: {out.stdout.strip()}"
