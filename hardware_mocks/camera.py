"""Synthetic camera: QR codes as the gate camera sees them on a phone screen or on paper.

Peer kiosks fail on phone screens photographed at an angle, glare, moiré, dark mode, small
codes and low light (docs/ecosystem.md §1.1, raspberry-dgc #2), so every one of those is a
knob here. A :class:`Look` describes one shot; :data:`CATEGORIES` draws looks for each difficulty
the decoder must survive; :func:`render` makes a BGR frame; :func:`write_clip` writes frames as
an image sequence or a video file so tests, the demo and the benchmark read them back through
the real ``cv2.VideoCapture``. :class:`DemoCamera` is a frame source (``drivers.camera.capture``
protocol) for `kiosk demo`: an empty gate, switched to a resident's rendered clip on demand.

Everything is seeded: the same ``random.Random`` gives the same frames.

Technicians make a stand-in camera clip with ``python -m hardware_mocks.camera --out
var/standin/camera [--payload TEXT] [--category dark_mode]``; it prints the ``[camera]
source`` to configure (an image sequence the kiosk plays in a loop).
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import segno

from drivers.camera.capture import Frame, OpenCVSource

FRAME_SIZE = (1280, 720)      # width, height: the kiosk's default camera mode
QUIET = 4                     # quiet zone in modules (ISO/IEC 18004 asks for 4)
SKIN_BGR = (150, 178, 224)


@dataclass(frozen=True)
class Look:
    """One shot of a code: what it is shown on and everything that goes wrong in between."""

    medium: str = "phone"          # 'phone' or 'paper'
    dark: bool = False             # dark mode: light code on a dark screen
    module_px: float = 6.0         # size of one module in the frame, before perspective
    rotation_deg: float = 0.0      # in-plane rotation
    tilt: float = 0.0              # perspective strength, 0 … 0.45 (≈ 0 … 40° off-axis)
    offset: tuple[float, float] = (0.0, 0.0)   # code centre from frame centre, fraction of size
    blur: float = 0.0              # defocus, Gaussian sigma in modules
    motion: float = 0.0            # motion blur length in modules
    glare: float = 0.0             # specular spot strength, 0 … 1
    moire: float = 0.0             # screen pixel grid strength, 0 … 1 (aliases with the sensor)
    noise: float = 2.0             # sensor noise sigma, grey levels
    jpeg: int | None = None        # JPEG quality of the camera's compression
    light: float = 1.0             # scene light; < 0.3 is dusk (gain amplifies the noise)
    thumb: float = 0.0             # how far a thumb reaches over the code, fraction of its side
    crumple: float = 0.0           # paper folds, 0 … 1
    shadow: float = 0.0            # a hard shadow across paper, 0 … 1 (darkening)


def _uniform(rng: random.Random, lo: float, hi: float) -> float:
    return rng.uniform(lo, hi)


def _base(rng: random.Random, **kw: object) -> Look:
    """A handheld phone: a little rotation and tilt, camera noise, moderate size."""
    look = Look(module_px=_uniform(rng, 4.5, 8.0), rotation_deg=_uniform(rng, -15, 15),
                tilt=_uniform(rng, 0.0, 0.12), offset=(_uniform(rng, -0.15, 0.15), _uniform(rng, -0.12, 0.12)),
                noise=_uniform(rng, 1.5, 4.0), blur=_uniform(rng, 0.0, 0.12))
    return replace(look, **kw)  # type: ignore[arg-type]


# Each category draws one look; the benchmark and the tests walk all of them.
CATEGORIES: dict[str, Callable[[random.Random], Look]] = {
    "clean": lambda r: _base(r),
    "angle": lambda r: _base(r, rotation_deg=_uniform(r, 0, 360), tilt=_uniform(r, 0.2, 0.42),
                             module_px=_uniform(r, 5.0, 8.0)),
    "blur": lambda r: _base(r, blur=_uniform(r, 0.25, 0.42), motion=r.choice((0.0, _uniform(r, 0.3, 0.7)))),
    "glare": lambda r: _base(r, glare=_uniform(r, 0.6, 1.15)),
    "moire": lambda r: _base(r, moire=_uniform(r, 0.5, 1.0), module_px=_uniform(r, 4.0, 7.0)),
    "noise_jpeg": lambda r: _base(r, noise=_uniform(r, 10, 20), jpeg=r.randint(6, 20)),
    "low_light": lambda r: _base(r, light=_uniform(r, 0.04, 0.12), noise=_uniform(r, 2, 4)),
    "dark_mode": lambda r: _base(r, dark=True),
    "dark_hard": lambda r: _base(r, dark=True, rotation_deg=_uniform(r, 0, 360), tilt=_uniform(r, 0.1, 0.35),
                                 glare=r.choice((0.0, _uniform(r, 0.3, 0.6))), moire=r.choice((0.0, 0.6)),
                                 light=r.choice((1.0, _uniform(r, 0.25, 0.5)))),
    "small": lambda r: _base(r, module_px=_uniform(r, 1.5, 2.2),
                             offset=(_uniform(r, -0.3, 0.3), _uniform(r, -0.25, 0.25))),
    "thumb": lambda r: _base(r, thumb=_uniform(r, 0.12, 0.22)),
    "paper_crumple": lambda r: _base(r, medium="paper", crumple=_uniform(r, 0.5, 1.0)),
    "paper_shadow": lambda r: _base(r, medium="paper", shadow=_uniform(r, 0.45, 0.75), crumple=_uniform(r, 0.0, 0.3)),
}


def look_for(category: str, rng: random.Random) -> Look:
    """Draw one look of a difficulty category (KeyError names the unknown category)."""
    try:
        return CATEGORIES[category](rng)
    except KeyError:
        raise KeyError(f"unknown camera category {category!r} (known: {', '.join(CATEGORIES)})") from None


# --------------------------------------------------------------------------- rendering

def code_matrix(payload: bytes | str, error: str = "m") -> np.ndarray:
    """The QR module matrix (1 = dark) with its quiet zone, as segno encodes ``payload``."""
    qr = segno.make(payload, error=error, micro=False)
    m = np.array([list(row) for row in qr.matrix], dtype=np.uint8)
    return np.pad(m, QUIET)


def render(payload: bytes | str, look: Look, rng: random.Random,
           size: tuple[int, int] = FRAME_SIZE, background: np.ndarray | None = None) -> np.ndarray:
    """One BGR camera frame of ``payload`` shown as ``look`` describes; in front of ``background``
    (from :func:`gate_background`: the gate the camera watches) or of fresh clutter."""
    return _render_matrix(code_matrix(payload), look, rng, size, background)


def gate_background(rng: random.Random, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """What is behind the resident, before the camera (float32 BGR): pass it to :func:`render`
    and :func:`render_scene` to film one gate empty and then with a code held up in front of it."""
    return _background(rng, *size)


def render_scene(rng: random.Random, size: tuple[int, int] = FRAME_SIZE, light: float = 1.0,
                 sensor: random.Random | None = None, background: np.ndarray | None = None,
                 look: Look | None = None) -> np.ndarray:
    """A frame of the empty gate: background clutter (or ``background``), no code. ``sensor``
    draws the noise (default: ``rng``), so one gate can be filmed frame after frame with fresh noise;
    ``look``: through that look's camera (light, noise, blur, compression), as its code is filmed."""
    w, h = size
    frame = _background(rng, w, h) if background is None else background
    return _camera(frame, look or Look(light=light, noise=_uniform(rng, 1.5, 4.0)), sensor or rng)


def _render_matrix(matrix: np.ndarray, look: Look, rng: random.Random, size: tuple[int, int],
                   background: np.ndarray | None = None) -> np.ndarray:
    w, h = size
    obj, code_box, mask = (_phone if look.medium == "phone" else _paper)(matrix, look, rng)
    # object plane: one module = `ppm` pixels; map it so one module = look.module_px in the frame
    ppm = code_box[2] / matrix.shape[1]
    scale = look.module_px / ppm
    cx, cy = code_box[0] + code_box[2] / 2, code_box[1] + code_box[2] / 2
    H = _placement(obj.shape[1], obj.shape[0], (cx, cy), scale, look, (w, h), rng)
    if look.moire <= 0:
        # a real lens does not alias: low-pass the object to the frame's sampling rate
        sigma = max(0.0, 0.5 / scale - 0.3)
        if sigma > 0.3:
            obj = cv2.GaussianBlur(obj, (0, 0), sigma)
    frame = _background(rng, w, h) if background is None else background
    warped = cv2.warpPerspective(obj, H, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    inside = cv2.warpPerspective(mask, H, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    alpha = (inside.astype(np.float32) / 255.0)[..., None]
    frame = (warped.astype(np.float32) * alpha + frame.astype(np.float32) * (1 - alpha))
    if look.thumb > 0:
        frame = _thumb(frame, matrix, code_box, H, look, rng)
    if look.glare > 0:
        frame = _glare(frame, code_box, H, look, rng)
    return _camera(np.clip(frame, 0, 255).astype(np.uint8), look, rng)


def _modules_image(matrix: np.ndarray, ppm: int, dark_value: int, light_value: int) -> np.ndarray:
    img = np.where(matrix == 1, dark_value, light_value).astype(np.uint8)
    return cv2.resize(img, None, fx=ppm, fy=ppm, interpolation=cv2.INTER_NEAREST)


def _phone(matrix: np.ndarray, look: Look, rng: random.Random) -> tuple[np.ndarray, tuple[int, int, int], np.ndarray]:
    """A phone in portrait: body and bezel, a health-code app screen with header and text lines."""
    n = matrix.shape[1]
    px = 3                                     # screen pixel pitch in object pixels (for moiré)
    if look.moire > 0:
        # moiré needs the screen's pixel pitch near the sensor's: 0.6 … 1.4 frame pixels
        spm = max(2, round(look.module_px / rng.uniform(0.6, 1.4)))
    else:
        spm = max(2, round(360 / n / px))
    ppm = spm * px                             # object pixels per module, whole screen pixels
    code = ppm * n
    sw = int(code / 0.72) // px * px           # the code takes ~72 % of the screen width
    sh = int(sw * 2.1) // px * px
    bezel = int(sw * 0.05)
    bw, bh = sw + 2 * bezel, sh + 2 * bezel
    if look.dark:
        bg, fg, ink = rng.randint(18, 40), rng.randint(200, 235), (rng.randint(60, 90),) * 3
    else:
        bg, fg, ink = rng.randint(238, 252), rng.randint(10, 35), (rng.randint(90, 130),) * 3
    screen = np.full((sh, sw, 3), bg, np.uint8)
    # header bar of the app (a coloured banner) and a few lines of "text"
    hdr = int(sh * 0.12)
    banner = (60, 150, 40) if not look.dark else (40, 90, 30)
    screen[:hdr] = banner
    for i in range(3):
        y = int(sh * (0.16 + 0.04 * i))
        x1 = int(sw * rng.uniform(0.5, 0.9))
        cv2.rectangle(screen, (int(sw * 0.08), y), (x1, y + int(sh * 0.018)), ink, -1)
    top = int(sh * 0.30)
    left = (sw - code) // 2
    modules = _modules_image(matrix, ppm, fg, bg)
    screen[top:top + code, left:left + code] = modules[..., None]
    for i in range(4):
        y = top + code + int(sh * (0.05 + 0.045 * i))
        if y + int(sh * 0.02) < sh:
            x1 = int(sw * rng.uniform(0.4, 0.92))
            cv2.rectangle(screen, (int(sw * 0.08), y), (x1, y + int(sh * 0.02)), ink, -1)
    if look.moire > 0:
        screen = _pixel_grid(screen, px, look.moire)
    body = np.full((bh, bw, 3), rng.randint(5, 25), np.uint8)
    body[bezel:bezel + sh, bezel:bezel + sw] = screen
    mask = np.zeros((bh, bw), np.uint8)
    radius = int(bezel * 2.5)
    cv2.rectangle(mask, (radius, 0), (bw - radius, bh), 255, -1)
    cv2.rectangle(mask, (0, radius), (bw, bh - radius), 255, -1)
    for cx, cy in ((radius, radius), (bw - radius, radius), (radius, bh - radius), (bw - radius, bh - radius)):
        cv2.circle(mask, (cx, cy), radius, 255, -1)
    return body, (bezel + left, bezel + top, code), mask


def _pixel_grid(screen: np.ndarray, px: int, strength: float) -> np.ndarray:
    """RGB stripe sub-pixels with dark gaps: the structure that beats with the sensor grid."""
    h, w = screen.shape[:2]
    pattern = np.ones((px, px, 3), np.float32)
    pattern[:, :, :] = 1 - 0.85 * strength
    for c in range(3):                       # one column per sub-pixel: B, G, R
        pattern[: px - 1, 2 - c if px == 3 else c % px, c] = 1.0
    tiled = np.tile(pattern, (h // px + 1, w // px + 1, 1))[:h, :w]
    return np.clip(screen.astype(np.float32) * tiled * (1 + 0.6 * strength), 0, 255).astype(np.uint8)


def _paper(matrix: np.ndarray, look: Look, rng: random.Random) -> tuple[np.ndarray, tuple[int, int, int], np.ndarray]:
    """A printed code on a sheet of paper, possibly crumpled and half in shadow."""
    n = matrix.shape[1]
    ppm = max(6, round(360 / n))
    code = ppm * n
    pw, ph = int(code * 1.5), int(code * 1.9)
    paper_v = rng.randint(215, 245)
    sheet = np.full((ph, pw, 3), paper_v, np.uint8)
    left, top = (pw - code) // 2, int(ph * 0.22)
    sheet[top:top + code, left:left + code] = _modules_image(matrix, ppm, rng.randint(15, 45), paper_v)[..., None]
    for i in range(3):
        y = int(ph * 0.06 + i * ph * 0.04)
        cv2.rectangle(sheet, (int(pw * 0.1), y), (int(pw * rng.uniform(0.5, 0.9)), y + int(ph * 0.015)),
                      (70, 70, 70), -1)
    mask = np.full((ph, pw), 255, np.uint8)
    if look.crumple > 0:
        sheet, mask = _crumple(sheet, mask, look.crumple, rng)
    if look.shadow > 0:
        sheet = _shadow(sheet, look.shadow, rng)
    return sheet, (left, top, code), mask


def _smooth_field(rng: random.Random, h: int, w: int, cells: int) -> np.ndarray:
    seed = np.random.default_rng(rng.getrandbits(32))
    coarse = seed.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


def _crumple(sheet: np.ndarray, mask: np.ndarray, amount: float, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """Bend the sheet with a smooth displacement field and shade the folds."""
    h, w = sheet.shape[:2]
    amp = amount * min(h, w) * 0.004
    dx = _smooth_field(rng, h, w, 6) * amp
    dy = _smooth_field(rng, h, w, 6) * amp
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mapx, mapy = xs + dx, ys + dy
    bent = cv2.remap(sheet, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.remap(mask, mapx, mapy, cv2.INTER_LINEAR, borderValue=0)
    gx = cv2.Sobel(dx, cv2.CV_32F, 1, 0, ksize=5)
    gy = cv2.Sobel(dy, cv2.CV_32F, 0, 1, ksize=5)
    shade = 1.0 - np.clip((gx + gy) / (np.abs(gx + gy).max() + 1e-6), -1, 1) * 0.25 * amount
    return np.clip(bent.astype(np.float32) * shade[..., None], 0, 255).astype(np.uint8), mask


def _shadow(sheet: np.ndarray, amount: float, rng: random.Random) -> np.ndarray:
    """A soft-edged shadow over part of the sheet (a hand, the gate's roof)."""
    h, w = sheet.shape[:2]
    angle = rng.uniform(0, 2 * math.pi)
    nx, ny = math.cos(angle), math.sin(angle)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32) - w / 2, np.arange(h, dtype=np.float32) - h / 2)
    d = (xs * nx + ys * ny) - rng.uniform(-0.2, 0.2) * min(w, h)
    edge = max(2.0, min(w, h) * rng.uniform(0.01, 0.06))
    inside = 1.0 / (1.0 + np.exp(-d / edge))
    factor = 1.0 - amount * inside
    return np.clip(sheet.astype(np.float32) * factor[..., None], 0, 255).astype(np.uint8)


def _placement(ow: int, oh: int, centre: tuple[float, float], scale: float, look: Look,
               size: tuple[int, int], rng: random.Random) -> np.ndarray:
    """Homography from the object plane into the frame: scale, rotate, tilt, move."""
    w, h = size
    cx, cy = centre
    corners = np.array([[0, 0], [ow, 0], [ow, oh], [0, oh]], np.float32) - np.array([cx, cy], np.float32)
    # perspective: shrink one side of the object, as a plane turned away from the camera does
    t = look.tilt
    axis = rng.uniform(0, 2 * math.pi)
    ax, ay = math.cos(axis), math.sin(axis)
    extent = max(ow, oh) / 2
    tilted = []
    for x, y in corners:
        along = (x * ax + y * ay) / extent
        k = 1.0 / (1.0 + t * along)
        tilted.append((x * k, y * k))
    theta = math.radians(look.rotation_deg)
    c, s = math.cos(theta), math.sin(theta)
    tx = w / 2 + look.offset[0] * w
    ty = h / 2 + look.offset[1] * h
    dst = np.array([[tx + scale * (c * x - s * y), ty + scale * (s * x + c * y)] for x, y in tilted], np.float32)
    src = np.array([[0, 0], [ow, 0], [ow, oh], [0, oh]], np.float32)
    return cv2.getPerspectiveTransform(src, dst)


def _background(rng: random.Random, w: int, h: int) -> np.ndarray:
    """What is behind the resident: a lit wall with posters, a jacket, gate bars."""
    seed = np.random.default_rng(rng.getrandbits(32))
    base = np.array([rng.randint(60, 200) for _ in range(3)], np.float32)
    grad = np.linspace(0.7, 1.15, w, dtype=np.float32)[None, :, None]
    frame = np.broadcast_to(base * grad, (h, w, 3)).copy()
    for _ in range(rng.randint(3, 8)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randint(40, w // 3), y0 + rng.randint(40, h // 3)
        colour = tuple(int(v) for v in seed.integers(20, 235, 3))
        cv2.rectangle(frame, (x0, y0), (x1, y1), colour, -1)
    for _ in range(rng.randint(0, 4)):        # gate bars
        x = rng.randrange(w)
        cv2.line(frame, (x, 0), (x + rng.randint(-40, 40), h), (40, 40, 45), rng.randint(6, 20))
    return cv2.GaussianBlur(frame, (0, 0), 3.0)


def _thumb(frame: np.ndarray, matrix: np.ndarray, code_box: tuple[int, int, int], H: np.ndarray,
           look: Look, rng: random.Random) -> np.ndarray:
    """A thumb over the lower-right part of the code (the corner without a finder pattern)."""
    left, top, code = code_box
    n = matrix.shape[1]
    inner = code * (n - 2 * QUIET) / n
    x0 = left + code * QUIET / n
    y0 = top + code * QUIET / n
    # tip of the thumb reaches `look.thumb` of the code side in from its bottom-right edge region
    tip = np.array([[x0 + inner * rng.uniform(0.55, 0.85), y0 + inner * (1 - look.thumb)]], np.float32)
    base = np.array([[x0 + inner * 1.25, y0 + inner * 1.6]], np.float32)
    pts = cv2.perspectiveTransform(np.stack([tip, base]), H).reshape(2, 2)
    (tx, ty), (bx, by) = pts
    length = math.hypot(bx - tx, by - ty)
    width = max(8.0, length * 0.33)
    centre = ((tx + bx) / 2, (ty + by) / 2)
    angle = math.degrees(math.atan2(by - ty, bx - tx))
    layer = frame.copy()
    cv2.ellipse(layer, (int(centre[0]), int(centre[1])), (int(length / 2 + width * 0.2), int(width)),
                angle, 0, 360, SKIN_BGR, -1, cv2.LINE_AA)
    shade: np.ndarray = np.zeros(frame.shape[:2], np.float32)
    cv2.ellipse(shade, (int(centre[0]), int(centre[1])), (int(length / 2 + width * 0.2), int(width)),
                angle, 0, 360, 1.0, -1, cv2.LINE_AA)
    shade = cv2.GaussianBlur(shade, (0, 0), max(1.0, width * 0.15))[..., None]
    return frame * (1 - shade) + layer * shade


def _glare(frame: np.ndarray, code_box: tuple[int, int, int], H: np.ndarray, look: Look,
           rng: random.Random) -> np.ndarray:
    """A specular reflection (a lamp, the sky) on the glass, somewhere over the code."""
    left, top, code = code_box
    centre = np.array([[[left + code * rng.uniform(0.2, 0.8), top + code * rng.uniform(0.2, 0.8)]]], np.float32)
    (gx, gy) = cv2.perspectiveTransform(centre, H)[0, 0]
    edge = np.array([[[left, top]], [[left + code, top + code]]], np.float32)
    (ex0, ey0), (ex1, ey1) = cv2.perspectiveTransform(edge, H).reshape(2, 2)
    span = math.hypot(ex1 - ex0, ey1 - ey0)
    h, w = frame.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    sx, sy = span * rng.uniform(0.15, 0.3), span * rng.uniform(0.08, 0.18)
    a = math.radians(rng.uniform(0, 180))
    u = (xs - gx) * math.cos(a) + (ys - gy) * math.sin(a)
    v = -(xs - gx) * math.sin(a) + (ys - gy) * math.cos(a)
    spot = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    return frame + (look.glare * 230.0 * spot)[..., None]


def _camera(frame: np.ndarray, look: Look, rng: random.Random) -> np.ndarray:
    """The sensor and its pipeline: optics blur, exposure and gain, noise, JPEG."""
    img: np.ndarray = frame.astype(np.float32)
    px = look.module_px
    if look.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), max(0.3, look.blur * px))
    if look.motion > 0:
        length = max(2, round(look.motion * px))
        kernel: np.ndarray = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        img = cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))
    seed = np.random.default_rng(rng.getrandbits(32))
    if look.light < 1.0:
        # little light: few photons (shot noise), then the camera's gain lifts signal and noise
        signal = img * look.light
        signal = signal + seed.standard_normal(img.shape, dtype=np.float32) * np.sqrt(np.maximum(signal, 1.0)) * 0.5
        gain = min(0.55 / look.light, 4.0)
        img = signal * gain
    img = img + seed.standard_normal(img.shape, dtype=np.float32) * np.float32(look.noise)
    out: np.ndarray = np.clip(img, 0, 255).astype(np.uint8)
    if look.jpeg is not None:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(look.jpeg)])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            out = decoded
    return out


# --------------------------------------------------------------------------- clips

def write_clip(frames: Sequence[np.ndarray], path: Path, fps: float = 15.0) -> str:
    """Write frames for ``cv2.VideoCapture``: a directory gets a PNG image sequence (lossless,
    returns its ``%04d`` pattern); a ``.avi`` path gets an MJPG video. Returns the source string."""
    path = Path(path)
    if path.suffix.lower() == ".avi":
        path.parent.mkdir(parents=True, exist_ok=True)
        h, w = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
        if not writer.isOpened():
            raise OSError(f"cannot write video {path}")
        try:
            for f in frames:
                writer.write(f)
        finally:
            writer.release()
        return str(path)
    path.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        if not cv2.imwrite(str(path / f"frame_{i:04d}.png"), f, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise OSError(f"cannot write {path / f'frame_{i:04d}.png'}")
    return str(path / "frame_%04d.png")


def holding_clip(payload: bytes | str, look: Look, rng: random.Random, frames: int = 10,
                 lead_in: int = 2, size: tuple[int, int] = FRAME_SIZE) -> list[np.ndarray]:
    """A resident raising a phone: ``lead_in`` empty frames, then the code held (slightly shaking)."""
    out = [render_scene(rng, size) for _ in range(lead_in)]
    matrix = code_matrix(payload)
    for _ in range(frames):
        jitter = replace(look, rotation_deg=look.rotation_deg + rng.uniform(-1.5, 1.5),
                         offset=(look.offset[0] + rng.uniform(-0.01, 0.01), look.offset[1] + rng.uniform(-0.01, 0.01)))
        out.append(_render_matrix(matrix, jitter, random.Random(rng.getrandbits(32)), size))
    return out


class DemoCamera:
    """A frame source for `kiosk demo`: the empty gate until :meth:`show` plays a resident's clip.

    The clip is written to disk as an MJPG video, as a USB camera sends its frames, and read
    back through the real ``cv2.VideoCapture``
    (:class:`drivers.camera.capture.OpenCVSource`); between clips the camera shows idle frames.
    Frames are paced at ``fps`` by the capture thread, as a real camera's are.
    """

    name = "demo camera"
    live = False              # the capture thread paces it at the configured fps

    def __init__(self, seed: int = 1, size: tuple[int, int] = (960, 540), fps: float = 15.0,
                 workdir: Path | None = None) -> None:
        self.size, self.fps = size, fps
        self.rng = random.Random(seed)
        self._own_dir = workdir is None
        self._dir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="kiosk-demo-camera-"))
        # the empty gate: one scene, fresh sensor noise frame to frame
        self._idle = [render_scene(random.Random(seed), size, sensor=random.Random(seed + i)) for i in range(3)]
        self._lock = threading.Lock()
        self._next: str | None = None
        self._clip: OpenCVSource | None = None
        self._count = 0
        self._i = 0
        self.opened = False
        self.clips_done = threading.Event()

    def show(self, payload: bytes | str, look: Look | None = None, frames: int = 8) -> str:
        """Render the clip of a resident showing ``payload``; it plays from the next frame on."""
        look = look or CATEGORIES["clean"](self.rng)
        # the categories are drawn for 1280-pixel-wide frames: keep the code's share of the frame
        look = replace(look, module_px=look.module_px * self.size[0] / FRAME_SIZE[0])
        self._count += 1
        clip = holding_clip(payload, look, self.rng, frames=frames, lead_in=1, size=self.size)
        source = write_clip(clip, self._dir / f"clip_{self._count:03d}.avi", fps=self.fps)
        with self._lock:
            self._next = source
            self.clips_done.clear()
        return source

    # ---- drivers.camera.capture.FrameSource

    def open(self) -> None:
        self.opened = True

    def read(self) -> Frame | None:
        with self._lock:
            if self._next is not None:
                if self._clip is not None:
                    self._clip.close()
                self._clip = OpenCVSource(self._next, loop=False)
                self._clip.open()
                self._next = None
            clip = self._clip
        if clip is not None:
            frame = clip.read()
            if frame is not None:
                return frame
            with self._lock:
                clip.close()
                if self._clip is clip:
                    self._clip = None
                    self.clips_done.set()
        self._i += 1
        return self._idle[self._i % len(self._idle)]

    def close(self) -> None:
        with self._lock:
            if self._clip is not None:
                self._clip.close()
                self._clip = None
        self.opened = False

    def discard(self) -> None:
        """Close and delete the rendered clips (the temporary directory, if this camera made it)."""
        self.close()
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> DemoCamera:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Write a stand-in camera clip: an empty gate, then (with --payload) a resident's code."""
    p = argparse.ArgumentParser(prog="python -m hardware_mocks.camera", description=main.__doc__)
    p.add_argument("--out", required=True, help="directory for the image sequence (made if missing)")
    p.add_argument("--payload", help="text shown as a QR code after the empty gate (e.g. a GK1 code)")
    p.add_argument("--category", default="clean", choices=list(CATEGORIES), help="how the code is shown")
    p.add_argument("--frames", type=int, default=15, help="frames of the empty gate and of the code (default 15)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--size", default="1280x720", help="frame size WxH (default 1280x720)")
    args = p.parse_args(argv)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        p.error(f"--size {args.size!r}: expected WxH, like 1280x720")
    if args.frames < 1:
        p.error("--frames must be at least 1")
    rng = random.Random(args.seed)
    frames = [render_scene(random.Random(args.seed), (w, h), sensor=random.Random(args.seed + i))
              for i in range(args.frames)]
    if args.payload:
        frames += holding_clip(args.payload, look_for(args.category, rng), rng, frames=args.frames,
                               lead_in=0, size=(w, h))
    out = Path(args.out)
    if out.exists():
        for old in out.glob("frame_*.png"):
            old.unlink()
    try:
        source = write_clip(frames, out)
    except OSError as exc:
        print(f"hardware_mocks.camera: {exc}", file=sys.stderr)
        return 1
    print(source)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
