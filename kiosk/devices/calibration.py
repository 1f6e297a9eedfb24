"""The thermometer's calibration offset, measured against a reference thermometer.

``kiosk thermometer calibrate --reference C`` compares a reference value (a clinical
thermometer on the same person, or a blackbody set to C) with the kiosk's own body estimate
and stores the difference in ``<state_dir>/thermometer-calibration.json`` (or
``[thermometer] calibration_file``). The kiosk reads it once at start and adds it to every
body estimate (:mod:`kiosk.core.measure`); restart the service after calibrating. No file means no
offset; a file that cannot be read stops the start with a clear error rather than silently
measuring uncalibrated.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from kiosk.core.records import Reading
from kiosk.durable import write_json
from kiosk.errors import CalibrationError

MAX_OFFSET_C = 3.0                 # a bigger difference means a wrong target or a broken sensor
REFERENCE_RANGE_C = (34.0, 42.0)   # the screening measurement range (docs/thermometer.md §2.2)


@dataclass(frozen=True)
class Calibration:
    offset_c: float
    reference_c: float
    measured_c: float
    samples: int
    spread_c: float
    protocol: str
    port: str
    at: str                        # UTC, ISO 8601


def compute(reference_c: float, reading: Reading, protocol: str, port: str,
            now: float | None = None) -> Calibration:
    """The offset that makes this reading equal the reference; refuses implausible ones."""
    lo, hi = REFERENCE_RANGE_C
    if not math.isfinite(reference_c) or not lo <= reference_c <= hi:
        raise CalibrationError(f"reference {reference_c} °C is not a body temperature ({lo:g}…{hi:g} °C)")
    offset = round(reference_c - reading.value_c, 2)
    if abs(offset) > MAX_OFFSET_C:
        raise CalibrationError(f"the kiosk measured {reading.value_c:.2f} °C against a reference of "
                               f"{reference_c:.2f} °C; a {offset:+.2f} °C offset is beyond ±{MAX_OFFSET_C:g} °C "
                               "(wrong target, distance, or a faulty sensor?)")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    return Calibration(offset_c=offset, reference_c=reference_c, measured_c=round(reading.value_c, 2),
                       samples=reading.samples, spread_c=round(reading.spread_c, 2), protocol=protocol,
                       port=port, at=stamp)


def save(path: Path, cal: Calibration) -> None:
    """Write atomically and durably: a power cut leaves the old or the new file."""
    try:
        write_json(Path(path), asdict(cal), parents=True)
    except OSError as exc:
        raise CalibrationError(f"cannot write calibration file {path}: {exc.strerror or exc}") from None


def load(path: Path) -> Calibration | None:
    """The stored calibration, None if there is none; CalibrationError if the file is unusable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"cannot read calibration file {path}: {exc}") from None
    try:
        data = json.loads(text)
        cal = Calibration(**{f.name: data[f.name] for f in fields(Calibration)})
        offset = float(cal.offset_c)
    except (ValueError, KeyError, TypeError) as exc:
        raise CalibrationError(f"calibration file {path} is not valid ({type(exc).__name__}: {exc}); "
                               "run `kiosk thermometer calibrate` again or delete it") from None
    if not math.isfinite(offset) or abs(offset) > MAX_OFFSET_C:
        raise CalibrationError(f"calibration file {path}: offset {cal.offset_c} °C is beyond ±{MAX_OFFSET_C:g} °C")
    return cal


def offset_c(path: Path) -> float:
    """The offset to add to body estimates (0.0 without a calibration)."""
    cal = load(path)
    return 0.0 if cal is None else float(cal.offset_c)
