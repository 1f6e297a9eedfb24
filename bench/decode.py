"""QR decode benchmark: real photographs (bench/decode_photos.py), then synthetic phone-screen
and paper frames (not a test).

    .venv/bin/python bench/decode.py --photos DIR        # real photos, then 13 categories × 25 scenes × 3 frames
    .venv/bin/python bench/decode.py --per-category 5    # rendered scenes only, a quick look

Each scene is one resident holding a code up: ``--frames`` consecutive camera frames (the
code shakes a little, the sensor noise is fresh) rendered by ``hardware_mocks.camera``. Every
decoder gets the frames of a scene in order until it reads the payload, as it would at the
gate. Per category it prints, for the kiosk's pipeline (``drivers.camera.qr.QrDecoder``), plain
``pyzbar.decode`` on the grey frame, OpenCV's own QR decoder and zxing-cpp alone: the share of scenes read on the first
frame and within the held frames, and median / p95 milliseconds per decoded frame. Then it
counts false payloads on frames without a code, and measures camera-frame-to-event
latency: clips written as image sequences, read back through the real ``cv2.VideoCapture``
by the capture thread at 15 fps, decoded by the kiosk's scan thread (``kiosk.devices.camera``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import decode_photos  # type: ignore[import-not-found,unused-ignore]  # bench/ beside this file

from drivers.camera import engines
from drivers.camera.capture import OpenCVSource
from drivers.camera.presence import PresenceGate
from drivers.camera.qr import QrDecoder
from hardware_mocks.camera import CATEGORIES, holding_clip, render_scene, write_clip
from kiosk.config import CameraSection
from kiosk.devices.camera import CameraFeed

BASE45 = string.digits + string.ascii_uppercase + " $%*+-./:"


def gk1_like(rng: random.Random) -> str:
    """A payload shaped like a GK1 health code: the prefix and 150–330 Base45 characters."""
    return "GK1:" + "".join(rng.choice(BASE45) for _ in range(rng.randint(150, 330)))


@dataclass
class Scene:
    category: str
    payload: bytes
    frames: list[np.ndarray]


@dataclass
class Score:
    first: int = 0
    read: int = 0
    wrong: int = 0
    ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


Decoder = Callable[[np.ndarray], list[bytes]]


def make_decoders() -> dict[str, tuple[Callable[[], Decoder], bool]]:
    """name → (factory of a per-scene decode function, is-a-fallback-candidate)."""
    from pyzbar.pyzbar import ZBarSymbol
    from pyzbar.pyzbar import decode as pyzbar_decode

    shared = QrDecoder()      # one decoder for the whole run, as on the kiosk: costs stay learned

    def ours() -> Decoder:
        shared.forget()        # a new resident: no tracked region, cascade from the start
        return lambda frame: shared.decode(frame).payloads

    def plain() -> Decoder:
        return lambda frame: [d.data for d in pyzbar_decode(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY),
                                                               symbols=[ZBarSymbol.QRCODE])]

    cv_detector = cv2.QRCodeDetector()

    def opencv() -> Decoder:
        def run(frame: np.ndarray) -> list[bytes]:
            try:
                text, _, _ = cv_detector.detectAndDecode(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            except cv2.error:
                return []
            return [text.encode()] if text else []
        return run

    gated_decoder = QrDecoder()
    clock = [0.0]
    presence = PresenceGate(lambda: clock[0])
    empty = [render_scene(random.Random(99), (1280, 720), sensor=random.Random(i)) for i in range(3)]

    def gated() -> Decoder:
        """The kiosk's camera path with the presence gate: the gate stood empty for 3 s (its tail
        long over) before the resident comes; a frame the gate holds back is a frame not read."""
        gated_decoder.forget()
        for i in range(45):
            clock[0] += 1 / 15
            presence.wanted(empty[i % 3])

        def run(frame: np.ndarray) -> list[bytes]:
            clock[0] += 1 / 15
            return gated_decoder.decode(frame).payloads if presence.wanted(frame) else []
        return run

    decoders: dict[str, tuple[Callable[[], Decoder], bool]] = {
        "kiosk pipeline": (ours, False), "kiosk + presence gate": (gated, False), "plain pyzbar": (plain, False),
        "opencv qr": (opencv, True)}
    if "zxing" in engines.available():
        zx = engines.make("zxing")

        def zxing() -> Decoder:
            return lambda frame: [s.data for s in zx.read(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))]
        decoders["zxing-cpp alone"] = (zxing, False)
    return decoders


def generate(per_category: int, frames: int, seed: int, size: tuple[int, int],
             only: list[str] | None = None) -> list[Scene]:
    scenes = []
    for c, (name, draw) in enumerate(CATEGORIES.items()):
        if only and name not in only:
            continue
        for i in range(per_category):
            rng = random.Random(seed * 1_000_003 + c * 1009 + i)
            payload = gk1_like(rng)
            clip = holding_clip(payload, draw(rng), rng, frames=frames, lead_in=0, size=size)
            scenes.append(Scene(name, payload.encode(), clip))
    return scenes


def score(scenes: list[Scene], factories: dict[str, Callable[[], Decoder]]) -> dict[str, dict[str, Score]]:
    """Every decoder on every scene, the decoders' order rotating from scene to scene so that
    load from other processes falls on all of them alike."""
    out: dict[str, dict[str, Score]] = {name: {} for name in factories}
    names = list(factories)
    for n, scene in enumerate(scenes):
        for name in names[n % len(names):] + names[:n % len(names)]:
            s = out[name].setdefault(scene.category, Score())
            decode = factories[name]()
            for k, frame in enumerate(scene.frames):
                t0, c0 = time.perf_counter(), time.thread_time()
                payloads = decode(frame)
                s.ms.append((time.perf_counter() - t0) * 1000)
                s.cpu_ms.append((time.thread_time() - c0) * 1000)
                s.wrong += sum(1 for p in payloads if p != scene.payload)
                if scene.payload in payloads:
                    s.read += 1
                    s.first += k == 0
                    break
    return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, round(p / 100 * (len(v) - 1)))]


def print_table(name: str, scores: dict[str, Score], n: int) -> None:
    print(f"\n{name}")
    print(f"  {'category':<14} {'first':>6} {'read':>6} {'med ms':>7} {'p95 ms':>7} {'cpu med':>7} {'wrong':>5}")
    total = Score()
    for cat, s in scores.items():
        print(f"  {cat:<14} {100 * s.first / n:5.0f}% {100 * s.read / n:5.0f}% {statistics.median(s.ms):7.1f} "
              f"{pct(s.ms, 95):7.1f} {statistics.median(s.cpu_ms):7.1f} {s.wrong:5d}")
        total.first += s.first
        total.read += s.read
        total.wrong += s.wrong
        total.ms += s.ms
        total.cpu_ms += s.cpu_ms
    scenes = n * len(scores)
    print(f"  {'ALL':<14} {100 * total.first / scenes:5.1f}% {100 * total.read / scenes:5.1f}% "
          f"{statistics.median(total.ms):7.1f} {pct(total.ms, 95):7.1f} {statistics.median(total.cpu_ms):7.1f} "
          f"{total.wrong:5d}")


def idle_gate(frames: int, seed: int, size: tuple[int, int]) -> tuple[int, float, float]:
    """An empty gate filmed for ``frames`` frames (three gates, day and dusk light, fresh sensor
    noise in every frame): payloads found (must be 0), median ms per frame, scans per frame."""
    dec = QrDecoder()
    found, ms, calls = 0, [], []
    for i in range(frames):
        gate = i * 3 // frames
        frame = render_scene(random.Random(seed + gate), size, light=(1.0, 0.3, 1.0)[gate],
                             sensor=random.Random(seed * 7919 + i))
        t0 = time.perf_counter()
        result = dec.decode(frame)
        ms.append((time.perf_counter() - t0) * 1000)
        found += len(result.payloads)
        calls.append(result.calls)
    return found, statistics.median(ms), sum(calls) / len(calls)


class TimedSource(OpenCVSource):
    """An image-sequence source that notes when it handed out each frame."""

    def __init__(self, spec: str) -> None:
        super().__init__(spec, loop=False)
        self.read_at: list[float] = []

    def read(self) -> np.ndarray | None:
        frame = super().read()
        if frame is None:
            return None
        assert isinstance(frame, np.ndarray)      # compressed=False: decoded frames
        self.read_at.append(time.monotonic())
        return frame


class Sink:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.at: float | None = None

    def payload_seen(self, payload: bytes) -> None:
        self.at = time.monotonic()
        self.event.set()

    def device_fault(self, device: str, message: str) -> None:
        pass

    def device_recovered(self, device: str) -> None:
        pass


def latency(trials: int, seed: int, size: tuple[int, int], fps: float) -> None:
    cats = ["clean", "dark_mode", "angle", "moire", "small", "glare", "low_light", "paper_shadow"]
    lead_in = 5
    lat, frames_needed, misses = [], [], 0
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        for t in range(trials):
            rng = random.Random(seed + 7919 * t)
            cat = cats[t % len(cats)]
            clip = holding_clip(gk1_like(rng), CATEGORIES[cat](rng), rng, frames=15, lead_in=lead_in, size=size)
            source = TimedSource(write_clip(clip, Path(tmp) / f"clip{t}"))
            sink = Sink()
            cfg = CameraSection(source="bench", fps=fps, width=size[0], height=size[1])
            with CameraFeed(source, sink, cfg, time.monotonic):
                got = sink.event.wait(timeout=len(clip) / fps + 3.0)
            if not got or sink.at is None or len(source.read_at) <= lead_in:
                misses += 1
                continue
            first_code = source.read_at[lead_in]
            lat.append((sink.at - first_code) * 1000)
            frames_needed.append(sum(1 for r in source.read_at[lead_in:] if r <= sink.at))
    print(f"\ncamera-frame-to-event latency ({trials} clips, {size[0]}x{size[1]} PNG sequences through "
          f"cv2.VideoCapture at {fps:g} fps, capture thread + scan thread):")
    if lat:
        print(f"  median {statistics.median(lat):.1f} ms, p95 {pct(lat, 95):.1f} ms, max {max(lat):.1f} ms; "
              f"frames delivered by the camera until the event: median {statistics.median(frames_needed):.0f}, "
              f"max {max(frames_needed)}; "
              f"not read: {misses}")
    else:
        print(f"  no clip read ({misses} misses)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--per-category", type=int, default=25, help="scenes per difficulty category (default 25)")
    p.add_argument("--frames", type=int, default=3, help="frames a resident holds each code up for (default 3)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--size", default="1280x720", help="frame size WxH (default 1280x720)")
    p.add_argument("--latency-trials", type=int, default=16)
    p.add_argument("--only", help="comma-separated decoders for the rendered scenes (default: all)")
    p.add_argument("--categories", help="comma-separated categories (default: all)")
    decode_photos.add_arguments(p)
    args = p.parse_args(argv)
    decode_photos.photos_table(args)       # table 1: real photographs (says so when none are given)
    print("\nrendered scenes (table 2):")
    size = tuple(int(v) for v in args.size.lower().split("x"))
    assert len(size) == 2
    cv2.setNumThreads(1)      # one core per decoder, as on the kiosk next to the capture thread
    t0 = time.perf_counter()
    cats = args.categories.split(",") if args.categories else None
    scenes = generate(args.per_category, args.frames, args.seed, size, cats)
    print(f"{len(scenes)} scenes ({len(cats or CATEGORIES)} categories × {args.per_category}), "
          f"{args.frames} frames each, "
          f"{size[0]}x{size[1]}, rendered in {time.perf_counter() - t0:.0f} s")
    print("first = read on the first frame; read = within the held frames; ms = wall clock per "
          "decoded frame; cpu = the decoding thread's CPU time; wrong = payloads that were not the shown one")
    decoders = {name: factory for name, (factory, _fallback) in make_decoders().items()
                if not args.only or name in args.only.split(",")}
    results = score(scenes, decoders)
    for name, scores in results.items():
        print_table(name, scores, args.per_category)
    if "kiosk pipeline" in results and "plain pyzbar" in results:
        def med(name: str, attr: str) -> float:
            return statistics.median([m for s in results[name].values() for m in getattr(s, attr)])
        ratio = med('kiosk pipeline', 'ms') / med('plain pyzbar', 'ms')
        print(f"\nmedian time per frame, pipeline / plain pyzbar: {ratio:.2f}× "
              f"wall clock, {med('kiosk pipeline', 'cpu_ms') / med('plain pyzbar', 'cpu_ms'):.2f}× CPU time")
    found, ms, calls = idle_gate(90, args.seed, size)
    print(f"empty gate, 90 frames without a code: {found} payloads found, median {ms:.1f} ms and "
          f"{calls:.2f} scans per frame")
    if args.latency_trials:
        latency(args.latency_trials, args.seed, size, 15.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
