"""QR decoder engines behind one small interface: ZBar (through pyzbar's bindings) and zxing-cpp.

An :class:`Engine` reads the QR codes (and only QR codes) in a 2-D uint8 grey image and returns
each one's exact payload bytes and corner points. The cascade (drivers/camera/qr.py) chooses
which engine scans which prepared image; nothing else here knows about cascades.

- ``zbar``: :class:`drivers.camera.zbar.QrScanner` (ZBar in binary mode; the product owner's
  card package pyzbar stays supported).
- ``zxing``: zxing-cpp's Python module (``pip install zxing-cpp``; Debian's
  ``python3-zxing-cpp``). On real photographs it reads codes on screens, high-version, curved and
  close-up codes that ZBar misses, and both polarities (dark mode) itself, for about a tenth of
  ZBar's time (docs/benchmarks.md "Real photographs"). Its ``bytes`` are the payload's raw
  bytes (no text transcoding), as the verifier needs. zxing-cpp 3 counts Micro QR and rMQR as
  members of the QR family: those are dropped here, a health code is never one.

:func:`available` says which engines this machine has; a missing zxing-cpp (a board without a
wheel) leaves a ZBar-only cascade, logged once, never a failure.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Protocol

import numpy as np

from drivers.camera.zbar import QrScanner, Symbol
from drivers.errors import DeviceConfigError

log = logging.getLogger("drivers.camera.engines")

ENGINES = ("zxing", "zbar")

# zxing-cpp reads a numpy image through its ``__array_interface__``, a dict numpy builds afresh
# on every access with ``PyDict_SetItemString`` — which interns each key. ``"typestr"`` is no
# identifier anywhere else in the process, so every decode interned a new string that died with
# the dict. With the announcements' clip names and the status file's temp name (pathlib and
# kiosk/durable.py) that was ~9 insertions and deletions a pass in CPython's table of interned
# strings, whose deleted slots filled it until, at about the 2,400th pass, it was rebuilt at
# twice its size (0.9 → 1.9 MB of the kiosk's resident memory, for good; issue 17,
# docs/benchmarks.md "Memory, issue 17"). Interned here once and held, the key is found instead
# of added.
_ARRAY_INTERFACE_KEY = sys.intern("typestr")


class Engine(Protocol):
    """Reads QR codes in a grey image. Not thread-safe: one per scan thread."""

    name: str

    def read(self, gray: np.ndarray) -> list[Symbol]:
        """Every QR code in a 2-D uint8 image, payloads as exact bytes; [] for none."""

    def close(self) -> None:
        """Release what the engine holds; safe to call twice."""


def _usable(gray: np.ndarray) -> bool:
    return gray.ndim == 2 and gray.dtype == np.uint8 and gray.shape[0] >= 3 and gray.shape[1] >= 3


class ZBarEngine:
    """ZBar, QR only, binary mode (drivers/camera/zbar.py)."""

    name = "zbar"

    def __init__(self) -> None:
        self.scanner = QrScanner()

    def read(self, gray: np.ndarray) -> list[Symbol]:
        return self.scanner.scan(gray) if _usable(gray) else []

    def close(self) -> None:
        self.scanner.close()


class ZXingEngine:
    """zxing-cpp, QR codes only (Model 2, the symbol phones show), both polarities.

    :param invert: also look for light-on-dark codes (dark mode); zxing-cpp does it on the same
        binarised image, cheaper than a second pass over an inverted copy.
    """

    name = "zxing"

    def __init__(self, *, invert: bool = True) -> None:
        self._zx: Any = _zxingcpp()
        if self._zx is None:
            raise DeviceConfigError("zxing-cpp is not installed (pip install zxing-cpp, or apt install "
                                    "python3-zxing-cpp)")
        fmt = self._zx.BarcodeFormat
        self._formats = fmt.QRCode
        self._other = tuple(getattr(fmt, n) for n in ("MicroQRCode", "RMQRCode") if hasattr(fmt, n))
        self.invert = invert

    def read(self, gray: np.ndarray) -> list[Symbol]:
        if not _usable(gray):
            return []
        found = self._zx.read_barcodes(np.ascontiguousarray(gray), formats=self._formats,
                                       try_rotate=True, try_downscale=True, try_invert=self.invert)
        out = []
        for code in found:
            if code.format in self._other or not code.valid:
                continue
            p = code.position
            points = tuple((int(c.x), int(c.y)) for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))
            out.append(Symbol(bytes(code.bytes), points))
        return out

    def close(self) -> None:
        pass


def _zxingcpp() -> Any:
    """The zxingcpp module, or None when it is not installed."""
    try:
        import zxingcpp  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return zxingcpp


def available() -> tuple[str, ...]:
    """The engines this machine can run, best first."""
    return ENGINES if _zxingcpp() is not None else ("zbar",)


def make(name: str) -> Engine:
    """A new engine by name (``zxing`` or ``zbar``); DeviceConfigError for an unknown or missing one."""
    if name == "zbar":
        return ZBarEngine()
    if name == "zxing":
        return ZXingEngine()
    raise DeviceConfigError(f"unknown QR decoder engine {name!r} (known: {', '.join(ENGINES)})")
