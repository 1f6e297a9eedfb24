"""drivers.camera.engines: ZBar and zxing-cpp behind one interface, exact bytes, QR codes only.

Codes are made by segno (QR) and zxing-cpp's own writer (the other symbologies); the engines
read real rendered pixels, not canned answers."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from drivers.camera import engines
from drivers.camera.engines import ZBarEngine, ZXingEngine
from drivers.errors import DeviceConfigError
from hardware_mocks.camera import CATEGORIES, render
from tests.drivers.camera.test_zbar import code_image

zxingcpp = pytest.importorskip("zxingcpp")
ENGINES = ["zbar", "zxing"]


def test_both_engines_are_available_and_unknown_ones_are_refused() -> None:
    assert engines.available() == ("zxing", "zbar")
    assert isinstance(engines.make("zbar"), ZBarEngine) and isinstance(engines.make("zxing"), ZXingEngine)
    with pytest.raises(DeviceConfigError, match="unknown QR decoder engine 'quirc'"):
        engines.make("quirc")


@pytest.mark.parametrize("name", ENGINES)
def test_arbitrary_bytes_and_the_largest_payload_come_back_exactly(name: str) -> None:
    engine = engines.make(name)
    every_byte = bytes(range(256))                           # not valid UTF-8: passed on as bytes
    assert [s.data for s in engine.read(code_image(every_byte))] == [every_byte]
    largest = bytes((i * 7 + 3) % 256 for i in range(2953))   # version 40-L byte capacity
    assert [s.data for s in engine.read(code_image(largest, scale=2, error="l"))] == [largest]
    latin = "Grüße, 体温正常".encode()
    assert [s.data for s in engine.read(code_image(latin))] == [latin]


@pytest.mark.parametrize("name", ENGINES)
def test_points_locate_the_code(name: str) -> None:
    img = np.full((400, 600), 200, np.uint8)
    code = code_image("GK1:HELLO", scale=5)
    img[50:50 + code.shape[0], 100:100 + code.shape[1]] = code
    [sym] = engines.make(name).read(img)
    x0, y0, x1, y1 = sym.box()
    assert 100 <= x0 < x1 <= 100 + code.shape[1] + 1 and 50 <= y0 < y1 <= 50 + code.shape[0] + 1


@pytest.mark.parametrize("symbology", ["EAN13", "Code128", "DataMatrix", "PDF417", "Aztec", "MicroQRCode"])
@pytest.mark.parametrize("name", ENGINES)
def test_other_symbologies_are_ignored(name: str, symbology: str) -> None:
    text = "4006381333931" if symbology == "EAN13" else ("HELLO" if symbology == "MicroQRCode" else "GK1:HELLO-123")
    symbol = np.array(zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, symbology)).to_image(scale=5))
    img = np.pad(symbol, 40, constant_values=255)
    assert zxingcpp.read_barcodes(img), "the rendered symbol must be readable at all"
    assert engines.make(name).read(img) == []


def test_zxing_reads_a_dark_mode_screen_itself_and_zbar_does_not() -> None:
    rng = random.Random(3)
    gray = cv2.cvtColor(render("GK1:DARK", CATEGORIES["dark_mode"](rng), rng), cv2.COLOR_BGR2GRAY)
    assert [s.data for s in ZXingEngine().read(gray)] == [b"GK1:DARK"]
    assert ZXingEngine(invert=False).read(gray) == []
    assert ZBarEngine().read(gray) == []


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("image", [
    np.zeros((0, 0), np.uint8), np.zeros((1, 1), np.uint8), np.zeros((2, 500), np.uint8),
    np.zeros((10, 10, 3), np.uint8), np.full((50, 50), 1000.0), np.zeros((64, 64), np.uint8),
])
def test_degenerate_images_read_nothing(name: str, image: np.ndarray) -> None:
    assert engines.make(name).read(image) == []


def test_a_machine_without_zxing_cpp_gets_a_zbar_only_cascade(monkeypatch: pytest.MonkeyPatch) -> None:
    from drivers.camera.qr import ZBAR_CASCADE, QrDecoder
    monkeypatch.setattr(engines, "_zxingcpp", lambda: None)
    assert engines.available() == ("zbar",)
    with pytest.raises(DeviceConfigError, match="zxing-cpp is not installed"):
        engines.make("zxing")
    decoder = QrDecoder()
    assert decoder.cascade == ZBAR_CASCADE and set(decoder.engines) == {"zbar"}
    assert decoder.decode_still(code_image("GK1:ZBAR")).payloads == [b"GK1:ZBAR"]
