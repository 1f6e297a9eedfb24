"""drivers.camera.encoded: a camera's JPEG (or PNG) bytes, decoded only as far as someone needs —
the size from the header, grey at the libjpeg scale that covers what the decoder needs, a 1/8 view
for the presence gate; damaged bytes say so (None), never raise."""

from __future__ import annotations

import random

import cv2
import numpy as np

from drivers.camera.capture import usable
from drivers.camera.encoded import Encoded
from drivers.camera.qr import QrDecoder
from hardware_mocks.camera import CATEGORIES, render

PAYLOAD = "GK1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0BGJLFX3R3VHXK.PJ:2DPF6R:5SVBHABVCNN95"


def code_frame() -> np.ndarray:
    rng = random.Random(5)
    return render(PAYLOAD, CATEGORIES["clean"](rng), rng, (1280, 720))


def encoded(frame: np.ndarray, ext: str = ".jpg", want: tuple[int, int] | None = (640, 360)) -> Encoded:
    ok, buf = cv2.imencode(ext, frame)
    assert ok
    return Encoded.of(buf.tobytes(), want)


def test_a_jpeg_is_measured_from_its_header_and_decoded_at_the_size_needed() -> None:
    frame = encoded(code_frame())
    assert frame.size() == (1280, 720) and frame.shape == (720, 1280) and usable(frame)
    assert frame.scale() == 2                                   # 640×360 covers what the decoder needs
    grey = frame.grey()
    assert grey is not None and grey.shape == (360, 640) and grey.ndim == 2
    assert QrDecoder().decode(frame).payloads == [PAYLOAD.encode()]


def test_the_gates_view_is_the_smallest_libjpeg_scale_that_covers_it() -> None:
    frame = encoded(code_frame(), want=None)
    small = frame.small((64, 36))
    assert small is not None and small.shape == (90, 160)       # 1/8 of 1280×720, no full decode
    assert frame.scale() == 1                                   # no size asked: the full frame


def test_a_png_has_its_size_in_its_header_and_no_reduced_decode() -> None:
    frame = encoded(code_frame(), ".png")
    assert frame.size() == (1280, 720) and frame.scale() == 1
    grey = frame.grey()
    assert grey is not None and grey.shape == (720, 1280)


def test_a_damaged_jpeg_decodes_to_nothing_and_the_decoder_says_so() -> None:
    whole = encoded(code_frame())
    broken = Encoded.of(whole.data[:40].tobytes(), (640, 360))  # a cable dropping the rest of the frame
    assert usable(broken)                                       # it starts like a JPEG …
    assert broken.grey() is None and broken.small((64, 36)) is None   # … but does not decode
    result = QrDecoder().decode(broken)
    assert result.payloads == [] and result.calls == 0          # no engine ran: the feed logs it once


def test_a_jpeg_cut_short_reads_nothing_wrong() -> None:
    whole = encoded(code_frame())
    assert QrDecoder().decode(Encoded.of(whole.data[:2000].tobytes(), (640, 360))).payloads == []


def test_bytes_that_are_no_image_are_not_usable() -> None:
    assert not usable(Encoded.of(bytes(range(256)) * 4))
    assert Encoded.of(b"\xff\xd8\xff").size() is None
