"""drivers.camera.capture: OpenCV sources, source strings, and the capture thread (newest frame only,
vanishing and returning cameras, cameras that give nothing)."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import numpy as np
import pytest

from drivers.camera.capture import CaptureThread, OpenCVSource, Picamera2Source, open_source, usable
from drivers.camera.spec import describe_spec
from drivers.errors import DeviceConfigError, DeviceUnavailable
from hardware_mocks.camera import render_scene, write_clip

WAIT = 10.0      # generous upper bound for a thread to react; tests finish as soon as it does


def small_frames(n: int) -> list[np.ndarray]:
    return [np.full((48, 64, 3), 10 * i, np.uint8) for i in range(n)]


class StepSource:
    """A live source whose frames the test hands over one by one; it can vanish and return."""

    live = True
    name = "step camera"

    def __init__(self) -> None:
        self.present = True
        self.opens = 0
        self._frames: list[object] = []
        self._cv = threading.Condition()

    def give(self, *frames: object) -> None:
        with self._cv:
            self._frames.extend(frames)
            self._cv.notify_all()

    def open(self) -> None:
        if not self.present:
            raise DeviceUnavailable("step camera: unplugged")
        self.opens += 1

    def read(self) -> np.ndarray | None:
        with self._cv:
            self._cv.wait_for(lambda: self._frames or not self.present, timeout=0.05)
            if not self.present:
                return None
            frame = self._frames.pop(0) if self._frames else None
        if isinstance(frame, Exception):
            raise frame
        return frame  # type: ignore[return-value]

    def close(self) -> None:
        pass


class Events:
    def __init__(self) -> None:
        self.faults: list[str] = []
        self.recoveries = 0
        self.faulted = threading.Event()
        self.recovered = threading.Event()

    def fault(self, msg: str) -> None:
        self.faults.append(msg)
        self.faulted.set()

    def recover(self) -> None:
        self.recoveries += 1
        self.recovered.set()


# --------------------------------------------------------------------------- sources

def test_source_strings() -> None:
    assert describe_spec("0") == "device" and describe_spec("/dev/video2") == "device"
    assert describe_spec("rtsp://cam.local/stream") == "url"
    assert describe_spec("frames/img_%04d.png") == "sequence"
    assert describe_spec("clip.avi") == "file"
    assert isinstance(open_source("picamera2:1"), Picamera2Source)
    assert isinstance(open_source("/dev/video0"), OpenCVSource) and open_source("0").live
    assert not open_source("clip.avi").live
    for bad in ("", "picamera2:x", "frames/%s%d.png"):
        with pytest.raises(DeviceConfigError):
            open_source(bad)


def test_image_sequence_through_videocapture_loops_at_its_end(tmp_path: Path) -> None:
    frames = small_frames(3)
    with OpenCVSource(write_clip(frames, tmp_path / "seq")) as source:
        got = [source.read() for _ in range(7)]
    assert all(g is not None for g in got)
    assert [int(g[0, 0, 0]) for g in got] == [0, 10, 20, 0, 10, 20, 0]   # type: ignore[index]


def test_video_file_through_videocapture(tmp_path: Path) -> None:
    frames = [render_scene(random.Random(i), size=(320, 240)) for i in range(4)]
    with OpenCVSource(write_clip(frames, tmp_path / "clip.avi"), loop=False) as source:
        got = [source.read() for _ in range(5)]
    assert [g is not None and g.shape == (240, 320, 3) for g in got] == [True] * 4 + [False]


def test_missing_sources_are_device_unavailable(tmp_path: Path) -> None:
    for spec in (str(tmp_path / "nothing.avi"), str(tmp_path / "none_%04d.png")):
        with pytest.raises(DeviceUnavailable, match="no such file"):
            OpenCVSource(spec).open()
    (tmp_path / "junk.avi").write_bytes(b"not a video")
    with pytest.raises(DeviceUnavailable, match="could not be opened"):
        OpenCVSource(str(tmp_path / "junk.avi")).open()
    src = OpenCVSource(str(tmp_path / "junk.avi"))
    assert src.read() is None        # never opened: no frame, no crash
    src.close()


def test_picamera2_source_without_picamera2_is_device_unavailable() -> None:
    try:
        import picamera2  # noqa: F401
    except ImportError:
        with pytest.raises(DeviceUnavailable, match="picamera2"):
            Picamera2Source().open()
    else:  # pragma: no cover - on a Pi
        pytest.skip("picamera2 is installed here")


@pytest.mark.parametrize("frame, ok", [
    (np.zeros((4, 4), np.uint8), True), (np.zeros((4, 4, 3), np.uint8), True),
    (np.zeros((0, 0, 3), np.uint8), False), (np.zeros((4, 4), np.float32), False),
    (np.zeros((4, 4, 2), np.uint8), False), (None, False), (b"jpeg", False),
])
def test_usable_frames(frame: object, ok: bool) -> None:
    assert usable(frame) is ok


# --------------------------------------------------------------------------- capture thread

def test_keeps_only_the_newest_frame() -> None:
    source = StepSource()
    with CaptureThread(source, stall_s=WAIT) as capture:
        source.give(*small_frames(5))
        newest = capture.latest(after=4, timeout=WAIT)
        assert newest is not None and newest.seq == 5
        # a slow consumer that last saw frame 1 gets frame 5, not the backlog 2, 3, 4
        again = capture.latest(after=1, timeout=WAIT)
        assert again is not None and again.seq == 5
        assert isinstance(again.frame, np.ndarray) and int(again.frame[0, 0, 0]) == 40
        assert capture.latest(after=5, timeout=0.05) is None
        assert capture.fps > 0


def test_camera_vanishing_and_returning_is_one_fault_and_one_recovery() -> None:
    source, ev = StepSource(), Events()
    with CaptureThread(source, on_fault=ev.fault, on_recovered=ev.recover, stall_s=0.2,
                       backoff_s=(0.01, 0.05)) as capture:
        source.give(*small_frames(2))
        assert capture.latest(after=1, timeout=WAIT) is not None
        source.present = False                      # unplugged: reads fail, reopening fails
        assert ev.faulted.wait(WAIT)
        assert capture.faulted and "no frames" in ev.faults[0]
        opens = source.opens
        source.present = True                       # plugged back in
        source.give(*small_frames(1))
        assert ev.recovered.wait(WAIT)
        assert source.opens > opens and not capture.faulted
        assert len(ev.faults) == 1 and ev.recoveries == 1
        assert capture.latest(after=2, timeout=WAIT) is not None


def test_camera_absent_at_start_faults_once_then_recovers() -> None:
    source, ev = StepSource(), Events()
    source.present = False
    with CaptureThread(source, on_fault=ev.fault, on_recovered=ev.recover, stall_s=0.2,
                       backoff_s=(0.01, 0.02)) as capture:
        assert ev.faulted.wait(WAIT) and "unplugged" in ev.faults[0]
        source.present = True
        source.give(*small_frames(1))
        assert ev.recovered.wait(WAIT)
        assert capture.reconnects >= 1 and len(ev.faults) == 1


@pytest.mark.parametrize("bad", [np.zeros((0, 0, 3), np.uint8), OSError("select() timeout"), "garbage"])
def test_a_camera_giving_nothing_usable_is_a_fault_not_a_crash(bad: object) -> None:
    source, ev = StepSource(), Events()
    with CaptureThread(source, on_fault=ev.fault, on_recovered=ev.recover, stall_s=0.2,
                       backoff_s=(0.01, 0.02)) as capture:
        source.give(*([bad] * 40))                 # 0.4 s of nothing usable
        assert ev.faulted.wait(WAIT)
        assert capture.latest(after=0, timeout=0.05) is None
        source.give(*small_frames(1))              # a good frame at last
        assert ev.recovered.wait(WAIT)


def test_callbacks_that_raise_do_not_stop_the_capture() -> None:
    source = StepSource()

    def broken() -> None:
        raise RuntimeError("listener bug")

    with CaptureThread(source, on_recovered=broken, on_fault=lambda m: broken(), stall_s=0.2,
                       backoff_s=(0.01, 0.02)) as capture:
        source.present = False
        source.present = True
        source.give(*small_frames(3))
        assert capture.latest(after=2, timeout=WAIT) is not None


def test_image_sequence_vanishing_and_returning_through_videocapture(tmp_path: Path) -> None:
    """The real VideoCapture on a clip whose files disappear (a cable pulled) and come back."""
    seq = write_clip(small_frames(3), tmp_path / "cam")
    ev = Events()
    source = OpenCVSource(seq, loop=True)
    with CaptureThread(source, fps=100.0, on_fault=ev.fault, on_recovered=ev.recover, stall_s=0.2,
                       backoff_s=(0.01, 0.05)) as capture:
        assert capture.latest(after=3, timeout=WAIT) is not None
        (tmp_path / "cam").rename(tmp_path / "gone")
        assert ev.faulted.wait(WAIT)
        (tmp_path / "gone").rename(tmp_path / "cam")
        assert ev.recovered.wait(WAIT)
        seen = capture.frames
        assert capture.latest(after=seen, timeout=WAIT) is not None


def test_close_stops_the_thread_and_wakes_waiting_consumers() -> None:
    source = StepSource()
    capture = CaptureThread(source).start()
    waiter_done = threading.Event()

    def waiter() -> None:
        capture.latest(after=0, timeout=None)
        waiter_done.set()

    t = threading.Thread(target=waiter)
    t.start()
    capture.close()
    assert waiter_done.wait(WAIT)
    t.join(WAIT)
    assert capture.closed
