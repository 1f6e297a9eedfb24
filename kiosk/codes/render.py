"""QR images of GK1 codes: a plain PNG for phones and test fixtures, an A6 page for paper codes.

segno writes the QR (pure Python, no Pillow, maintained, and it picks alphanumeric mode for the
``GK1:`` + Base45 text by itself, which keeps the symbol small). The A6 page (105 × 148 mm at
300 dpi) is composed with OpenCV, already a kiosk dependency; the code is ~70 mm wide so an
old phone-quality camera reads it at arm's length. Paper shows no name and no colour: the
kiosk takes the colour from the status list.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import segno

from kiosk.errors import CodeError

A6_MM = (105.0, 148.0)
DPI = 300
QR_MM = 70.0
ERROR_LEVEL = "q"         # 25 % recovery: paper gets creased, screens get scratched


def qr(payload: str) -> segno.QRCode:
    return segno.make(payload, error=ERROR_LEVEL, micro=False)


def save_png(payload: str, path: Path, scale: int = 8) -> None:
    """The code alone, with the 4-module quiet zone."""
    try:
        qr(payload).save(str(path), kind="png", scale=scale, border=4)
    except OSError as exc:
        raise CodeError(f"cannot write {path}: {exc.strerror or exc}") from None


def _mm(v: float) -> int:
    return round(v / 25.4 * DPI)


def save_a6(payload: str, path: Path, lines: list[str]) -> None:
    """A printable A6 page: the code centred in the upper part, short ASCII caption lines below."""
    import cv2
    import numpy as np

    code = qr(payload)
    modules = int(code.symbol_size(scale=1, border=4)[0])
    px = max(1, _mm(QR_MM) // modules)
    matrix = np.array(list(code.matrix_iter(scale=1, border=4)), dtype=np.uint8)
    side = int(modules * px)
    img_qr = cv2.resize(np.where(matrix > 0, 0, 255).astype(np.uint8), (side, side),
                        interpolation=cv2.INTER_NEAREST)
    w, h = _mm(A6_MM[0]), _mm(A6_MM[1])
    page = np.full((h, w), 255, dtype=np.uint8)
    x0, y0 = (w - img_qr.shape[1]) // 2, _mm(12)
    page[y0:y0 + img_qr.shape[0], x0:x0 + img_qr.shape[1]] = img_qr
    y = y0 + img_qr.shape[0] + _mm(8)
    for line in lines:
        text = line.encode("ascii", "replace").decode()
        size, _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.2, 2)
        cv2.putText(page, text, ((w - size[0]) // 2, y), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2, cv2.LINE_AA)
        y += size[1] + _mm(4)
    ok, buf = cv2.imencode(".png", page, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise CodeError(f"cannot encode {path} as PNG")
    try:
        Path(path).write_bytes(buf.tobytes())
    except OSError as exc:
        raise CodeError(f"cannot write {path}: {exc.strerror or exc}") from None


def paper_caption(kind: str, exp: int, scope: tuple[str, ...], tz: dt.tzinfo = dt.UTC) -> list[str]:
    """The lines under a printed code: its expiry in the kiosk's local time (kiosk.timezone)."""
    until = dt.datetime.fromtimestamp(exp, tz)
    return [f"GK1 {kind} code", f"valid until {until:%Y-%m-%d %H:%M} ({until.tzname()})",
            "scope: " + ", ".join(scope)[:40]]


def decode_image(path: Path) -> list[bytes]:
    """QR payloads in an image file, via ZBar (the camera driver's decoder may replace this)."""
    import cv2
    from pyzbar import pyzbar

    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise CodeError(f"{path} is not a readable image")
    return [sym.data for sym in pyzbar.decode(img, symbols=[pyzbar.ZBarSymbol.QRCODE])]
