"""What a ``[camera] source`` string names, checked without importing OpenCV.

The kiosk checks its camera source at start (a bad string is a configuration error, one line and
a non-zero exit) but imports OpenCV only after READY (kiosk/devices/camera_boot.py): this module
is the part of the camera driver the start path needs.
"""

from __future__ import annotations

import re

from drivers.errors import DeviceConfigError


def describe_spec(spec: str) -> str:
    """What kind of source a ``[camera] source`` string names: device, url, sequence or file."""
    s = spec.strip()
    if s.isdigit() or s.startswith("/dev/video"):
        return "device"
    if "://" in s:
        return "url"
    if "%" in s:
        return "sequence"
    return "file"


def check_spec(spec: str) -> tuple[str, int | None]:
    """The stripped source string and, for a CSI camera (``picamera2``, ``picamera2:N``), its
    number; raises :class:`DeviceConfigError` naming what is wrong with it."""
    s = spec.strip()
    if not s:
        raise DeviceConfigError("camera source is empty")
    if s == "picamera2" or s.startswith("picamera2:"):
        num = s.partition(":")[2] or "0"
        if not num.isdigit():
            raise DeviceConfigError(f"camera source {spec!r}: expected picamera2 or picamera2:N")
        return s, int(num)
    if (describe_spec(s) == "sequence" and len(re.findall(r"%0?\d*d", s)) != 1) or s.count("%") > 1:
        raise DeviceConfigError(f"camera source {spec!r}: an image sequence needs one %d-style field "
                                "(like frames/img_%04d.png)")
    return s, None
