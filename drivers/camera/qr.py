"""Read QR codes from camera frames: ZBar on native-resolution grey, then a cascade of cheap
variants for what plain ZBar misses, under a per-frame budget.

Plain ZBar reads no dark-mode screen (light code on dark ground) and struggles with small
codes, screen moiré, steep angles, glare and uneven light (docs/ecosystem.md §1.1;
mchehab/zbar #191, #194). Each variant answers one of those; ZBar decodes every one of them:

============  ================================================  ==========================
variant       image ZBar scans                                  rescues
============  ================================================  ==========================
native        the frame in grey, untouched                      the common case
half_inv      ½ size (area average), inverted                   dark mode (cheaply)
rectify       the code warped square from the corners that      steep angles, blur,
              OpenCV's QR finder (QRCodeDetectorAruco) locates  dark mode at an angle
              in the frame or, failing that, in its inverse
half          ½ size (area average)                             screen moiré
threshold     adaptive (local mean) threshold                   glare, shadow, low light
inverted      full size, inverted                               small dark-mode codes
upscale       2× of the busiest quarter of the frame            small (far-away) codes
============  ================================================  ==========================

A camera frame gets the native scan plus at least one variant; more variants follow while
the frame stays within ``max_calls`` scans and (by each variant's measured cost) within
``budget_ms``. The next frame goes on where this one stopped, round-robin, so a code held up
for a fraction of a second meets every variant while no single frame costs more than a few
scans. After a read, the code's region is tracked: the next frames first scan just that
region with the variant that worked, which is cheaper than a whole frame. And once every
variant has failed on a scene that has not changed since (an empty gate), frames get the
native scan only, until the scene changes — the idle kiosk costs one scan per frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from drivers.camera.zbar import QrScanner

Box = tuple[int, int, int, int]          # x0, y0, x1, y1 in frame pixels

# Round-robin order: cheap and often useful first (measured by bench/decode.py).
VARIANTS: tuple[str, ...] = ("half_inv", "rectify", "half", "threshold", "inverted", "upscale")
MAX_CALLS = 3            # scans per camera frame, the native one included
BUDGET_MS = 60.0         # variants beyond the first stop when the frame would exceed this
TRACK_S = 2.0            # a code's region is tried first for this long after it was read
REGION_MARGIN = 0.35     # grow the tracked box by this fraction of its size on each side
THUMB = (32, 18)         # scene thumbnail for "has anything changed"
STILL_LEVEL = 6.0        # mean grey-level change of the thumbnail below which a scene is still


@dataclass(frozen=True)
class Decoded:
    """What decoding one frame found and what it cost."""

    payloads: list[bytes]
    calls: int
    ms: float
    tried: tuple[str, ...]
    hit: str | None = None               # the variant that read the code
    box: Box | None = None               # where, in frame pixels


@dataclass
class _Region:
    box: Box
    variant: str
    t: float


@dataclass
class QrDecoder:
    """Stateful decoder for one camera stream (not thread-safe: one per scan thread).

    :param budget_ms: no further variant once the frame's time plus its cost would exceed this.
    :param max_calls: scans per frame at most (native and region scans included).
    :param track_s: how long a read code's region is scanned first.
    :param now: monotonic clock for region tracking (injected for tests).
    :param timer: high-resolution timer for the budget (injected for tests).
    """

    budget_ms: float = BUDGET_MS
    max_calls: int = MAX_CALLS
    track_s: float = TRACK_S
    now: Callable[[], float] = time.monotonic
    timer: Callable[[], float] = time.perf_counter
    scanner: QrScanner = field(default_factory=QrScanner)
    finder: Any = field(default_factory=lambda: cv2.QRCodeDetectorAruco())
    _cursor: int = 0
    _region: _Region | None = None
    _scene: np.ndarray | None = None        # thumbnail of the scene the variants are working on
    _unread: set[str] = field(default_factory=set)   # variants not yet tried on that scene
    _cost: dict[str, float] = field(default_factory=dict)     # running mean ms per variant

    # ------------------------------------------------------------------ public

    def decode(self, frame: np.ndarray) -> Decoded:
        """Decode one camera frame within the budget (the cascade goes on with the next frame)."""
        start = self.timer()
        gray = to_gray(frame)
        if gray is None:
            return Decoded([], 0, self._ms(start), ())
        tried: list[str] = []
        region = self._region if self._region and self.now() - self._region.t <= self.track_s else None
        if region is not None:
            found = self._try(gray, region.variant, region.box, tried)
            if found:
                return self._done(found, start, tried)
        found = self._try(gray, "native", None, tried)
        if found:
            return self._done(found, start, tried)
        if self._still(gray):
            return Decoded([], len(tried), self._ms(start), tuple(tried))
        first = True
        for _ in range(len(VARIANTS)):
            if len(tried) >= self.max_calls and not first:
                break
            name = VARIANTS[self._cursor % len(VARIANTS)]
            if not first and self._ms(start) + self._cost.get(name, 0.0) > self.budget_ms:
                break
            first = False
            self._cursor += 1
            self._unread.discard(name)
            found = self._try(gray, name, None, tried)
            if found:
                return self._done(found, start, tried)
        return Decoded([], len(tried), self._ms(start), tuple(tried))

    def decode_still(self, frame: np.ndarray) -> Decoded:
        """Decode a still image with every variant until one reads (no budget: `kiosk decode`)."""
        start = self.timer()
        gray = to_gray(frame)
        if gray is None:
            return Decoded([], 0, self._ms(start), ())
        tried: list[str] = []
        for name in ("native", *VARIANTS):
            found = self._try(gray, name, None, tried)
            if found:
                return self._done(found, start, tried, track=False)
        return Decoded([], len(tried), self._ms(start), tuple(tried))

    def forget(self) -> None:
        """Drop the tracked region and start the cascade over (the scene changed, e.g. after a
        camera reconnect); what each variant costs stays learned."""
        self._region = None
        self._cursor = 0
        self._scene = None

    def close(self) -> None:
        self.scanner.close()

    def __enter__(self) -> QrDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ cascade

    def _still(self, gray: np.ndarray) -> bool:
        """True if every variant already failed on this very scene (nothing moved since)."""
        thumb = cv2.resize(gray, THUMB, interpolation=cv2.INTER_AREA).astype(np.int16)
        if (self._scene is None or thumb.shape != self._scene.shape
                or float(np.abs(thumb - self._scene).mean()) >= STILL_LEVEL):
            self._scene = thumb
            self._unread = set(VARIANTS)
            return False
        return not self._unread

    def _ms(self, start: float) -> float:
        return (self.timer() - start) * 1000.0

    def _try(self, gray: np.ndarray, name: str, box: Box | None,
             tried: list[str]) -> tuple[list[bytes], Box, str] | None:
        t0 = self.timer()
        tried.append(name if box is None else f"region:{name}")
        made = variant(gray, name, box, self.finder)
        symbols = self.scanner.scan(made[0]) if made is not None else []
        if box is None:   # whole-frame costs feed the budget estimate
            ms = (self.timer() - t0) * 1000.0
            self._cost[name] = ms if name not in self._cost else 0.8 * self._cost[name] + 0.2 * ms
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
        return [s.data for s in symbols], frame_box, name

    def _done(self, found: tuple[list[bytes], Box, str], start: float, tried: list[str],
              track: bool = True) -> Decoded:
        payloads, box, name = found
        if track:
            self._region = _Region(box, name, self.now())
        self._cursor = 0
        self._scene = None
        return Decoded(payloads, len(tried), self._ms(start), tuple(tried), hit=name, box=box)


# --------------------------------------------------------------------------- image helpers

def to_gray(frame: object) -> np.ndarray | None:
    """A 2-D uint8 grey view of a BGR/BGRA/grey frame; None for anything unusable."""
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


def variant(gray: np.ndarray, name: str, box: Box | None = None,
            finder: Any = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The image ZBar scans for variant ``name`` (of the tracked region ``box`` if given) and
    the homography from its pixels back to frame pixels; None if the variant has nothing
    to scan (the finder saw no code)."""
    ox = oy = 0
    if box is not None:
        x0, y0, x1, y1 = _grow(box, gray.shape, REGION_MARGIN)
        gray, ox, oy = gray[y0:y1, x0:x1], x0, y0
    if gray.size == 0:
        return None
    if name == "native":
        return gray, _scale(1.0, ox, oy)
    if name == "inverted":
        return cv2.bitwise_not(gray), _scale(1.0, ox, oy)
    if name in ("half", "half_inv"):
        h, w = gray.shape
        half = cv2.resize(gray, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
        return (cv2.bitwise_not(half) if name == "half_inv" else half), _scale(0.5, ox, oy)
    if name == "threshold":
        block = max(15, (min(gray.shape) // 24) | 1)
        return (cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 5),
                _scale(1.0, ox, oy))
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
        return warped, _scale(1.0, ox, oy) @ back
    raise ValueError(f"unknown decode variant {name!r}")
