"""What the presence gate's look cadence costs in first-frame reads (not a test).

    .venv/bin/python bench/presence_looks.py [--per-category 8] [--looks 0.5,1,2,4] [--seed 5] [--photos DIR]

The camera sends JPEG (MJPG) frames and a quiet gate judges them by their **size** first; a frame
whose size did not move is looked at (its 1/8-scale grey decode: ~3.8 ms of CPU at 1280×720, most of
the empty gate's cost) only once every ``look_s`` (drivers/camera/presence.py). A code the size
misses waits for the next look, so its first readable frame may go undecoded. This measures, on the
rendered categories of ``bench/decode.py`` (hardware_mocks.camera), the worst case for the gate: a
code appearing in front of a gate that stood empty, with nobody stepping in first. Per scene:

- one gate (its background) filmed empty for 3 s through the code's own camera (light, noise,
  blur, compression; fresh sensor noise in every frame), then the code held up in front of that
  same background; every frame JPEG-encoded at quality 90 as the stand-in camera and a UVC
  camera's MJPG do, and handed to the gate as :class:`~drivers.camera.encoded.Encoded`;
- whether the size watch flags the code's first frame, whether a look would see it (its
  thumbnail differs from the learned background), and whether the kiosk's decoder reads it;
- for each ``look_s``, the share of scenes whose first frame is read with the gate, averaged over
  every phase of the look schedule (the code comes 1, 2, … frames after the last look), against
  the decoder alone on the same frames.

With ``--photos DIR`` (the decode benchmark's real photographs, bench/decode_photos.py), the same
again with each of its photographs *without* a code as the gate behind the resident (real clutter:
fiducials, chessboards, street scenes, cropped to fill the frame), one rendered code in front of it.

Also: the empty gate's frames whose size moved after the gate had learned it (each costs a look)
or that it passed to the decoder (it should pass none: no probe is due in those 3 s), and how far
the code's first frame moved the size (the watch needs max(``SIZE_MOVE``, 4 × its running
deviation); ``--size-moves`` compares values of ``SIZE_MOVE``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import random
import statistics
import string
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.camera import presence
from drivers.camera.encoded import Encoded
from drivers.camera.presence import THUMB, PresenceGate, thumbnail
from drivers.camera.qr import QrDecoder
from hardware_mocks.camera import CATEGORIES, gate_background, render, render_scene

FPS = 15.0
SIZE = (1280, 720)
EMPTY_S = 3.0
DISTINCT_EMPTY = 12           # distinct empty frames (fresh noise), cycled through the 3 s
BASE45 = string.digits + string.ascii_uppercase + " $%*+-./:"


def jpeg(frame: np.ndarray) -> Encoded:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return Encoded.of(buf.reshape(-1), SIZE)


def photo_backgrounds(photos: Path) -> list[np.ndarray]:
    """The photographs without a code (an empty ``expected_json`` list), each cropped to fill the frame."""
    out = []
    with (photos / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["expected_json"].strip() != "[]":
                continue
            img = cv2.imread(str(photos / row["file"]), cv2.IMREAD_COLOR)
            if img is None:
                continue
            h, w = img.shape[:2]
            k = max(SIZE[0] / w, SIZE[1] / h)
            img = cv2.resize(img, (max(SIZE[0], round(w * k)), max(SIZE[1], round(h * k))),
                             interpolation=cv2.INTER_AREA)
            y, x = (img.shape[0] - SIZE[1]) // 2, (img.shape[1] - SIZE[0]) // 2
            out.append(img[y:y + SIZE[1], x:x + SIZE[0]].astype(np.float32))
    return out


def scene(category: str, seed: int, bg: np.ndarray | None = None) -> tuple[list[Encoded], Encoded, bytes]:
    """(the empty gate's frames, the code's first frame, its payload), all at one gate."""
    rng = random.Random(seed)
    look = CATEGORIES[category](rng)
    payload = "GK1:" + "".join(rng.choice(BASE45) for _ in range(rng.randint(150, 330)))
    if bg is None:
        bg = gate_background(random.Random(seed * 31 + 7), SIZE)
    empty = [jpeg(render_scene(random.Random(seed), SIZE, sensor=random.Random(seed * 1009 + i), background=bg,
                               look=look)) for i in range(DISTINCT_EMPTY)]
    first = jpeg(render(payload, look, random.Random(seed * 17 + 3), SIZE, background=bg))
    return empty, first, payload.encode()


class FixedTime:
    """A clock that says one time (a copy of the gate meets the code's frame at it)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


Row = tuple[str, bool, bool, bool, dict[float, float], float]


def judge(category: str, seed: int, looks: list[float], size_moves: list[float], decoder: QrDecoder,
          stats: dict[str, list[float]], bg: np.ndarray | None = None) -> dict[float, Row]:
    """One scene, for each size threshold: the gate learns the empty gate, then meets the code's
    first frame at every phase of the look schedule."""
    empty, first, payload = scene(category, seed, bg)
    decoder.forget()
    read = payload in decoder.decode(Encoded.of(first.data, SIZE)).payloads
    out: dict[float, Row] = {}
    for size_move in size_moves:
        presence.SIZE_MOVE = size_move
        clock = [0.0]
        gate = PresenceGate(lambda: clock[0])  # noqa: B023 - used within this iteration only
        n_empty = int(EMPTY_S * FPS)
        for k in range(n_empty):
            clock[0] += 1 / FPS
            if k > n_empty // 2:                  # learned by now (its tail of 1.5 s is over)
                stats[f"empty {size_move}"].append(copy.deepcopy(gate._sizes).moved(empty[k % DISTINCT_EMPTY].nbytes))
            wanted = gate.wanted(empty[k % DISTINCT_EMPTY])
            if k > n_empty // 2:
                stats[f"passed {size_move}"].append(wanted)
        t0 = time.thread_time()
        small = thumbnail(Encoded.of(first.data, SIZE).small(THUMB), stride=False)
        stats["look_ms"].append((time.thread_time() - t0) * 1000)
        seen = small is not None and gate._bg is not None and float(np.mean(np.abs(small - gate._bg) > 0.12)) >= 0.004
        assert gate._sizes.mean is not None
        moved_by = abs(first.nbytes - gate._sizes.mean) / gate._sizes.mean
        size_moved = copy.deepcopy(gate._sizes).moved(first.nbytes)
        passed: dict[float, float] = {}
        for look_s in looks:
            phases = max(1, round(look_s * FPS))
            hits = 0
            for ph in range(phases):                # the code comes ph + 1 frames after the last look
                g = copy.deepcopy(gate)
                g.look_s = look_s
                g._last_look = g._last_pass = clock[0] - ph / FPS    # no probe due either
                g.now = FixedTime(clock[0] + 1 / FPS)
                hits += g.wanted(Encoded.of(first.data, SIZE))
            passed[look_s] = hits / phases
        out[size_move] = (category, size_moved, seen, read, passed, moved_by)
    return out


def table(title: str, rows: list[Row], looks: list[float]) -> None:
    n = len(rows)
    print(f"\n{title}")
    print(f"  {'category':<14} {'size moved':>10} {'by (min)':>8} {'look sees':>9} {'read':>5}  " +
          "  ".join(f"{'read, look ' + format(v, 'g') + ' s':>15}" for v in looks))
    for category in [*CATEGORIES, "ALL"]:
        rs = rows if category == "ALL" else [r for r in rows if r[0] == category]
        if not rs:
            continue
        m = len(rs)
        print(f"  {category:<14} {100 * sum(r[1] for r in rs) / m:9.1f}% {100 * min(r[5] for r in rs):7.1f}% "
              f"{100 * sum(r[2] for r in rs) / m:8.1f}% {100 * sum(r[3] for r in rs) / m:4.0f}%  "
              + "  ".join(f"{100 * sum(r[4][v] * r[3] for r in rs) / m:14.1f}%" for v in looks))
    reads = sum(r[3] for r in rows)
    lost = {v: sum(r[3] * (1 - r[4][v]) for r in rows) for v in looks}
    print(f"  first-frame reads lost to the gate (of {reads} the decoder alone reads, {n} scenes): "
          + ", ".join(f"look {v:g} s {lost[v]:.2f}" for v in looks)
          + f"; size moved by {100 * statistics.median(r[5] for r in rows):.1f} % median")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-category", type=int, default=8)
    ap.add_argument("--looks", default="0.5,1,2,4", help="look_s values to compare (seconds)")
    ap.add_argument("--size-moves", default=str(presence.SIZE_MOVE),
                    help="the size watch's least move to compare (shares of the running mean: 0.02,0.01)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--photos", type=Path, default=None, help="real photographs (their manifest.csv)")
    args = ap.parse_args()
    looks = [float(v) for v in args.looks.split(",")]
    size_moves = [float(v) for v in args.size_moves.split(",")]
    decoder = QrDecoder()
    stats: dict[str, list[float]] = {"look_ms": [], **{f"{k} {v}": [] for v in size_moves for k in ("empty", "passed")}}
    t0 = time.monotonic()
    rows = [judge(category, args.seed * 100_003 + c * 1009 + i, looks, size_moves, decoder, stats)
            for c, category in enumerate(CATEGORIES) for i in range(args.per_category)]
    took = time.monotonic() - t0
    photo_rows: list[dict[float, Row]] = []
    photo_took = 0.0
    if args.photos is not None:
        t0 = time.monotonic()
        cats = list(CATEGORIES)
        photo_rows = [judge(cats[i % len(cats)], args.seed * 7 + i, looks, size_moves, decoder, stats, bg)
                      for i, bg in enumerate(photo_backgrounds(args.photos))]
        photo_took = time.monotonic() - t0
    print(f"first code frame at a gate that stood empty; {SIZE[0]}x{SIZE[1]} JPEG q90 at {FPS:g} fps. size moved = "
          "the size watch flagged it (by: how far, the smallest); look sees = its thumbnail differs from the empty "
          "gate's; read = the decoder alone reads it; read, look N s = read with the gate, over every phase of the "
          "look schedule")
    for v in size_moves:
        table(f"rendered gates ({len(rows)} scenes, {took:.0f} s), size watch's least move {100 * v:g} %",
              [r[v] for r in rows], looks)
        if photo_rows:
            table(f"real photographs without a code as the gate ({len(photo_rows)} scenes, one category each in "
                  f"turn, {photo_took:.0f} s), size watch's least move {100 * v:g} %",
                  [r[v] for r in photo_rows], looks)
        moves = stats[f"empty {v}"]
        print(f"  empty gates, learned: {int(sum(moves))} of {len(moves)} frames moved the size (each costs a look), "
              f"{int(sum(stats[f'passed {v}']))} were decoded (no probe due)")
    print(f"\na look {statistics.median(stats['look_ms']):.1f} ms median (thread CPU: 1/8-scale grey decode and "
          "thumbnail)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
