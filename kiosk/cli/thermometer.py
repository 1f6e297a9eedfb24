"""`kiosk thermometer read|calibrate`: the technician's view of the IR thermometer.

``read`` prints one JSON line per valid frame::

    {"object_c": 35.91, "ambient_c": 21.0, "body_c": null, "raw_hex": "5a5a4504...", "t": 0.143}

``object_c``/``ambient_c``/``body_c`` are what the module reported (``body_c`` only from
body-mode modules, ``object_c`` null when the module reports only body), ``t`` is seconds
since the port was opened. Bad frames go to stderr and are skipped.

``calibrate --reference C`` measures like the kiosk does (median window, spread check) and
stores ``reference − measured`` in the calibration file the kiosk reads at start
(:mod:`kiosk.devices.calibration`). Stop the kiosk service first: the port is opened exclusively.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from drivers.errors import FrameError
from drivers.thermometer.frames import PROTOCOLS, sample_rate_hz
from drivers.thermometer.link import LinkSettings, ThermometerLink
from kiosk import config as config_mod
from kiosk.config import Config
from kiosk.core.events import TempSample
from kiosk.core.measure import MeasurementWindow, Unsteady
from kiosk.core.records import Reading
from kiosk.devices import calibration
from kiosk.devices.thermometer import link_settings
from kiosk.errors import CalibrationError, ConfigError
from kiosk.i18n import _


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    read = sub.add_parser("read", help="print one JSON line per valid frame")
    _port_arguments(read)
    read.add_argument("--count", type=int, default=10, help="stop after N frames (0: until interrupted; default 10)")
    cal = sub.add_parser("calibrate", help="store an offset measured against a reference thermometer")
    cal.add_argument("--reference", type=float, required=True, metavar="C",
                     help="the reference thermometer's reading in °C, taken at the same time")
    cal.add_argument("--seconds", type=float, default=5.0, help="how long to try for a steady reading (default 5)")
    _port_arguments(cal)


def _port_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", help="pyserial URL (default: [thermometer] port of the config)")
    p.add_argument("--protocol", choices=tuple(PROTOCOLS), help="module protocol (default: from the config)")
    p.add_argument("--baud", type=int, help="baud rate (default: from the config, 0 = probe)")
    p.add_argument("--mode", choices=("auto", "stream", "query"), help="stream or query (default: auto)")
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")


def _config(args: argparse.Namespace, required: bool) -> Config | None:
    """The config, unless `read` was given everything it needs on the command line."""
    if not required and args.port and args.protocol and not args.config:
        return None
    try:
        return config_mod.load(args.config)
    except ConfigError as exc:
        if required:
            raise
        raise ConfigError(_("{error}; or give --port and --protocol").format(error=exc)) from None


def _settings(args: argparse.Namespace, cfg: Config | None) -> LinkSettings:
    if args.baud is not None and args.baud < 0:
        raise ConfigError(_("--baud {baud} must be 0 (probe) or a positive rate").format(baud=args.baud))
    if cfg is None:
        return LinkSettings(port=args.port, protocol=args.protocol, baud=args.baud or 0, mode=args.mode or "auto")
    return link_settings(cfg, port=args.port, protocol=args.protocol, baud=args.baud, mode=args.mode)


def _report_bad(err: FrameError) -> None:
    print(_("bad frame: {error}").format(error=err), file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.action == "read":
        return _read(args)
    return _calibrate(args)


def _read(args: argparse.Namespace) -> int:
    if args.count < 0:
        raise ConfigError(_("--count {count} must be 0 or more").format(count=args.count))
    cfg = _config(args, required=False)
    settings = _settings(args, cfg)
    silence = cfg.thermometer.silence_fault_s if cfg else 2.0
    with ThermometerLink(settings, on_bad=_report_bad) as link:
        start = time.monotonic()
        for frame in link.frames(count=args.count or None, silence_s=silence):
            print(json.dumps({"object_c": frame.object_c, "ambient_c": frame.ambient_c, "body_c": frame.body_c,
                              "raw_hex": frame.raw.hex(), "t": round(time.monotonic() - start, 3)}), flush=True)
    return 0


def measure_once(link: ThermometerLink, cfg: Config, seconds: float) -> Reading:
    """One reading the way the kiosk takes it, without any stored calibration."""
    s = link.settings
    window = MeasurementWindow(cfg.temperature, sample_hz=sample_rate_hz(s.protocol, s.mode, s.poll_hz))
    unsteady: Unsteady | None = None
    for frame in link.frames(duration_s=seconds, silence_s=cfg.thermometer.silence_fault_s):
        result = window.add(TempSample(frame.object_c, frame.ambient_c, frame.body_c, time.monotonic()))
        if isinstance(result, Unsteady):
            unsteady = result
            print(_("unsteady (spread {spread:.2f} °C): hold still").format(spread=result.spread_c),
                  file=sys.stderr, flush=True)
        elif isinstance(result, Reading):
            return result
    if unsteady is not None:
        raise CalibrationError(_("no steady reading in {seconds:g} s (spread {spread:.2f} °C > {max:g} °C): "
                                 "hold still and try again").format(
            seconds=seconds, spread=unsteady.spread_c, max=cfg.temperature.max_spread_c))
    raise CalibrationError(_("no target in front of the sensor in {seconds:g} s: hold the forehead "
                             "(or the blackbody) where residents do and try again").format(seconds=seconds))


def _calibrate(args: argparse.Namespace) -> int:
    if not 0 < args.seconds <= 120:
        raise ConfigError(_("--seconds {seconds} must be between 0 and 120").format(seconds=args.seconds))
    cfg = _config(args, required=True)
    assert cfg is not None
    lo, hi = calibration.REFERENCE_RANGE_C
    if not lo <= args.reference <= hi:
        raise CalibrationError(_("reference {reference} °C is not a body temperature ({lo:g}…{hi:g} °C)").format(
            reference=args.reference, lo=lo, hi=hi))
    settings = _settings(args, cfg)
    with ThermometerLink(settings, on_bad=_report_bad) as link:
        reading = measure_once(link, cfg, args.seconds)
    cal = calibration.compute(args.reference, reading, settings.protocol, settings.port)
    path: Path = cfg.calibration_path
    calibration.save(path, cal)
    print(json.dumps({"offset_c": cal.offset_c, "reference_c": cal.reference_c, "measured_c": cal.measured_c,
                      "samples": cal.samples, "spread_c": cal.spread_c, "file": str(path)}), flush=True)
    print(_("stored offset {offset:+.2f} °C in {path}; restart the kiosk service to apply it").format(
        offset=cal.offset_c, path=path), file=sys.stderr)
    return 0
