"""`kiosk decode IMAGE...`: the QR codes in image files, one JSON line per image (docs/contracts.md §1).

    {"file": "a.png", "payloads": ["GK1:6BF…"], "ms": 21.4}
    {"file": "b.bin", "payloads": [{"base64": "gAEC…"}], "ms": 18.0}
    {"file": "c.png", "error": "no such file"}

A payload that is valid UTF-8 is a JSON string; any other payload is an object
``{"base64": …}`` (standard alphabet, padded) holding its exact bytes, so a binary payload is
never mangled nor mistaken for text. ``ms`` is the decoding time of that image (the file
read excluded), with every decoder variant tried until one reads — as a technician wants,
not the camera's per-frame budget: the same steps, in the same order, as the camera's cascade
(drivers/camera/qr.py). A missing or unreadable image gets an ``"error"`` and the command goes on
with the next one; the exit status is 1 if any image had an error.

At the end one line on stderr separates what the command costs once from what each image costs:

    kiosk decode: 100 images (0 errors, 97 with a code); start-up 310 ms (Python, imports,
    decoder engines); decoding median 4.2 ms, p95 31.0 ms, total 0.9 s        (one line)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
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


def process_age_s() -> float | None:
    """Seconds since this process was created (Linux /proc), None where that cannot be read."""
    try:
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")        # field 22: starttime, in ticks
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def summary(lines: list[dict[str, Any]], startup_s: float, total_s: float) -> str:
    ms = [float(line["ms"]) for line in lines if "ms" in line]
    errors = sum(1 for line in lines if "error" in line)
    coded = sum(1 for line in lines if line.get("payloads"))
    timing = (f"decoding median {statistics.median(ms):.1f} ms, p95 {sorted(ms)[round(0.95 * (len(ms) - 1))]:.1f} ms, "
              f"total {total_s:.1f} s" if ms else "nothing decoded")
    return (f"kiosk decode: {len(lines)} images ({errors} errors, {coded} with a code); start-up "
            f"{startup_s * 1000:.0f} ms (Python, imports, decoder engines); {timing}")


def run(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    lines: list[dict[str, Any]] = []
    with QrDecoder() as decoder:
        age = process_age_s()
        startup_s = age if age is not None else time.perf_counter() - began
        t0 = time.perf_counter()
        for name in args.images:
            line = decode_file(decoder, name)
            lines.append(line)
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        total_s = time.perf_counter() - t0
    sys.stderr.write(summary(lines, startup_s, total_s) + "\n")
    return 1 if any("error" in line for line in lines) else 0
