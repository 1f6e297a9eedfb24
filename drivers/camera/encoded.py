"""A frame as the camera sent it — JPEG (or PNG) bytes — decoded only as far as someone needs.

A USB camera at 720p sends Motion-JPEG. Decoding every frame to a colour image in the capture
thread cost 8 ms a frame (12–15 % of a core at 15 fps) before anyone had asked whether anything
was in front of the camera. So the capture thread keeps the compressed frame, and:

- the presence gate looks at its **size** first (free: a code or a person entering the picture
  changes how many bytes the encoder needs), and now and then at a **1/8-scale grey** decode
  (libjpeg scales in the DCT, so no full-size image is made — but it still Huffman-decodes every
  block, which dominates: 3.8 ms against 5.6 ms for the full grey decode of a 235 KB 720p frame,
  two thirds of it, not a third; docs/benchmarks.md "Idle CPU, issue 17");
- only a frame the gate passes is decoded in full, in **grey** (the QR engines want grey: no
  colour conversion), at the largest libjpeg scale that still covers the configured width and
  height — a camera that picked a bigger mode than asked is not decoded at more than we need.

OpenCV hands the compressed bytes over when asked (docs/ecosystem.md §2.3): V4L2 with
``CAP_PROP_CONVERT_RGB`` off returns the MJPG buffer as one row of bytes, FFmpeg with
``CAP_PROP_FORMAT`` −1 returns the packet; an image sequence is read from its files.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

JPEG_SOI = b"\xff\xd8"
PNG_SIG = b"\x89PNG\r\n\x1a\n"
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_GREY_AT = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
            4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}


@dataclass(eq=False)
class Encoded:
    """One compressed frame. ``data`` is the bytes as a 1-D uint8 array; ``want`` the
    (width, height) the decoder needs, or None for the full size. Decodes are cached: the gate
    and the decoder of the same frame share them. Not thread-safe: one scan thread uses it."""

    data: np.ndarray
    want: tuple[int, int] | None = None
    _grey: np.ndarray | None = field(default=None, repr=False)
    _small: np.ndarray | None = field(default=None, repr=False)
    _failed: bool = False

    @classmethod
    def of(cls, raw: bytes | np.ndarray, want: tuple[int, int] | None = None) -> Encoded:
        data = np.frombuffer(raw, np.uint8) if isinstance(raw, bytes) else np.ascontiguousarray(raw).reshape(-1)
        return cls(data, want)

    @property
    def nbytes(self) -> int:
        return int(self.data.size)

    @property
    def usable(self) -> bool:
        """Looks like a JPEG or PNG (the bytes may still be damaged: :meth:`grey` says)."""
        head = self.data[:8].tobytes()
        return self.data.dtype == np.uint8 and (head.startswith(JPEG_SOI) or head == PNG_SIG)

    def size(self) -> tuple[int, int] | None:
        """(width, height) from the header, without decoding; None if there is no readable header."""
        return self._header_size

    @functools.cached_property
    def _header_size(self) -> tuple[int, int] | None:
        # read once per frame: a frame the gate passes asks for its size three times (the decoder's
        # scale, the gate's reduced view and its scale), and each read copies up to 64 KB
        buf = self.data.tobytes() if self.data.size <= 65536 else self.data[:65536].tobytes()
        if buf.startswith(PNG_SIG) and len(buf) >= 24:
            return int.from_bytes(buf[16:20], "big"), int.from_bytes(buf[20:24], "big")
        i = 2
        while buf.startswith(JPEG_SOI) and i + 9 <= len(buf):
            if buf[i] != 0xFF:
                return None
            marker = buf[i + 1]
            if marker == 0xFF:                 # fill byte
                i += 1
                continue
            length = int.from_bytes(buf[i + 2:i + 4], "big")
            if marker in _SOF:
                return int.from_bytes(buf[i + 7:i + 9], "big"), int.from_bytes(buf[i + 5:i + 7], "big")
            i += 2 + length
        return None

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) as for an image array; (0, 0) when the header is unreadable."""
        wh = self.size()
        return (wh[1], wh[0]) if wh else (0, 0)

    def scale(self, want: tuple[int, int] | None = None) -> int:
        """The largest libjpeg reduction (1, 2, 4, 8) that still covers ``want`` (default: the
        decoder's); 1 for a PNG or an unreadable header."""
        want = want or self.want
        wh = self.size()
        if want is None or wh is None or self.data[:2].tobytes() != JPEG_SOI:
            return 1
        for f in (8, 4, 2):
            if wh[0] // f >= want[0] and wh[1] // f >= want[1]:
                return f
        return 1

    def grey(self) -> np.ndarray | None:
        """The frame in grey at the size the decoder needs; None if the bytes do not decode."""
        if self._grey is None and not self._failed:
            self._grey = _decode(self.data, _GREY_AT[self.scale()])
            self._failed = self._grey is None
        return self._grey

    def small(self, at_least: tuple[int, int]) -> np.ndarray | None:
        """The frame in grey, reduced as far as libjpeg can while still ``at_least`` (width,
        height) in size (the presence gate's view); None if it does not decode."""
        if self._grey is not None:
            return self._grey
        if self._small is None and not self._failed:
            self._small = _decode(self.data, _GREY_AT[self.scale(at_least)])
            self._failed = self._small is None
        return self._small

    def color(self) -> np.ndarray | None:
        """The full-size BGR image (for callers that want what ``VideoCapture.read`` gives)."""
        return _decode(self.data, cv2.IMREAD_COLOR)


def _decode(data: np.ndarray, flags: int) -> np.ndarray | None:
    try:
        img = cv2.imdecode(data, flags)
    except cv2.error:
        return None
    return img if isinstance(img, np.ndarray) and img.size else None
