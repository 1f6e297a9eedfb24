"""QR images of GK1 codes: a plain PNG for phones and test fixtures, an A6 page for paper codes.

segno writes the QR (pure Python, maintained, and it picks alphanumeric mode for the
``GK1:`` + Base45 text by itself, which keeps the symbol small). The A6 page (105 × 148 mm at
300 dpi) puts the code ~70 mm wide, module for module as segno made it, so an old phone-quality
camera reads it at arm's length. The caption below is drawn with Pillow and Noto Sans CJK
(Debian's fonts-noto-cjk): OpenCV's Hershey fonts have no Chinese glyphs. Chinese first, English
below (kiosk/codes/labels.py). Paper shows no name and no colour: the kiosk takes the colour
from the status list.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import segno

from kiosk.codes import labels
from kiosk.errors import CodeError

if TYPE_CHECKING:
    import numpy as np
    from PIL import ImageDraw, ImageFont

A6_MM = (105.0, 148.0)
DPI = 300
QR_MM = 70.0
ERROR_LEVEL = "q"         # 25 % recovery: paper gets creased, screens get scratched
# Debian's fonts-noto-cjk (run.sh RUN_DEBS); the collection holds JP/KR/SC/TC/HK faces, picked by name
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_FACE = "Noto Sans CJK SC"       # Simplified Chinese glyph forms
ZH_PX, EN_PX = 54, 36               # ~4.6 and ~3 mm at 300 dpi: read at arm's length


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


def qr_pixels(payload: str) -> np.ndarray:
    """The code as a grey image (0 dark, 255 light), each module a square of whole pixels ~QR_MM wide."""
    import cv2
    import numpy as np

    code = qr(payload)
    modules = int(code.symbol_size(scale=1, border=4)[0])
    px = max(1, _mm(QR_MM) // modules)
    matrix = np.array(list(code.matrix_iter(scale=1, border=4)), dtype=np.uint8)
    side = int(modules * px)
    img: np.ndarray = cv2.resize(np.where(matrix > 0, 0, 255).astype(np.uint8), (side, side),
                                 interpolation=cv2.INTER_NEAREST)
    return img


def cjk_font(size: int, path: Path | None = None) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK SC at ``size`` px; CodeError in one line if the font is not installed."""
    from PIL import ImageFont

    path = path or CJK_FONT
    try:
        return ImageFont.truetype(str(path), size, index=_sc_face(path))
    except OSError as exc:                      # removed since it was first read
        raise CodeError(f"cannot print Chinese: no CJK font at {path} ({exc}); "
                        "install it with: apt install fonts-noto-cjk") from None


@cache
def _sc_face(path: Path) -> int:
    """The index of the Simplified Chinese face in the collection (the first face if none is named so)."""
    from PIL import ImageFont

    for index in range(16):
        try:
            face = ImageFont.truetype(str(path), 12, index=index)
        except OSError:
            if index == 0:
                raise
            break
        if face.getname()[0] == CJK_FACE:
            return index
    return 0


def _fit(draw: ImageDraw.ImageDraw, text: str, size: int, width: int, path: Path | None) -> ImageFont.FreeTypeFont:
    font = cjk_font(size, path)
    while size > 12 and draw.textlength(text, font=font) > width:
        size -= 2
        font = cjk_font(size, path)
    return font


def save_a6(payload: str, path: Path, lines: list[tuple[str, str]], font: Path | None = None) -> None:
    """A printable A6 page: the code centred in the upper part, caption pairs below (Chinese, then
    English in smaller type)."""
    from PIL import Image, ImageDraw

    img_qr = qr_pixels(payload)
    w, h = _mm(A6_MM[0]), _mm(A6_MM[1])
    page = Image.new("L", (w, h), 255)
    x0, y0 = (w - img_qr.shape[1]) // 2, _mm(12)
    page.paste(Image.fromarray(img_qr), (x0, y0))          # 2-D uint8: mode "L", grey
    draw = ImageDraw.Draw(page)
    y = y0 + img_qr.shape[0] + _mm(6)
    for zh, en in lines:
        for text, size in ((zh, ZH_PX), (en, EN_PX)):
            f = _fit(draw, text, size, w - 2 * _mm(6), font)
            draw.text((w // 2, y), text, fill=0, font=f, anchor="ma")
            y += int(f.size * 1.25)
        y += _mm(2)
    try:
        page.save(path, format="PNG", optimize=True)
    except OSError as exc:
        raise CodeError(f"cannot write {path}: {exc.strerror or exc}") from None


def paper_caption(kind: str, exp: int, scope: tuple[str, ...], tz: dt.tzinfo = dt.UTC) -> list[tuple[str, str]]:
    """The lines under a printed code: its expiry in the kiosk's local time (kiosk.timezone), zone named."""
    return labels.caption(kind, exp, scope, tz)


def decode_image(path: Path) -> list[bytes]:
    """QR payloads in an image file, via ZBar (the camera driver's decoder may replace this)."""
    import cv2
    from pyzbar import pyzbar

    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise CodeError(f"{path} is not a readable image")
    return [sym.data for sym in pyzbar.decode(img, symbols=[pyzbar.ZBarSymbol.QRCODE])]
