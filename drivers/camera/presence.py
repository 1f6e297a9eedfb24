"""Is anything in front of the camera? A cheap presence gate in front of the QR decoder.

An empty gate filmed at 15 fps cost the decoder a quarter of a core doing nothing. This gate
looks at a 64×36 thumbnail of each frame (a strided view shrunk by area averaging: well under a
millisecond) and lets a frame through to the decoder only while the scene differs from the
learned empty-gate background, and for ``tail_s`` after it last did.

- **Change, not brightness.** The thumbnail is divided by its own mean before it is compared,
  so a flickering lamp or the camera's auto-exposure (the whole scene brighter or darker) is no
  change; a resident, a phone or a sheet of paper moving into view changes part of the scene.
- **Background.** Learned while nothing is there (running average); something that stays put
  for ``absorb_s`` (a parked bicycle) becomes background, so the gate goes quiet again.
- **First good frame.** A frame that differs is decoded itself (not the one after), so a code
  held up reads on the first frame it is readable, as without the gate.
- **Insurance.** Every ``probe_s`` one frame goes through anyway, in case the scene changed in a
  way the thumbnail cannot see.
- **Compressed frames cost nothing to look at** (drivers/camera/encoded.py). While the gate is
  quiet, a JPEG frame is judged by its size first: a code or a person entering the picture
  changes how many bytes the encoder needs beyond the sensor noise's few per mille, and such a
  frame is looked at (its 1/8-scale grey decode) at once. A look is not free — libjpeg still
  Huffman-decodes every block, ~3.8 ms of a fast core at 720p, two thirds of a full decode — so
  other frames are looked at only once every ``look_s`` in case the size missed something.
  Measured (``bench/presence_looks.py``, docs/benchmarks.md "Idle CPU, issue 17"): on rendered
  gates the size moves by ≥ 4 % for every code's first frame; in front of real photographs (busy
  clutter) by as little as 0.8–0.9 % (one code buried in heavy sensor noise, 0.2 %), so the
  least move is :data:`SIZE_MOVE` = 0.5 % (no empty frame of those gates moved that far); the
  look at its 2 s cadence then costs 0.1 of 38 first-frame reads against a look every 0.5 s, at a
  quarter of the looks' CPU (the old 2 % bar lost 2.6 of them). Flicker moves the size
  too: those frames are looked at, found unchanged, and still not decoded; a camera whose sizes
  wander raises the bar itself (:data:`SIZE_SPREAD` times their running deviation). While
  something is there every frame is decoded, so the thumbnail comes from the decoder's own grey
  image, as it does for a probe (decoded in full anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from drivers.camera.encoded import Encoded

THUMB = (64, 36)          # width, height of the thumbnail the gate compares
CELL_CHANGE = 0.12        # a thumbnail cell differs when its normalised level moves this much
AREA = 0.004              # … and the scene differs when this share of cells do (≈ 9 of 2304)
SIZE_MOVE = 0.005         # a compressed frame's size moving this share from its running mean …
SIZE_SPREAD = 4.0         # … and this many times its running mean deviation is worth a look
SIZE_DEV_CAP = 0.02       # one frame moves the running deviation by at most this share (a visitor
                          # does not deafen the watch)


@dataclass
class SizeWatch:
    """The running mean and mean deviation of compressed frame sizes: has this one moved?"""

    mean: float | None = None
    dev: float = 0.0

    def moved(self, n: int) -> bool:
        if self.mean is None:
            self.mean = float(n)
            return True
        off = abs(n - self.mean)
        moved = off > max(SIZE_MOVE * self.mean, SIZE_SPREAD * self.dev)
        self.mean += 0.1 * (n - self.mean)       # a lasting change (dusk) becomes the new normal
        self.dev += 0.1 * (min(off, SIZE_DEV_CAP * self.mean) - self.dev)
        return moved


@dataclass
class PresenceGate:
    """Decides per frame whether the decoder should look at it (one per camera stream).

    :param now: monotonic clock (injected for tests).
    :param tail_s: keep decoding this long after the scene last differed.
    :param probe_s: let one frame through at least this often however still the scene.
    :param absorb_s: a change that stays this long becomes the new background.
    :param look_s: a quiet gate's compressed frame whose size did not move is looked at this often
        (see the module docstring for what a slower look costs).
    """

    now: Callable[[], float]
    tail_s: float = 1.5
    probe_s: float = 5.0
    absorb_s: float = 20.0
    look_s: float = 2.0
    frames: int = 0
    passed: int = 0
    looked: int = 0           # frames whose thumbnail was made (the rest were judged by size)
    _sizes: SizeWatch = field(default_factory=SizeWatch)
    _last_look: float = float("-inf")
    _bg: np.ndarray | None = None
    _active_until: float = float("-inf")
    _last_pass: float = float("-inf")
    _changed_since: float | None = None
    _last: np.ndarray | None = field(default=None, repr=False)

    def wanted(self, frame: np.ndarray | Encoded) -> bool:
        """True if this frame should be decoded."""
        self.frames += 1
        t = self.now()
        quiet = t > self._active_until
        if isinstance(frame, Encoded):
            moved = self._sizes.moved(frame.nbytes)
            probe = t - self._last_pass >= self.probe_s
            if quiet and self._bg is not None and not moved and t - self._last_look < self.look_s and not probe:
                return False
            # a probe is decoded in full anyway: its thumbnail comes from that grey image, not a
            # second (reduced) decode
            thumb = thumbnail(reduced(frame, frame.small(THUMB) if quiet and not probe else frame.grey()),
                              stride=False)
        else:
            thumb = thumbnail(frame)
        self._last_look = t
        self.looked += 1
        if thumb is None:
            return self._pass(t)                  # the decoder says what is wrong with it
        if self._bg is None or self._bg.shape != thumb.shape:
            self._bg = thumb
            self._active_until = t + self.tail_s
            return self._pass(t)
        differs = float(np.mean(np.abs(thumb - self._bg) > CELL_CHANGE)) >= AREA
        if differs:
            self._active_until = t + self.tail_s
            if self._changed_since is None:
                self._changed_since = t
            elif t - self._changed_since >= self.absorb_s:
                self._bg, self._changed_since = thumb, None     # it stays: part of the scene now
        else:
            self._changed_since = None
            cv2.accumulateWeighted(thumb, self._bg, 0.05)       # slow light changes (dusk)
        if t <= self._active_until or t - self._last_pass >= self.probe_s:
            return self._pass(t)
        return False

    def reset(self) -> None:
        """Forget the background (camera reconnected: the view may have moved)."""
        self._bg = None
        self._changed_since = None
        self._sizes = SizeWatch()

    def _pass(self, t: float) -> bool:
        self.passed += 1
        self._last_pass = t
        return True


def reduced(frame: Encoded, image: np.ndarray | None) -> np.ndarray | None:
    """``image`` (a decode of ``frame``) at the size of the quiet gate's view, libjpeg's reduced
    decode (:meth:`Encoded.small`), by area averaging: libjpeg's reduction is the blocks' mean, so
    the decoder's grey image averaged to that size is the same picture to a grey level, and the
    thumbnail does not jump when the gate goes quiet. Made straight from the full grey image, the
    thumbnail resamples differently, and on fine clutter (foliage, a brick wall) it differed from
    the reduced view's in more cells than a visitor needs: a gate that bounced between quiet and
    decoding every frame."""
    wh = frame.size()
    if image is None or wh is None:
        return image
    f = frame.scale(THUMB)
    w, h = -(-wh[0] // f), -(-wh[1] // f)              # libjpeg rounds a reduced size up
    if image.shape[:2] == (h, w) or image.shape[0] < h or image.shape[1] < w:
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


def thumbnail(frame: object, stride: bool = True) -> np.ndarray | None:
    """The frame as a 64×36 float32 grey thumbnail divided by its mean; None if unusable.
    ``stride``: average every few pixels only (5× cheaper on a decoded frame); off, every pixel."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim not in (2, 3):
        return None
    h, w = frame.shape[:2]
    if h < THUMB[1] or w < THUMB[0] or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)):
        return None
    step = max(1, min(h // (THUMB[1] * 4), w // (THUMB[0] * 4))) if stride else 1
    small = frame[::step, ::step]
    if small.ndim == 3:
        small = small[:, :, 1] if small.shape[2] >= 3 else small[:, :, 0]   # green: most of the luma
    thumb = cv2.resize(np.ascontiguousarray(small), THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
    return thumb / (float(thumb.mean()) + 1.0)
