"""The thermometer as the kiosk configures it: ``[thermometer]`` → driver, callbacks → events.

Kept apart from :mod:`kiosk.service.assembly` so the CLI and the selftest build the same link the
service uses.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from drivers.errors import DriverError
from drivers.thermometer.frames import Frame, sample_rate_hz
from drivers.thermometer.link import LinkSettings, Thermometer, ThermometerLink
from kiosk.config import Config
from kiosk.core.measure import sampling_plan
from kiosk.devices import Sink
from kiosk.i18n import _

log = logging.getLogger("kiosk.devices.thermometer")
DEVICE = "thermometer"


def port_of(cfg: Config) -> str:
    """``[thermometer] port``, a relative device path taken relative to the config file (as
    every path in the config is; the stand-in config points at the simulator's link)."""
    port = cfg.thermometer.port
    if "://" in port or Path(port).is_absolute() or cfg.source is None:
        return port
    return os.path.normpath(cfg.source.resolve().parent / port)   # not resolve(): keep the link


def link_settings(cfg: Config, **overrides: object) -> LinkSettings:
    th = cfg.thermometer
    values = dict(port=port_of(cfg), protocol=th.protocol, baud=th.baud, mode=th.mode, poll_hz=th.poll_hz,
                  read_timeout_s=th.read_timeout_s)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return LinkSettings(**values)  # type: ignore[arg-type]


def sample_hz(cfg: Config) -> float:
    """Frames a second the configured module delivers (the flow sizes its median window by it)."""
    th = cfg.thermometer
    return sample_rate_hz(th.protocol, th.mode, th.poll_hz)


def describe_plan(cfg: Config) -> str:
    """One line for the log: how many samples make a reading with this module."""
    th = cfg.thermometer
    hz = sample_hz(cfg)
    needed, window = sampling_plan(cfg.temperature, hz)
    return (f"thermometer {th.protocol} on {port_of(cfg)} at {hz:g} frames/s: a reading is the median of "
            f"{needed} samples within {window:g} s")


def start(cfg: Config, sink: Sink) -> Thermometer | None:
    """Start the reader thread reporting to ``sink``; None when no thermometer is configured.

    A port that is missing at start is not an error here: the driver reports a device fault
    (residents go to the volunteer) and keeps reconnecting until the module appears.
    """
    th = cfg.thermometer
    if not th.enabled:
        log.info("no thermometer configured ([thermometer] enabled = false)")
        return None

    def on_sample(frame: Frame) -> None:
        sink.sample_seen(frame.object_c, frame.ambient_c, frame.body_c)

    thermometer = Thermometer(
        link_settings(cfg), on_sample=on_sample,
        on_fault=lambda message: sink.device_fault(DEVICE, message),
        on_recovered=lambda: sink.device_recovered(DEVICE),
        on_bad=lambda err: log.debug("bad thermometer frame: %s", err),
        silence_s=th.silence_fault_s, backoff_min_s=min(0.2, th.reconnect_max_s),
        backoff_max_s=th.reconnect_max_s)
    log.info(describe_plan(cfg))
    return thermometer.start()


def self_check(cfg: Config, seconds: float = 2.0) -> tuple[bool, str]:
    """For `kiosk selftest`: can the configured module be opened and does it send valid frames?"""
    th = cfg.thermometer
    if not th.enabled:
        return False, _("no thermometer configured ([thermometer] enabled = false)")
    bad: list[str] = []
    started = time.monotonic()
    try:
        with ThermometerLink(link_settings(cfg), on_bad=lambda err: bad.append(str(err))) as link:
            frames = list(link.frames(duration_s=seconds, silence_s=th.silence_fault_s))
            baud = link.baud
    except (DriverError, OSError) as exc:
        return False, str(exc)
    elapsed = max(time.monotonic() - started, 1e-6)
    if not frames:
        return False, _("no valid frame from {port} in {seconds:g} s ({bad} bad frames)").format(
            port=port_of(cfg), seconds=seconds, bad=len(bad))
    last = frames[-1]
    value = last.body_c if last.body_c is not None else last.object_c
    kind = _("body") if last.body_c is not None else _("object")
    return True, (_("{protocol} on {port} at {baud} baud: {rate:.1f} frames/s, {bad} bad, last {kind} "
                    "{value:.2f} °C").format(protocol=th.protocol, port=port_of(cfg), baud=baud,
                                             rate=len(frames) / elapsed, bad=len(bad), kind=kind, value=value)
                  + (_(", ambient {ambient:.2f} °C").format(ambient=last.ambient_c)
                     if last.ambient_c is not None else ""))
