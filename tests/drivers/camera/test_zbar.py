"""drivers.camera.zbar: QR-only ZBar scanning that hands over the exact payload bytes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import segno
from pyzbar.pyzbar import ZBarSymbol
from pyzbar.pyzbar import decode as pyzbar_decode

from drivers.camera.zbar import QrScanner
from drivers.errors import DeviceUnavailable


def code_image(payload: bytes | str, scale: int = 4, error: str = "m") -> np.ndarray:
    """A clean, upright code with its quiet zone, as a grey image."""
    m = np.array([list(r) for r in segno.make(payload, error=error, micro=False).matrix], np.uint8)
    img = np.where(np.pad(m, 4) == 1, 0, 255).astype(np.uint8)
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def test_reads_text_payload_and_where_it_is() -> None:
    img = np.full((400, 600), 200, np.uint8)
    code = code_image("GK1:HELLO", scale=5)
    img[50:50 + code.shape[0], 100:100 + code.shape[1]] = code
    with QrScanner() as scanner:
        [sym] = scanner.scan(img)
    assert sym.data == b"GK1:HELLO"
    x0, y0, x1, y1 = sym.box()
    assert 100 <= x0 < x1 <= 100 + code.shape[1] and 50 <= y0 < y1 <= 50 + code.shape[0]


def test_arbitrary_bytes_come_back_exactly_where_plain_pyzbar_mangles_them() -> None:
    payload = bytes(range(256))
    img = code_image(payload)
    with QrScanner() as scanner:
        assert scanner.binary
        assert [s.data for s in scanner.scan(img)] == [payload]
    plain = pyzbar_decode(img, symbols=[ZBarSymbol.QRCODE])
    assert plain and plain[0].data != payload     # why drivers.camera.zbar exists


def test_largest_qr_payload() -> None:
    payload = bytes((i * 7 + 3) % 256 for i in range(2953))     # version 40-L byte capacity
    with QrScanner() as scanner:
        assert [s.data for s in scanner.scan(code_image(payload, scale=2, error="l"))] == [payload]


@pytest.mark.parametrize("image", [
    np.zeros((0, 0), np.uint8), np.zeros((0, 50), np.uint8), np.zeros((1, 1), np.uint8),
    np.zeros((2, 500), np.uint8), np.zeros((10, 10, 3), np.uint8), np.full((50, 50), 1000.0),
])
def test_degenerate_images_read_nothing(image: np.ndarray) -> None:
    with QrScanner() as scanner:
        assert scanner.scan(image) == []


def test_closed_scanner_says_so() -> None:
    scanner = QrScanner()
    scanner.close()
    scanner.close()
    with pytest.raises(DeviceUnavailable):
        scanner.scan(np.zeros((10, 10), np.uint8))
