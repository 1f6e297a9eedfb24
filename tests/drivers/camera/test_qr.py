"""drivers.camera.qr: the decoding cascade on frames from the synthetic camera, read back through
the real cv2.VideoCapture; budgets, region tracking and bad frames."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from drivers.camera.capture import OpenCVSource
from drivers.camera.qr import CASCADE, PREPS, ZBAR_CASCADE, QrDecoder, busiest_region, steps, to_gray, variant
from drivers.camera.zbar import QrScanner
from hardware_mocks.camera import CATEGORIES, Look, holding_clip, render, render_scene, write_clip

PAYLOAD = "GK1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0BGJLFX3R3VHXK.PJ:2DPF6R:5SVBHABVCNN95"


def frames_through_videocapture(tmp_path: Path, frames: list[np.ndarray]) -> list[np.ndarray]:
    """Write frames as an image sequence and read them back with cv2.VideoCapture."""
    source = OpenCVSource(write_clip(frames, tmp_path / "clip"), loop=False)
    out = []
    with source:
        while (frame := source.read()) is not None:
            assert isinstance(frame, np.ndarray)      # compressed=False: decoded frames
            out.append(frame)
    assert len(out) == len(frames)
    return out


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_reads_every_difficulty_within_a_moment_of_holding_it_up(tmp_path: Path, category: str) -> None:
    """Each category, one resident, four frames (a quarter second at 15 fps); bench/decode.py
    measures the rates over hundreds."""
    for seed in (11,):
        rng = random.Random(f"{category}-{seed}")
        clip = holding_clip(PAYLOAD, CATEGORIES[category](rng), rng, frames=4, lead_in=0)
        decoder = QrDecoder(budget_ms=1000.0)    # the per-frame call cap, not this machine's speed, decides
        results = [decoder.decode(f) for f in frames_through_videocapture(tmp_path / str(seed), clip)]
        read = [r for r in results if r.payloads]
        assert read, f"{category} seed {seed}: not read; tried {[r.tried for r in results]}"
        assert read[0].payloads == [PAYLOAD.encode()]
        assert all(r.calls <= decoder.max_calls for r in results)


def test_dark_mode_needs_the_cascade() -> None:
    rng = random.Random(3)
    frame = render(PAYLOAD, CATEGORIES["dark_mode"](rng), rng)
    gray = to_gray(frame)
    assert gray is not None
    assert QrScanner().scan(gray) == []            # plain ZBar reads no dark screen
    zbar_only = QrDecoder(cascade=ZBAR_CASCADE).decode(frame)
    assert zbar_only.payloads == [PAYLOAD.encode()]
    assert zbar_only.hit in ("zbar/half_inv", "zbar/inverted", "zbar/rectify")
    assert QrDecoder().decode(frame).payloads == [PAYLOAD.encode()]   # zxing-cpp: both polarities


def test_the_measured_cascade_is_used_when_zxing_cpp_is_installed_and_zbar_alone_otherwise() -> None:
    from drivers.camera.qr import default_cascade
    assert default_cascade(("zxing", "zbar")) == CASCADE and CASCADE[0].name == "zxing"
    assert default_cascade(("zbar",)) == ZBAR_CASCADE
    assert {s.engine for s in ZBAR_CASCADE} == {"zbar"}
    # every ZBar step of the measured cascade has its dark-mode twin (ZBar reads dark-on-light only)
    zbar_preps = {s.prep for s in CASCADE if s.engine == "zbar"}
    assert all(p.endswith("_inv") or f"{p}_inv" in zbar_preps for p in zbar_preps)
    with pytest.raises(ValueError, match="unknown QR cascade step"):
        QrDecoder(cascade=steps(["zbar/sharpen"]))


def test_no_payload_from_frames_without_a_code() -> None:
    decoder = QrDecoder()
    for seed in range(6):
        frame = render_scene(random.Random(seed), light=(1.0, 0.15)[seed % 2])
        assert decoder.decode_still(frame).payloads == []
        assert decoder.decode(frame).payloads == []


def test_a_frame_costs_at_most_max_calls_and_the_next_frames_go_on_round_robin() -> None:
    frame = render_scene(random.Random(5))
    decoder = QrDecoder(max_calls=3, budget_ms=10_000.0)
    tried: list[str] = []
    frames = -(-len(decoder.rest) // 2)           # two more steps per frame
    for _ in range(frames):
        result = decoder.decode(frame)
        assert result.calls <= 3 and result.tried[0] == CASCADE[0].name
        tried += result.tried[1:]
    assert set(tried) == {s.name for s in decoder.rest}           # every step met, in order
    assert tried[:len(decoder.rest)] == [s.name for s in decoder.rest]


def test_an_unchanged_empty_scene_gets_the_native_scan_only_until_it_changes() -> None:
    decoder = QrDecoder(max_calls=3, budget_ms=10_000.0, cascade=ZBAR_CASCADE)
    gate = [render_scene(random.Random(5), sensor=random.Random(i)) for i in range(5)]
    calls = [decoder.decode(frame).calls for frame in gate]
    assert calls == [3, 3, 3, 1, 1]             # every step failed on this scene: idle
    resident = render_scene(random.Random(6))    # something moved
    assert decoder.decode(resident).calls == 3


def test_time_budget_cuts_a_frame_short_but_one_variant_always_runs() -> None:
    ticks = iter(range(0, 10_000_000, 50))        # a fake timer: every reading is 50 ms later
    decoder = QrDecoder(max_calls=5, budget_ms=60.0, timer=lambda: next(ticks) / 1000.0)
    decoder._cost = {step: 50.0 for step in decoder.rest}
    result = decoder.decode(render_scene(random.Random(1)))
    assert result.tried == (CASCADE[0].name, CASCADE[1].name)


def test_region_tracking_scans_the_last_code_region_first() -> None:
    now = [100.0]
    decoder = QrDecoder(now=lambda: now[0], track_s=2.0)
    rng = random.Random(9)
    look = CATEGORIES["clean"](rng)
    clip = holding_clip(PAYLOAD, look, rng, frames=2, lead_in=0)
    first = decoder.decode(clip[0])
    assert first.payloads == [PAYLOAD.encode()] and first.box is not None
    x0, y0, x1, y1 = first.box
    assert 0 <= x0 < x1 <= 1280 and 0 <= y0 < y1 <= 720
    second = decoder.decode(clip[1])
    assert second.tried == (f"region:{first.hit}",) and second.payloads == [PAYLOAD.encode()]
    now[0] += 5.0                                  # too long ago: back to the whole frame
    third = decoder.decode(clip[1])
    assert third.tried[0] == CASCADE[0].name


def test_a_code_with_arbitrary_bytes_and_a_huge_one_are_passed_on_exactly() -> None:
    rng = random.Random(4)
    binary = bytes(rng.getrandbits(8) for _ in range(300))
    frame = render(binary, Look(module_px=5.0, noise=2.0), rng)
    huge = "GK1:" + "A1" * 1000                    # 2004 characters: version 31+
    big = render(huge, Look(module_px=4.2, noise=1.0, medium="paper"), rng, size=(1280, 960))
    for cascade in (CASCADE, ZBAR_CASCADE):      # every engine keeps the bytes exact
        assert QrDecoder(cascade=cascade).decode_still(frame).payloads == [binary]
        assert QrDecoder(cascade=cascade).decode_still(big).payloads == [huge.encode()]


@pytest.mark.parametrize("frame", [
    np.zeros((0, 0, 3), np.uint8), np.zeros((720, 0), np.uint8), np.zeros((5,), np.uint8),
    np.zeros((4, 4, 2), np.uint8), np.full((40, 40), np.nan), np.zeros((30, 30), bool),
    np.zeros((30, 30), complex), np.array([["a"]]), None, "frame",
])
def test_unusable_frames_give_nothing_and_no_crash(frame: object) -> None:
    decoder = QrDecoder()
    assert decoder.decode(frame).payloads == []         # type: ignore[arg-type]
    assert decoder.decode_still(frame).payloads == []   # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=64)))
def test_any_small_image_decodes_without_crashing(image: np.ndarray) -> None:
    result = QrDecoder().decode_still(image)
    assert isinstance(result.payloads, list)


@given(st.sampled_from(PREPS))
@settings(max_examples=10, deadline=None)
def test_variants_of_a_tracked_region_at_the_frame_edge_stay_inside(name: str) -> None:
    gray = to_gray(render_scene(random.Random(2), size=(320, 240)))
    assert gray is not None
    made = variant(gray, name, (300, 220, 320, 240))
    assert made is None or made[0].size > 0


def test_busiest_region_finds_a_small_code() -> None:
    rng = random.Random(8)
    look = Look(module_px=2.0, offset=(0.3, -0.25), noise=2.0)
    gray = to_gray(render(PAYLOAD, look, rng))
    assert gray is not None
    x0, y0, x1, y1 = busiest_region(gray)
    cx, cy = 640 + 0.3 * 1280, 360 - 0.25 * 720
    assert x0 <= cx <= x1 and y0 <= cy <= y1
