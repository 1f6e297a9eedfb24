"""Assemble a kiosk from its configuration: devices first (the relay goes off at once), then the
pass log, then the flow. Used by `kiosk run`, `kiosk demo` and `kiosk selftest`.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from drivers.thermometer import Thermometer
from kiosk import calibration
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.hardware import open_devices
from kiosk.runtime import Kiosk
from kiosk.store import PassLog
from kiosk.thermo import start_thermometer
from kiosk.voice import Announcer, LogAnnouncer


def open_store(cfg: Config, clock: Clock) -> PassLog:
    return PassLog(cfg.db_path, kiosk_id=cfg.kiosk.id, gate=cfg.kiosk.gate,
                   direction=cfg.kiosk.direction, clock=clock, max_db_mb=cfg.store.max_db_mb)


def make_announcer(cfg: Config) -> Announcer:
    return LogAnnouncer(cfg.kiosk.language)


@contextlib.contextmanager
def assembled(cfg: Config, clock: Clock) -> Iterator[Kiosk]:
    """A ready kiosk; on exit the relay is released first and everything is closed."""
    holder: list[Kiosk] = []

    def on_edge(button: str, pressed: bool) -> None:
        if holder:
            holder[0].button_edge(button, pressed)

    devices = open_devices(cfg.gpio, on_edge)
    try:
        store = open_store(cfg, clock)
    except BaseException:
        devices.close()
        raise
    try:
        calibration_c = calibration.offset_c(cfg.calibration_path) if cfg.thermometer.enabled else 0.0
    except BaseException:
        devices.close()
        store.close()
        raise
    announcer = make_announcer(cfg)
    kiosk = Kiosk(cfg, clock, store, devices, announcer, calibration_c=calibration_c)
    holder.append(kiosk)
    thermometer: Thermometer | None = None
    try:
        thermometer = start_thermometer(cfg, kiosk)
        yield kiosk
    finally:
        devices.close()
        if thermometer is not None:
            thermometer.close()
        announcer.close()
        store.close()
