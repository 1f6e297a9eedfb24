"""kiosk.devices.camera: camera → decoder → kiosk callbacks, dedupe on the kiosk clock, faults, and
the camera wired into the assembled kiosk."""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from drivers.errors import DeviceUnavailable
from hardware_mocks.camera import CATEGORIES, holding_clip, render_scene, write_clip
from kiosk.clock import FakeClock
from kiosk.config import CameraSection, Config
from kiosk.core.events import CodeRead, DeviceFault
from kiosk.core.verdict import CodeVerdict
from kiosk.devices import camera as camera_mod
from kiosk.devices.camera import HELD_GAP_S, CameraFeed, Deduper, fingerprint, open_feed, self_check
from kiosk.errors import ConfigError
from kiosk.service.assembly import assembled

WAIT = 15.0
PAYLOAD = "GK1:NCFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NFQGRJPC%OQHIZC4.OI1RM8ZA.A5:S9MKN02/5"


class Sink:
    """Records what the scan thread reports, as the Kiosk's adapters would receive it."""

    def __init__(self) -> None:
        self.payloads: queue.Queue[bytes] = queue.Queue()
        self.faults: queue.Queue[tuple[str, str]] = queue.Queue()
        self.recovered: queue.Queue[str] = queue.Queue()

    def payload_seen(self, payload: bytes) -> None:
        self.payloads.put(payload)

    def device_fault(self, device: str, message: str) -> None:
        self.faults.put((device, message))

    def device_recovered(self, device: str) -> None:
        self.recovered.put(device)


class ListSource:
    """Plays frames once (then gives nothing, like a camera whose stream stopped)."""

    live = True
    name = "list camera"

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = list(frames)
        self.done = threading.Event()
        self.present = True

    def open(self) -> None:
        if not self.present:
            raise DeviceUnavailable("list camera: gone")

    def read(self) -> np.ndarray | None:
        if self.frames and self.present:
            return self.frames.pop(0)
        self.done.set()
        self.done.wait(0.01)
        return None

    def close(self) -> None:
        pass


def code_frames(n: int, category: str = "clean", seed: int = 1, payload: str = PAYLOAD) -> list[np.ndarray]:
    rng = random.Random(seed)
    return holding_clip(payload, CATEGORIES[category](rng), rng, frames=n, lead_in=0, size=(960, 540))


# --------------------------------------------------------------------------- dedupe

def test_dedupe_one_event_per_sighting_on_the_kiosk_clock() -> None:
    clock = FakeClock()
    d = Deduper(3.0, clock.monotonic)
    assert d.fresh(b"A")
    clock.advance(2.0)
    assert not d.fresh(b"A")           # still in view
    clock.advance(2.0)
    assert not d.fresh(b"A")           # 2 s after the last sighting: the window slides
    assert d.fresh(b"B")               # another code is its own event
    clock.advance(3.5)
    assert d.fresh(b"A")               # out of sight for longer than the window: new event
    assert not d.fresh(b"A")


def test_dedupe_window_zero_makes_every_sighting_an_event_after_any_time() -> None:
    clock = FakeClock()
    d = Deduper(0.0, clock.monotonic)
    assert d.fresh(b"A") and not d.fresh(b"A")
    clock.advance(0.001)
    assert d.fresh(b"A")


def test_fingerprint_never_contains_the_payload() -> None:
    fp = fingerprint(PAYLOAD.encode())
    assert str(len(PAYLOAD)) in fp and PAYLOAD[4:14] not in fp


# --------------------------------------------------------------------------- the feed

def test_a_held_code_is_one_payload_event_and_never_logged_raw(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    source = ListSource([render_scene(random.Random(1), (960, 540))] + code_frames(6))
    sink = Sink()
    with CameraFeed(source, sink, CameraSection(dedupe_s=3.0), clock.monotonic):
        assert sink.payloads.get(timeout=WAIT) == PAYLOAD.encode()
        assert source.done.wait(WAIT)
    assert sink.payloads.empty()                      # the other frames were the same sighting
    assert PAYLOAD[4:30] not in caplog.text and "code read" in caplog.text


def test_the_camera_threads_yield_to_the_gate_and_nothing_else_is_lowered() -> None:
    # drivers/camera/priority.py: under a CPU quota a decode running when the deciding thermometer
    # frame came delayed the relay; the camera's two threads are SCHED_IDLE, the rest keep theirs
    source = ListSource(code_frames(2))
    sink = Sink()
    with CameraFeed(source, sink, CameraSection(), FakeClock().monotonic) as feed:
        assert sink.payloads.get(timeout=WAIT) == PAYLOAD.encode()    # the scan thread has run
        threads = (feed._thread, feed.capture._thread)
        assert all(t.native_id is not None for t in threads)
        assert [os.sched_getscheduler(t.native_id or 0) for t in threads] == [os.SCHED_IDLE] * 2
    assert os.sched_getscheduler(0) == os.SCHED_OTHER       # the caller (the kiosk's other threads)


def test_another_code_and_the_same_code_later_are_new_events() -> None:
    clock = FakeClock()
    other = PAYLOAD.replace("GK1:N", "GK1:X")
    source = ListSource(code_frames(2))
    sink = Sink()
    feed = CameraFeed(source, sink, CameraSection(dedupe_s=3.0), clock.monotonic)
    with feed:
        assert sink.payloads.get(timeout=WAIT) == PAYLOAD.encode()
        source.frames = code_frames(2, seed=2, payload=other)     # the next resident, a second later
        assert sink.payloads.get(timeout=WAIT) == other.encode()
        assert source.done.wait(WAIT)
        clock.advance(10.0)                           # the first resident comes back later
        source.frames = code_frames(2)
        assert sink.payloads.get(timeout=WAIT) == PAYLOAD.encode()
    assert feed.events == 3


def test_camera_faults_and_recoveries_reach_the_kiosk_as_device_camera() -> None:
    source = ListSource([])
    sink = Sink()
    cfg = CameraSection(fps=15.0)
    with CameraFeed(source, sink, cfg, FakeClock().monotonic, stall_s=0.2, backoff_s=(0.01, 0.05)):
        device, message = sink.faults.get(timeout=WAIT)
        assert device == "camera" and "no frames" in message
        source.frames = [render_scene(random.Random(3), (320, 240))]
        assert sink.recovered.get(timeout=WAIT) == "camera"


def test_open_feed_disabled_and_bad_sources() -> None:
    sink = Sink()
    assert open_feed(CameraSection(enabled=False), sink, FakeClock().monotonic) is None
    with pytest.raises(ConfigError, match=r"camera\.source"):
        open_feed(CameraSection(source="frames/%s.png"), sink, FakeClock().monotonic)


# --------------------------------------------------------------------------- assembled kiosk

class RecordingVerifier:
    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def verify(self, payload: bytes) -> CodeVerdict:
        self.seen.append(payload)
        return CodeVerdict(reason="ok", kind="dynamic", colour="green", token_hash="t" * 32, holder_ref="h" * 32)

    def mark_used(self, verdict: CodeVerdict) -> None:
        pass


def _events_until(kiosk: object, kind: type) -> object:
    events: queue.Queue[object] = kiosk.events     # type: ignore[attr-defined]
    while True:
        ev = events.get(timeout=WAIT)
        if isinstance(ev, kind):
            return ev


def test_assembled_kiosk_reads_a_code_from_the_configured_camera(cfg: Config, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """[camera] source = an image sequence: the real VideoCapture → decoder → verifier → CodeRead."""
    clip = [render_scene(random.Random(4), (960, 540))] * 3 + code_frames(6, "dark_mode")
    seq = write_clip(clip, tmp_path / "camera")
    cfg = cfg.replace(camera=CameraSection(source=seq, fps=30.0))     # enabled by default
    verifier = RecordingVerifier()
    monkeypatch.setattr("kiosk.service.assembly.make_verifier", lambda cfg, clock: verifier)
    with assembled(cfg, FakeClock()) as kiosk:
        ev = _events_until(kiosk, CodeRead)
    assert isinstance(ev, CodeRead) and ev.verdict.reason == "ok"
    assert verifier.seen[0] == PAYLOAD.encode()


def test_assembled_kiosk_reports_a_missing_camera(cfg: Config, tmp_path: Path) -> None:
    cfg = cfg.replace(camera=CameraSection(source=str(tmp_path / "no-camera.avi")))
    with assembled(cfg, FakeClock()) as kiosk:
        ev = _events_until(kiosk, DeviceFault)
    assert isinstance(ev, DeviceFault) and ev.device == "camera" and "no such file" in ev.message


def test_assembled_kiosk_without_camera(cfg: Config) -> None:
    assert not cfg.camera.enabled
    with assembled(cfg, FakeClock()) as kiosk:
        assert kiosk.events.empty()


def test_selftest_camera_check(tmp_path: Path) -> None:
    seq = write_clip([render_scene(random.Random(5), (640, 360))] * 2 + code_frames(2), tmp_path / "cam")
    ok, detail = self_check(CameraSection(source=seq, fps=30.0), seconds=0.5)
    assert ok and "fps" in detail and ("read a code" in detail or "no code in view" in detail)
    assert PAYLOAD[4:20] not in detail
    ok, detail = self_check(CameraSection(source=str(tmp_path / "none.avi")), seconds=0.3)
    assert not ok and "no such file" in detail
    assert self_check(CameraSection(enabled=False)) == (False, "no camera configured ([camera] enabled = false)")


class FastCamera:
    """A live camera that ignores the requested rate: a new frame every millisecond (its own pace,
    as a device's; nothing waits on it), showing ``self.frame``."""

    live = True
    name = "fast camera"

    def __init__(self, frame: np.ndarray) -> None:
        self.frame = frame
        self.reads = 0
        self._pace = threading.Event()

    def open(self) -> None:
        pass

    def read(self) -> np.ndarray:
        self._pace.wait(0.001)
        self.reads += 1
        return self.frame

    def close(self) -> None:
        pass


def test_a_camera_faster_than_configured_is_said_once_and_paced(caplog: pytest.LogCaptureFixture) -> None:
    said = threading.Event()

    class Said(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "more than [camera] fps" in record.getMessage():
                said.set()

    caplog.set_level(logging.INFO, logger="kiosk.devices.camera")
    watcher = Said()
    logging.getLogger("kiosk.devices.camera").addHandler(watcher)
    try:
        source = FastCamera(render_scene(random.Random(2), (960, 540)))
        sink = Sink()
        feed = CameraFeed(source, sink, CameraSection(fps=5.0), FakeClock().monotonic)
        t0 = time.monotonic()
        with feed:
            assert said.wait(WAIT)
            source.frame = code_frames(1)[0]              # a resident holds a code up: still read
            assert sink.payloads.get(timeout=WAIT) == PAYLOAD.encode()
            elapsed = time.monotonic() - t0
            taken, captured = feed.frames_taken, feed.capture.frames
    finally:
        logging.getLogger("kiosk.devices.camera").removeHandler(watcher)
    assert caplog.text.count("more than [camera] fps = 5") == 1
    assert taken <= 1 + elapsed * 5.0 + 1                  # the scan thread kept its pace …
    assert captured > 2 * taken and feed.frames_skipped > 0   # … while the camera ran ahead of it


def test_a_code_held_in_view_is_decoded_twice_a_second_not_at_the_frame_rate() -> None:
    source = FastCamera(code_frames(1)[0])            # a resident holding the code through the measurement
    sink = Sink()
    feed = CameraFeed(source, sink, CameraSection(fps=30.0, dedupe_s=3.0), FakeClock().monotonic)
    with feed:
        assert sink.payloads.get(timeout=WAIT) == PAYLOAD.encode()     # read on its first frame
        first, t1 = feed.frames_decoded, time.monotonic()
        while feed.frames_decoded < first + 3:        # three more decodes of the same code …
            assert time.monotonic() - t1 < WAIT
            feed.capture.latest(after=feed.capture.frames, timeout=0.5)
        more, elapsed = feed.frames_decoded - first, time.monotonic() - t1
    assert more <= 1 + elapsed / HELD_GAP_S           # … come HELD_GAP_S apart, not 30 a second
    assert sink.payloads.empty()                      # and are the same sighting


def test_once_the_held_codes_case_is_decided_the_next_code_is_read_on_its_first_frame(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A queue of residents: the next one holds a code up as soon as the gate opened for the one
    # before. Without release() the scan thread waits out the held code's gap (an hour here, so
    # the test cannot pass by timing) and the new code is never read.
    monkeypatch.setattr(camera_mod, "HELD_GAP_S", 3600.0)
    other = PAYLOAD[:-6] + "ABCDEF"
    source = FastCamera(code_frames(1)[0])
    sink = Sink()
    feed = CameraFeed(source, sink, CameraSection(fps=30.0, dedupe_s=3.0), FakeClock().monotonic)
    with feed:
        assert sink.payloads.get(timeout=WAIT) == PAYLOAD.encode()     # read; now held
        source.frame = code_frames(1, payload=other)[0]                  # the next resident steps up
        feed.release()                                                   # … as the first one's case is decided
        assert sink.payloads.get(timeout=WAIT) == other.encode()        # read at once (a frame or two)
        decoded = feed.frames_decoded
        source.frame = code_frames(1, payload=PAYLOAD[:-6] + "GHIJKL")[0]  # a new code holds again:
        for _ in range(5):                                                # frames come, none is decoded
            assert feed.capture.latest(after=feed.capture.frames, timeout=WAIT) is not None
        assert feed.frames_decoded == decoded and sink.payloads.empty()
