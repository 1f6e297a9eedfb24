"""Assemble a kiosk from its configuration: devices first (the relay goes off at once), then the
pass log, then the flow. Used by `kiosk run`, `kiosk demo` and `kiosk selftest`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from drivers.gpio import TimerFactory, thread_timer
from kiosk.clock import Clock
from kiosk import quarantine
from kiosk.config import Config
from kiosk.errors import StoreCorrupt
from kiosk.hardware import open_devices
from kiosk.records import Record
from kiosk.runtime import Kiosk
from kiosk.store import PassLog
from kiosk.voice import Announcer, LogAnnouncer


def open_store(cfg: Config, clock: Clock) -> PassLog:
    return PassLog(cfg.db_path, kiosk_id=cfg.kiosk.id, gate=cfg.kiosk.gate,
                   direction=cfg.kiosk.direction, clock=clock, max_db_mb=cfg.store.max_db_mb,
                   keep_free_pct=cfg.store.keep_free_pct)


def open_store_or_quarantine(cfg: Config, clock: Clock) -> tuple[PassLog, Path | None]:
    """Open the pass log; a damaged one is quarantined whole and a new log (new db_epoch) is
    started, so the gate keeps working (T-DB-7). Returns the log and the quarantine dir, if any."""
    finished = quarantine.finish_interrupted(cfg.db_path)   # a crash came between the renames
    try:
        return open_store(cfg, clock), (finished[-1] if finished else None)
    except StoreCorrupt as exc:
        qdir = quarantine.quarantine(cfg.db_path, str(exc), clock.wall())
        return open_store(cfg, clock), qdir


def make_announcer(cfg: Config) -> Announcer:
    return LogAnnouncer(cfg.kiosk.language)


@contextlib.contextmanager
def assembled(cfg: Config, clock: Clock, timer: TimerFactory = thread_timer) -> Iterator[Kiosk]:
    """A ready kiosk; on exit the relay is released first and everything is closed.

    ``timer`` schedules the end of each gate pulse (tests pass a manual one)."""
    holder: list[Kiosk] = []

    def on_edge(button: str, pressed: bool) -> None:
        if holder:
            holder[0].button_edge(button, pressed)

    devices = open_devices(cfg.gpio, on_edge, timer)
    try:
        store, qdir = open_store_or_quarantine(cfg, clock)
    except BaseException:
        devices.close()
        raise
    announcer = make_announcer(cfg)
    kiosk = Kiosk(cfg, clock, store, devices, announcer)
    holder.append(kiosk)
    if qdir is not None:
        kiosk.record(Record(kind="alarm", t=clock.monotonic(), device="store",
                            detail=f"damaged pass log quarantined as {qdir.name}; new db_epoch {store.db_epoch}; "
                                   "recovering its records for upload"))
    for q in quarantine.pending(cfg.db_path):
        kiosk.recoveries.append((q, quarantine.spawn_recovery(q, cfg.kiosk.id, quarantine.recovered_root(cfg.db_path))))
    try:
        yield kiosk
    finally:
        devices.close()
        announcer.close()
        kiosk.executor.writer.close()
        store.close()
