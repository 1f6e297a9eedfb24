"""QR-only ZBar scanning through pyzbar's ctypes bindings, with the payload kept as raw bytes.

``pyzbar.decode()`` builds a new scanner for every call and lets ZBar guess a text encoding
for byte-mode data, re-encoding it as UTF-8 — which destroys any payload that is not text
(mchehab/zbar #55, NaturalHistoryMuseum/pyzbar #82/#105, heuer/segno #109). A gate must hand
the verifier the exact bytes, so this scanner sets ``ZBAR_CFG_BINARY`` (ZBar ≥ 0.23.1;
Debian 12 and Raspberry Pi OS Bookworm ship 0.23.92) and is built once and reused. It uses
only pyzbar's own bindings (``pyzbar.wrapper``) and loads the same ``libzbar0``.
"""

from __future__ import annotations

import threading
from ctypes import c_char_p, c_void_p, cast, string_at
from dataclasses import dataclass

import numpy as np
from pyzbar import wrapper as zw
from pyzbar.pyzbar import ZBarSymbol

from drivers.errors import DeviceUnavailable

# zbar.h, enum zbar_config_e: ENABLE = 0, ADD_CHECK, EMIT_CHECK, ASCII, BINARY (since 0.23.1)
ZBAR_CFG_ENABLE = 0
ZBAR_CFG_BINARY = 4
_Y800 = ord("Y") | ord("8") << 8 | ord("0") << 16 | ord("0") << 24   # 8-bit grey


@dataclass(frozen=True)
class Symbol:
    """One decoded QR code: its bytes and where ZBar found it (pixel points, scanned image)."""

    data: bytes
    points: tuple[tuple[int, int], ...]

    def box(self) -> tuple[int, int, int, int]:
        """Bounding box ``(x0, y0, x1, y1)`` of the located points."""
        if not self.points:
            return (0, 0, 0, 0)
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        return (min(xs), min(ys), max(xs) + 1, max(ys) + 1)


class QrScanner:
    """A ZBar image scanner enabled for QR codes only, returning raw payload bytes.

    Not thread-safe: give each thread its own scanner (they are cheap). ZBar runs without
    the GIL (ctypes releases it), so a capture thread keeps running while it scans.
    """

    def __init__(self, *, binary: bool = True) -> None:
        try:
            scanner = zw.zbar_image_scanner_create()
        except Exception as exc:  # noqa: BLE001 - libzbar0 missing: pyzbar raises ImportError on first use
            raise DeviceUnavailable(f"ZBar library not usable (install libzbar0): {exc}") from None
        self._scanner = scanner
        self._lock = threading.Lock()
        zw.zbar_image_scanner_set_config(scanner, 0, ZBAR_CFG_ENABLE, 0)
        zw.zbar_image_scanner_set_config(scanner, ZBarSymbol.QRCODE, ZBAR_CFG_ENABLE, 1)
        # set_config answers 0 when ZBar knows the option; older ZBar keeps its text conversion
        self.binary = binary and zw.zbar_image_scanner_set_config(
            scanner, ZBarSymbol.QRCODE, ZBAR_CFG_BINARY, 1) == 0

    def scan(self, gray: np.ndarray) -> list[Symbol]:
        """Every QR code ZBar reads in a 2-D uint8 image; [] for an empty image."""
        if gray.ndim != 2 or gray.size == 0 or gray.shape[0] < 3 or gray.shape[1] < 3:
            return []
        if gray.dtype != np.uint8:
            gray = np.clip(gray, 0, 255).astype(np.uint8)
        pixels = np.ascontiguousarray(gray).tobytes()
        height, width = gray.shape
        with self._lock:
            if self._scanner is None:
                raise DeviceUnavailable("QR scanner is closed")
            image = zw.zbar_image_create()
            try:
                zw.zbar_image_set_format(image, _Y800)
                zw.zbar_image_set_size(image, width, height)
                zw.zbar_image_set_data(image, cast(c_char_p(pixels), c_void_p), len(pixels), None)
                if zw.zbar_scan_image(self._scanner, image) <= 0:
                    return []
                out = []
                symbol = zw.zbar_image_first_symbol(image)
                while symbol:
                    data = string_at(zw.zbar_symbol_get_data(symbol), zw.zbar_symbol_get_data_length(symbol))
                    points = tuple((zw.zbar_symbol_get_loc_x(symbol, i), zw.zbar_symbol_get_loc_y(symbol, i))
                                   for i in range(zw.zbar_symbol_get_loc_size(symbol)))
                    out.append(Symbol(data, points))
                    symbol = zw.zbar_symbol_next(symbol)
                return out
            finally:
                zw.zbar_image_destroy(image)

    def close(self) -> None:
        with self._lock:
            if self._scanner is not None:
                zw.zbar_image_scanner_destroy(self._scanner)
                self._scanner = None

    def __enter__(self) -> QrScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - closing a vanished device must not raise
            pass
