"""Read QR codes from camera frames: a cascade of (engine, prepared image) steps measured on
real photographs, under a per-frame budget.

No engine alone reads every real phone screen: zxing-cpp reads codes on screens, high-version,
curved and close-up codes and both polarities at a tenth of ZBar's cost, while ZBar on an
adaptive threshold wins on glare, bright spots, damaged and non-compliant codes
(docs/benchmarks.md "Real photographs"; docs/ecosystem.md §1.1). The steps, in the order a
greedy cover of the development set by reads per millisecond chose (``bench/decode_photos.py``):

=================  ============================================  ==========================
step               image the engine scans                        rescues
=================  ============================================  ==========================
zxing              the frame in grey                             most codes, dark mode
zxing/threshold    adaptive (local mean) threshold               uneven light, glare
zxing/gamma        midtones darkened (gamma 2)                   washed-out, bright spots
zxing/half_clahe   ½ size, local contrast equalised (CLAHE)      low-contrast OLED, shadow
zbar/threshold     adaptive threshold                            glare, damaged, pathological
zbar/threshold_inv adaptive threshold of the inverted frame       those, in dark mode
zxing/up           1.5× (cubic)                                  small codes, moiré
zxing/clahe        full size CLAHE                               bright spots, low contrast
zbar/half          ½ size (area average)                         screen moiré
zbar/half_inv      ½ size, inverted                              moiré in dark mode
=================  ============================================  ==========================

Every ZBar step has its inverted twin because ZBar reads dark-on-light only. Without zxing-cpp
(a board without its wheel) the cascade is ZBar's own: native, half_inv, rectify (the code
warped square from OpenCV's QR finder), half, threshold, inverted, upscale (2× of the busiest
quarter of the frame).

A camera frame gets the first step plus at least one more; more follow while the frame stays
within ``max_calls`` scans and (by each step's measured cost) within ``budget_ms``. The next
frame goes on where this one stopped, round-robin, so a code held up for a fraction of a second
meets every step while no single frame costs more than a few scans (on a Pi the whole cascade
spreads over 3–4 frames). After a read, the code's region is tracked: the next frames first
scan just that region with the step that worked. Once every step has failed on a scene that has
not changed since, frames get the first step only, until the scene changes. `kiosk decode`
runs the same steps in the same order on a still image, without the budget, until one reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from drivers.camera import engines as engines_mod
from drivers.camera.encoded import Encoded
from drivers.camera.engines import Engine

log = logging.getLogger("drivers.camera.qr")

Box = tuple[int, int, int, int]          # x0, y0, x1, y1 in frame pixels


@dataclass(frozen=True)
class Step:
    """One cascade step: which engine scans which prepared image."""

    engine: str
    prep: str

    @property
    def name(self) -> str:
        return self.engine if self.prep == "native" else f"{self.engine}/{self.prep}"


def steps(spec: Sequence[str]) -> tuple[Step, ...]:
    """Steps from names like ``zxing`` or ``zbar/threshold``."""
    out = []
    for s in spec:
        engine, _, prep = s.partition("/")
        out.append(Step(engine, prep or "native"))
    return tuple(out)


# Measured by bench/decode_photos.py (docs/benchmarks.md): greedy by reads gained per ms.
CASCADE = steps(("zxing", "zxing/threshold", "zxing/gamma", "zxing/half_clahe", "zbar/threshold",
                 "zbar/threshold_inv", "zxing/up", "zxing/clahe", "zbar/half", "zbar/half_inv"))
# ZBar alone (no zxing-cpp on this machine): the cascade measured on the synthetic scenes.
ZBAR_CASCADE = steps(("zbar", "zbar/half_inv", "zbar/rectify", "zbar/half", "zbar/threshold",
                      "zbar/inverted", "zbar/upscale"))
MAX_CALLS = 3            # scans per camera frame, the first step included
BUDGET_MS = 60.0         # steps beyond the second stop when the frame would exceed this
TRACK_S = 2.0            # a code's region is tried first for this long after it was read
REGION_MARGIN = 0.35     # grow the tracked box by this fraction of its size on each side
THUMB = (32, 18)         # scene thumbnail for "has anything changed"
STILL_LEVEL = 6.0        # mean grey-level change of the thumbnail below which a scene is still


def default_cascade(available: Sequence[str] | None = None) -> tuple[Step, ...]:
    """The measured cascade for the engines this machine has."""
    have = engines_mod.available() if available is None else tuple(available)
    if "zxing" in have:
        return CASCADE
    return ZBAR_CASCADE


@dataclass(frozen=True)
class Decoded:
    """What decoding one frame found and what it cost."""

    payloads: list[bytes]
    calls: int
    ms: float
    tried: tuple[str, ...]
    hit: str | None = None               # the step that read the code
    box: Box | None = None               # where, in frame pixels


@dataclass
class _Region:
    box: Box
    step: Step
    t: float


@dataclass
class QrDecoder:
    """Stateful decoder for one camera stream (not thread-safe: one per scan thread).

    :param budget_ms: no further step once the frame's time plus its cost would exceed this.
    :param max_calls: scans per frame at most (first-step and region scans included).
    :param track_s: how long a read code's region is scanned first.
    :param cascade: the steps in order (default: the measured cascade for the installed engines).
    :param now: monotonic clock for region tracking (injected for tests).
    :param timer: high-resolution timer for the budget (injected for tests).
    """

    budget_ms: float = BUDGET_MS
    max_calls: int = MAX_CALLS
    track_s: float = TRACK_S
    cascade: tuple[Step, ...] = field(default_factory=default_cascade)
    now: Callable[[], float] = time.monotonic
    timer: Callable[[], float] = time.perf_counter
    finder: Any = field(default_factory=lambda: cv2.QRCodeDetectorAruco())
    engines: dict[str, Engine] = field(default_factory=dict)
    _cursor: int = 0
    _region: _Region | None = None
    _scene: np.ndarray | None = None        # thumbnail of the scene the steps are working on
    _unread: set[Step] = field(default_factory=set)   # steps not yet tried on that scene
    _cost: dict[Step, float] = field(default_factory=dict)     # running mean ms per step

    def __post_init__(self) -> None:
        if not self.cascade:
            raise ValueError("a QR cascade needs at least one step")
        bad = [s.name for s in self.cascade if s.prep not in PREPS]
        if bad:
            raise ValueError(f"unknown QR cascade step {bad[0]!r}")
        for name in {s.engine for s in self.cascade} - set(self.engines):
            self.engines[name] = engines_mod.make(name)

    @property
    def first(self) -> Step:
        return self.cascade[0]

    @property
    def rest(self) -> tuple[Step, ...]:
        return self.cascade[1:]

    # ------------------------------------------------------------------ public

    def decode(self, frame: np.ndarray | Encoded) -> Decoded:
        """Decode one camera frame within the budget (the cascade goes on with the next frame)."""
        start = self.timer()
        gray = to_gray(frame)
        if gray is None:
            return Decoded([], 0, self._ms(start), ())
        tried: list[str] = []
        region = self._region if self._region and self.now() - self._region.t <= self.track_s else None
        if region is not None:
            found = self._try(gray, region.step, region.box, tried)
            if found:
                return self._done(found, start, tried)
        found = self._try(gray, self.first, None, tried)
        if found:
            return self._done(found, start, tried)
        if self._still(gray) or not self.rest:
            return Decoded([], len(tried), self._ms(start), tuple(tried))
        first = True
        for _ in range(len(self.rest)):
            if len(tried) >= self.max_calls and not first:
                break
            step = self.rest[self._cursor % len(self.rest)]
            if not first and self._ms(start) + self._cost.get(step, 0.0) > self.budget_ms:
                break
            first = False
            self._cursor += 1
            self._unread.discard(step)
            found = self._try(gray, step, None, tried)
            if found:
                return self._done(found, start, tried)
        return Decoded([], len(tried), self._ms(start), tuple(tried))

    def decode_still(self, frame: np.ndarray | Encoded) -> Decoded:
        """Decode a still image with every step until one reads (no budget: `kiosk decode`)."""
        start = self.timer()
        gray = to_gray(frame)
        if gray is None:
            return Decoded([], 0, self._ms(start), ())
        tried: list[str] = []
        for step in self.cascade:
            found = self._try(gray, step, None, tried)
            if found:
                return self._done(found, start, tried, track=False)
        return Decoded([], len(tried), self._ms(start), tuple(tried))

    def forget(self) -> None:
        """Drop the tracked region and start the cascade over (the scene changed, e.g. after a
        camera reconnect); what each step costs stays learned."""
        self._region = None
        self._cursor = 0
        self._scene = None

    def close(self) -> None:
        for engine in self.engines.values():
            engine.close()

    def __enter__(self) -> QrDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ cascade

    def _still(self, gray: np.ndarray) -> bool:
        """True if every step already failed on this very scene (nothing moved since)."""
        thumb = cv2.resize(gray, THUMB, interpolation=cv2.INTER_AREA).astype(np.int16)
        if (self._scene is None or thumb.shape != self._scene.shape
                or float(np.abs(thumb - self._scene).mean()) >= STILL_LEVEL):
            self._scene = thumb
            self._unread = set(self.rest)
            return False
        return not self._unread

    def _ms(self, start: float) -> float:
        return (self.timer() - start) * 1000.0

    def _try(self, gray: np.ndarray, step: Step, box: Box | None,
             tried: list[str]) -> tuple[list[bytes], Box, Step] | None:
        t0 = self.timer()
        tried.append(step.name if box is None else f"region:{step.name}")
        made = variant(gray, step.prep, box, self.finder)
        symbols = self.engines[step.engine].read(made[0]) if made is not None else []
        if box is None:   # whole-frame costs feed the budget estimate
            ms = (self.timer() - t0) * 1000.0
            self._cost[step] = ms if step not in self._cost else 0.8 * self._cost[step] + 0.2 * ms
        if not symbols or made is None:
            return None
        to_frame = made[1]
        pts = np.array([p for s in symbols for p in s.points], np.float32).reshape(-1, 1, 2)
        if len(pts) == 0:
            frame_box = (0, 0, gray.shape[1], gray.shape[0])
        else:
            mapped = cv2.perspectiveTransform(pts, to_frame).reshape(-1, 2)
            x0, y0 = np.floor(mapped.min(axis=0)).astype(int)
            x1, y1 = np.ceil(mapped.max(axis=0)).astype(int) + 1
            frame_box = (max(0, int(x0)), max(0, int(y0)), min(gray.shape[1], int(x1)), min(gray.shape[0], int(y1)))
            if frame_box[0] >= frame_box[2] or frame_box[1] >= frame_box[3]:
                frame_box = (0, 0, gray.shape[1], gray.shape[0])
        return list(dict.fromkeys(s.data for s in symbols)), frame_box, step

    def _done(self, found: tuple[list[bytes], Box, Step], start: float, tried: list[str],
              track: bool = True) -> Decoded:
        payloads, box, step = found
        if track:
            self._region = _Region(box, step, self.now())
        self._cursor = 0
        self._scene = None
        return Decoded(payloads, len(tried), self._ms(start), tuple(tried), hit=step.name, box=box)


# --------------------------------------------------------------------------- image helpers

def to_gray(frame: object) -> np.ndarray | None:
    """A 2-D uint8 grey view of a BGR/BGRA/grey or compressed frame; None for anything unusable."""
    if isinstance(frame, Encoded):
        return frame.grey()
    if not isinstance(frame, np.ndarray) or frame.size == 0:
        return None
    img: np.ndarray = frame
    if img.dtype != np.uint8:
        if not np.issubdtype(img.dtype, np.number) or np.issubdtype(img.dtype, np.complexfloating):
            return None
        img = np.clip(np.nan_to_num(img), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return img
    if img.ndim == 3 and img.shape[2] == 1:
        return img[:, :, 0]
    if img.ndim == 3 and img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY)
    return None


def _grow(box: Box, shape: tuple[int, ...], margin: float) -> Box:
    x0, y0, x1, y1 = box
    mx, my = int((x1 - x0) * margin) + 8, int((y1 - y0) * margin) + 8
    return (max(0, x0 - mx), max(0, y0 - my), min(shape[1], x1 + mx), min(shape[0], y1 + my))


def busiest_region(gray: np.ndarray, frac: float = 0.5) -> Box:
    """The ``frac``-sized window with the most fine black/white detail: where a small code is.

    A QR code is the densest patch of sharp edges in a gate scene; a gradient image at ¼
    size and a box filter find it for about a millisecond.
    """
    h, w = gray.shape
    small = cv2.resize(gray, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    edges = cv2.morphologyEx(small, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    density = cv2.boxFilter((edges > 40).astype(np.float32), -1,
                            (max(1, int(small.shape[1] * frac * 0.5)), max(1, int(small.shape[0] * frac * 0.5))))
    _, _, _, (cx, cy) = cv2.minMaxLoc(density)
    bw, bh = max(1, int(w * frac)), max(1, int(h * frac))
    x0 = min(max(0, cx * 4 - bw // 2), w - bw)
    y0 = min(max(0, cy * 4 - bh // 2), h - bh)
    return (x0, y0, x0 + bw, y0 + bh)


def _scale(s: float, ox: float = 0.0, oy: float = 0.0) -> np.ndarray:
    """Homography from an image scaled by ``s`` (then offset) back to frame pixels."""
    return np.array([[1 / s, 0, ox], [0, 1 / s, oy], [0, 0, 1]], np.float64)


def _corners(gray: np.ndarray, finder: Any) -> np.ndarray | None:
    """The four corners of a QR code OpenCV's finder locates, or None."""
    try:
        found, corners = finder.detect(gray)
    except cv2.error:
        return None
    if not found or corners is None or np.size(corners) < 8:
        return None
    return np.asarray(corners, np.float32).reshape(-1, 2)[:4]


def _rectified(gray: np.ndarray, finder: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The code warped square, with a quiet zone, from the full-resolution frame.

    The finder looks at the ½-size frame (as reliable for codes worth rectifying, and 2–3×
    cheaper), first as it is, then inverted (dark mode); the warp samples the full frame.
    """
    k = 2.0 if min(gray.shape) >= 360 else 1.0
    small = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2), interpolation=cv2.INTER_AREA) \
        if k == 2.0 else gray
    source = gray
    quad = _corners(small, finder)
    if quad is None:
        quad = _corners(cv2.bitwise_not(small), finder)
        source = cv2.bitwise_not(gray)
    if quad is None:
        return None
    quad = quad * k
    side = float(max(np.linalg.norm(quad[i] - quad[(i + 1) % 4]) for i in range(4)))
    side = min(max(side, 60.0), 1200.0)
    m = side / 7.0                     # room for the quiet zone the finder's corners leave out
    dst = np.array([[m, m], [m + side, m], [m + side, m + side], [m, m + side]], np.float32)
    H = cv2.getPerspectiveTransform(quad, dst)
    size = int(side + 2 * m)
    warped = cv2.warpPerspective(source, H, (size, size), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    return warped, np.linalg.inv(H)


_GAMMA2 = np.array([round(255 * (i / 255) ** 2.0) for i in range(256)], np.uint8)
PREPS = ("native", "inverted", "half", "half_inv", "threshold", "threshold_inv", "gamma", "clahe",
         "half_clahe", "up", "upscale", "rectify")


def _threshold(gray: np.ndarray) -> np.ndarray:
    block = max(15, (min(gray.shape) // 24) | 1)
    out: np.ndarray = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 5)
    return out


def _clahe(gray: np.ndarray) -> np.ndarray:
    """Local contrast equalised (a CLAHE object per call: it keeps buffers, threads must not share it)."""
    out: np.ndarray = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
    return out


def _half(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    out: np.ndarray = cv2.resize(gray, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    return out


def variant(gray: np.ndarray, name: str, box: Box | None = None,
            finder: Any = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The image an engine scans for preparation ``name`` (of the tracked region ``box`` if
    given) and the homography from its pixels back to frame pixels; None if the preparation has
    nothing to scan (the finder saw no code)."""
    ox = oy = 0
    if box is not None:
        x0, y0, x1, y1 = _grow(box, gray.shape, REGION_MARGIN)
        gray, ox, oy = gray[y0:y1, x0:x1], x0, y0
    if gray.size == 0:
        return None
    same = _scale(1.0, ox, oy)
    if name == "native":
        return gray, same
    if name == "inverted":
        return cv2.bitwise_not(gray), same
    if name in ("half", "half_inv"):
        half = _half(gray)
        return (cv2.bitwise_not(half) if name == "half_inv" else half), _scale(0.5, ox, oy)
    if name == "threshold":
        return _threshold(gray), same
    if name == "threshold_inv":      # inverted first: the dark-mode frame gets exactly the threshold step
        return _threshold(cv2.bitwise_not(gray)), same
    if name == "gamma":
        return cv2.LUT(gray, _GAMMA2), same
    if name == "clahe":
        return _clahe(gray), same
    if name == "half_clahe":
        return _clahe(_half(gray)), _scale(0.5, ox, oy)
    if name == "up":
        return cv2.resize(gray, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC), _scale(1.5, ox, oy)
    if name == "upscale":
        if box is None:
            x0, y0, x1, y1 = busiest_region(gray)
            gray, ox, oy = gray[y0:y1, x0:x1], x0, y0
        return cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), _scale(2.0, ox, oy)
    if name == "rectify":
        made = _rectified(gray, finder if finder is not None else cv2.QRCodeDetectorAruco())
        if made is None:
            return None
        warped, back = made
        return warped, same @ back
    raise ValueError(f"unknown decode variant {name!r}")
