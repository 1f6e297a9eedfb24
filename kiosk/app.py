"""Assemble a kiosk from its configuration: devices first (the relay goes off at once), then the
pass log, then the flow. Used by `kiosk run`, `kiosk demo` and `kiosk selftest`.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from drivers.camera import FrameSource
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.hardware import open_devices
from kiosk.runtime import Kiosk
from kiosk.scan import open_feed
from kiosk.store import PassLog
from kiosk.voice import Announcer, LogAnnouncer


def open_store(cfg: Config, clock: Clock) -> PassLog:
    return PassLog(cfg.db_path, kiosk_id=cfg.kiosk.id, gate=cfg.kiosk.gate,
                   direction=cfg.kiosk.direction, clock=clock, max_db_mb=cfg.store.max_db_mb)


def make_announcer(cfg: Config) -> Announcer:
    return LogAnnouncer(cfg.kiosk.language)


@contextlib.contextmanager
def assembled(cfg: Config, clock: Clock, frame_source: FrameSource | None = None) -> Iterator[Kiosk]:
    """A ready kiosk; on exit the relay is released first and everything is closed.

    The camera feed (``[camera]``, or ``frame_source`` when the demo stands in for the
    camera) runs in its own threads and posts payloads and camera faults to the kiosk.
    """
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
    announcer = make_announcer(cfg)
    kiosk = Kiosk(cfg, clock, store, devices, announcer)
    holder.append(kiosk)
    try:
        camera = open_feed(cfg.camera, kiosk, clock.monotonic, frame_source)
    except BaseException:
        devices.close()
        announcer.close()
        store.close()
        raise
    try:
        yield kiosk
    finally:
        if camera is not None:
            camera.close()      # no more events from the camera before the rest goes
        devices.close()
        announcer.close()
        store.close()
