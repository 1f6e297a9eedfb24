"""The demo's synthetic camera: the director shows real GK1 codes on rendered phones, and they
reach the kiosk through cv2.VideoCapture, the capture and scan threads, Kiosk.payload_seen and
the real verifier."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from hardware_mocks.camera import DemoCamera
from kiosk.clock import SystemClock
from kiosk.config import Config
from kiosk.core.flow import State
from kiosk.demo.director import Director, trust_drill
from kiosk.service.assembly import assembled


def test_director_shows_real_codes_through_the_synthetic_camera(cfg: Config, tmp_path: Path) -> None:
    cfg, drill = trust_drill(cfg)
    camera = DemoCamera(seed=3, workdir=tmp_path / "clips")
    stop = threading.Event()
    with assembled(cfg, SystemClock(assume_synced=True), frame_source=camera) as kiosk:
        loop = threading.Thread(target=kiosk.run, args=(stop,), name="kiosk-loop")
        loop.start()
        try:
            director = Director(kiosk, random.Random(1), drill, None, camera)  # type: ignore[arg-type]
            director.scan_badge(b"v" * 16, on_duty=True)                        # a volunteer starts the shift
            assert kiosk.flow.on_duty is not None
            director.show_code("green", b"r" * 16)
            case = kiosk.flow.case
            assert case is not None and case.verdict is not None and case.verdict.reason == "ok"
            assert kiosk.flow.state is State.MEASURING
            director.show_code("expired", b"s" * 16)                            # the next resident
            case = kiosk.flow.case
            assert case is not None and case.verdict is not None and case.verdict.reason == "expired"
            assert camera.clips_done.wait(10.0)     # the clip played to its end, then idle frames
        finally:
            stop.set()
            loop.join(10.0)
    assert camera.opened is False
    clips = sorted(p.name for p in (tmp_path / "clips").iterdir())
    assert len(clips) >= 3 and clips[0] == "clip_001.avi"      # MJPG, as a USB camera sends


def test_demo_camera_discards_its_own_clips() -> None:
    camera = DemoCamera(seed=1)
    camera.show("GK1:ABC")
    clips = camera._dir
    assert clips.exists()
    camera.discard()
    assert not clips.exists()
