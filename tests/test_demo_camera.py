"""The demo's synthetic camera: a director shows a payload on a rendered phone, and it reaches
the kiosk through cv2.VideoCapture, the capture and scan threads and Kiosk.payload_seen."""

from __future__ import annotations

import dataclasses
import random
import threading
from pathlib import Path

import pytest

from hardware_mocks.camera import CATEGORIES, DemoCamera
from kiosk.app import assembled
from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.demo import Director
from kiosk.flow import State
from kiosk.verdict import CodeVerdict

FIRST = "GK1:NCFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NFQGRJPC%OQHIZC4.OI1RM8ZA"
SECOND = "GK1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0BGJLFX3R3VHXK.PJ:2DPF6R"


class RecordingVerifier:
    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self.verdicts: list[CodeVerdict] = []

    def verify(self, payload: bytes) -> CodeVerdict:
        self.seen.append(payload)
        verdict = CodeVerdict(reason="ok", kind="dynamic", colour="green",
                              token_hash=f"{len(self.seen):032x}", holder_ref=f"{len(self.seen):032x}")
        self.verdicts.append(verdict)
        return verdict


@pytest.fixture
def stand_in(cfg: Config) -> Config:
    # without the GPIO journal: drivers/gpio.py's JournalMockPin clashes with gpiozero 2.0.1 (reported)
    return cfg.replace(gpio=dataclasses.replace(cfg.gpio, mock_journal=None))


def test_director_shows_payloads_through_the_synthetic_camera(stand_in: Config, tmp_path: Path) -> None:
    camera = DemoCamera(seed=3, workdir=tmp_path / "clips")
    verifier = RecordingVerifier()
    stop = threading.Event()
    with assembled(stand_in, FakeClock(), frame_source=camera) as kiosk:
        kiosk.verifier = verifier
        loop = threading.Thread(target=kiosk.run, args=(stop,), name="kiosk-loop")
        loop.start()
        try:
            director = Director(kiosk, random.Random(1), camera)
            director.show_payload(FIRST)
            assert verifier.seen == [FIRST.encode()]
            case = kiosk.flow.case
            assert case is not None and case.verdict is verifier.verdicts[0]
            assert kiosk.flow.state is State.MEASURING
            director.show_payload(SECOND, look=CATEGORIES["dark_mode"](random.Random(2)))
            assert verifier.seen == [FIRST.encode(), SECOND.encode()]
            assert camera.clips_done.wait(10.0)            # the clip played to its end, then idle frames
        finally:
            stop.set()
            loop.join(10.0)
    assert camera.opened is False
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["clip_001", "clip_002"]
    assert (tmp_path / "clips" / "clip_001" / "frame_0000.png").exists()


def test_show_payload_needs_the_demo_camera(stand_in: Config) -> None:
    with assembled(stand_in, FakeClock()) as kiosk:
        with pytest.raises(RuntimeError, match="demo camera"):
            Director(kiosk, random.Random(1)).show_payload(FIRST)


def test_demo_camera_discards_its_own_clips() -> None:
    camera = DemoCamera(seed=1)
    camera.show("GK1:ABC")
    clips = camera._dir
    assert clips.exists()
    camera.discard()
    assert not clips.exists()
