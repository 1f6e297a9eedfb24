"""`kiosk decode IMAGE...`: the QR codes in image files, one JSON line per image (docs/contracts.md §1).

    {"file": "a.png", "payloads": ["GK1:6BF…"], "ms": 21.4}
    {"file": "b.bin", "payloads": [{"base64": "gAEC…"}], "ms": 18.0}
    {"file": "c.png", "error": "no such file"}

A payload that is valid UTF-8 is a JSON string; any other payload is an object
``{"base64": …}`` (standard alphabet, padded) holding its exact bytes, so a binary payload is
never mangled nor mistaken for text. ``ms`` is the decoding time of that image (the file
read excluded), with every decoder variant tried until one reads — as a technician wants,
not the camera's per-frame budget. A missing or unreadable image gets an ``"error"`` and
the command goes on with the next one; the exit status is 1 if any image had an error.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drivers.camera.qr import QrDecoder

MAX_FILE_BYTES = 64 * 1024 * 1024     # a larger "image" is not a photo of a health code


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, BMP, TIFF, WebP …)")


def payload_json(payload: bytes) -> str | dict[str, str]:
    """Text if the payload is valid UTF-8, else ``{"base64": …}`` of its exact bytes."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(payload).decode("ascii")}


def load_image(path: Path) -> np.ndarray:
    """The image's pixels; OSError or ValueError with a short reason if there are none."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise OSError("no such file") from None
    except OSError as exc:
        raise OSError(exc.strerror or str(exc)) from None
    if path.is_dir():
        raise OSError("is a directory")
    if size == 0:
        raise ValueError("empty file")
    if size > MAX_FILE_BYTES:
        raise ValueError(f"file too large ({size} bytes)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OSError(exc.strerror or str(exc)) from None
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None or image.size == 0:
        raise ValueError("not an image OpenCV can read")
    return image


def decode_file(decoder: QrDecoder, name: str) -> dict[str, Any]:
    """One output line for one image."""
    try:
        image = load_image(Path(name))
    except (OSError, ValueError) as exc:
        return {"file": name, "error": str(exc)}
    result = decoder.decode_still(image)
    return {"file": name, "payloads": [payload_json(p) for p in result.payloads], "ms": round(result.ms, 1)}


def run(args: argparse.Namespace) -> int:
    failed = False
    with QrDecoder() as decoder:
        for name in args.images:
            line = decode_file(decoder, name)
            failed = failed or "error" in line
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
    return 1 if failed else 0
