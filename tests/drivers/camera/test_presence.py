"""drivers.camera.presence: the empty gate is not decoded, a flickering lamp is no visitor, a code
held up is decoded on its first frame; frames from the synthetic camera, time on a FakeClock."""

from __future__ import annotations

import random

import numpy as np
import pytest

from drivers.camera.presence import PresenceGate
from drivers.camera.qr import QrDecoder
from hardware_mocks.camera import CATEGORIES, holding_clip, render_scene
from kiosk.clock import FakeClock

FPS = 15.0
SIZE = (640, 360)


def gate_frames(n: int, light: float = 1.0, seed: int = 5) -> list[np.ndarray]:
    """One empty gate filmed frame after frame: the same scene, fresh sensor noise."""
    return [render_scene(random.Random(seed), SIZE, light=light, sensor=random.Random(1000 + i)) for i in range(n)]


def run(gate: PresenceGate, clock: FakeClock, frames: list[np.ndarray]) -> list[bool]:
    out = []
    for frame in frames:
        out.append(gate.wanted(frame))
        clock.advance(1 / FPS)
    return out


@pytest.mark.parametrize("light", [1.0, 0.25])     # day, and dusk (the sensor's gain amplifies noise)
def test_an_empty_gate_is_decoded_only_by_the_occasional_probe(light: float) -> None:
    clock = FakeClock()
    gate = PresenceGate(clock.monotonic, tail_s=1.0, probe_s=5.0)
    frames = gate_frames(8, light)
    wanted = run(gate, clock, [frames[i % 8] for i in range(300)])     # 20 s
    assert all(wanted[:15])                          # the first second: background being learned
    assert sum(wanted[16:]) <= 4                     # then one probe every 5 s


def test_a_flickering_lamp_or_auto_exposure_is_not_a_visitor() -> None:
    clock = FakeClock()
    gate = PresenceGate(clock.monotonic, tail_s=1.0, probe_s=5.0)
    base = gate_frames(8)
    run(gate, clock, base * 3)
    flicker = [np.clip(f.astype(np.float32) * (0.7 if i % 2 else 1.25), 0, 255).astype(np.uint8)
               for i, f in enumerate(base * 8)]    # the whole scene 30 % darker or 25 % brighter, every frame
    assert sum(run(gate, clock, flicker)) <= 1


def test_a_code_held_up_is_decoded_on_its_first_frame_and_for_the_tail_after() -> None:
    clock = FakeClock()
    gate = PresenceGate(clock.monotonic, tail_s=1.0, probe_s=60.0)
    run(gate, clock, gate_frames(8) * 4)
    rng = random.Random(7)
    clip = holding_clip("GK1:PRESENCE", CATEGORIES["clean"](rng), rng, frames=3, lead_in=0, size=SIZE)
    decoder = QrDecoder()
    first = clip[0]
    assert gate.wanted(first) and decoder.decode(first).payloads == [b"GK1:PRESENCE"]
    clock.advance(1 / FPS)
    after = run(gate, clock, gate_frames(8) * 3)     # the resident leaves: 1.6 s of empty gate
    assert all(after[:14]) and not any(after[16:])


def test_something_that_stays_becomes_background() -> None:
    clock = FakeClock()
    gate = PresenceGate(clock.monotonic, tail_s=1.0, probe_s=60.0, absorb_s=5.0)
    run(gate, clock, gate_frames(8) * 2)
    parked = gate_frames(8, seed=9)                  # a different scene that stays put
    wanted = run(gate, clock, parked * 14)           # 7.5 s: absorbed at 5 s, then the 1 s tail
    assert all(wanted[:60]) and not any(wanted[-15:])


@pytest.mark.parametrize("frame", [None, np.zeros((4, 4), np.uint8), np.zeros((360, 640), np.float32)])
def test_unusable_frames_go_to_the_decoder_which_says_what_is_wrong(frame: object) -> None:
    gate = PresenceGate(FakeClock().monotonic)
    assert gate.wanted(frame)                        # type: ignore[arg-type]
