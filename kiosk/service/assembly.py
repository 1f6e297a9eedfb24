"""Assemble a kiosk from its configuration: devices first (the relay goes off at once), then the
pass log, then the flow. Used by `kiosk run`, `kiosk demo` and `kiosk selftest`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.gpio import TimerFactory, thread_timer
from drivers.thermometer.link import Thermometer
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.core.records import Record
from kiosk.devices import calibration, gpio, thermometer, voice
from kiosk.devices.camera_boot import CameraBoot
from kiosk.devices.camera_boot import start_soon as start_camera_soon
from kiosk.errors import StoreCorrupt, TrustRootError
from kiosk.passlog import quarantine, shifts
from kiosk.passlog.store import PassLog
from kiosk.service.lateverifier import LateVerifier, check_root_key
from kiosk.service.runtime import Inbox, Kiosk, NoTrustVerifier, Verifier
from kiosk.statefiles import recovered_root


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


if TYPE_CHECKING:   # OpenCV is imported only when a camera is used, after READY (kiosk/devices/camera_boot.py)
    from drivers.camera.capture import FrameSource

log = logging.getLogger("kiosk.service.assembly")


def make_verifier(cfg: Config, clock: Clock) -> Verifier:
    """The GK1 verifier from [codes]; without a pinned root key nothing can be trusted."""
    if cfg.codes.root_key is None:
        log.warning("codes.root_key is not set: no health code can be verified, so every code is "
                    "refused (unsupported_format) and residents need a volunteer")
        return NoTrustVerifier()
    from kiosk.codes.trust import TrustStore, load_root_key
    from kiosk.codes.verifier import build
    from kiosk.errors import CodeError
    try:
        root = load_root_key(cfg.codes.root_key)
    except CodeError as exc:
        raise TrustRootError(f"codes.root_key: {exc}") from None
    state = cfg.kiosk.state_dir
    trust = TrustStore(root, cfg.bundle_path, cfg.last_good_bundle_path)
    if trust.bundle is None:
        log.warning("%s", trust.message)
    return build(trust, clock, compound=cfg.kiosk.compound, gate=cfg.kiosk.gate, skew_s=cfg.codes.skew_s,
                 max_payload_bytes=cfg.codes.max_payload_bytes, state_dir=state)


def verifier_after_ready(cfg: Config, clock: Clock) -> Verifier:
    """The verifier to be built after READY (kiosk/service/lateverifier.py): the root key's cheap
    checks now, the ``cryptography`` work in :meth:`LateVerifier.build`."""
    if cfg.codes.root_key is None:
        return make_verifier(cfg, clock)        # nothing to build; the warning goes out now
    check_root_key(cfg.codes.root_key)
    return LateVerifier(lambda: make_verifier(cfg, clock))


@contextlib.contextmanager
def assembled(cfg: Config, clock: Clock, timer: TimerFactory = thread_timer,
              frame_source: FrameSource | None = None, start_camera: bool = True,
              late_verifier: bool = False) -> Iterator[Kiosk]:
    """A ready kiosk; on exit the relay is released first and everything is closed.

    Order: the GPIO devices first (the relay is driven off before anything else can fail),
    then the pass log, the verifier and the voice, then the kiosk, then the threads that
    report into its inbox (thermometer, camera). ``timer`` schedules the end of each gate
    pulse (tests pass a manual one); ``frame_source`` stands in for the camera (the demo).
    ``start_camera=False``: the camera is set up but started by the caller
    (``kiosk.camera_boot.start()``; `kiosk run` does so once READY is sent). ``late_verifier``:
    ``kiosk.verifier`` is a :class:`LateVerifier` the caller has built after READY — by the
    camera-start thread before it opens the camera (`kiosk run`)."""
    inbox = Inbox(clock)
    devices = gpio.start(cfg, inbox, timer)
    try:
        store, qdir = open_store_or_quarantine(cfg, clock)
    except BaseException:
        devices.close()
        raise
    try:
        verifier = verifier_after_ready(cfg, clock) if late_verifier else make_verifier(cfg, clock)
        calibration_c = calibration.offset_c(cfg.calibration_path) if cfg.thermometer.enabled else 0.0
        announcer = voice.start(cfg, inbox, amp=devices.amp, pin_factory=devices.factory)
    except BaseException:
        devices.close()
        store.close()
        raise
    kiosk = Kiosk(cfg, clock, store, devices, announcer, verifier=verifier, calibration_c=calibration_c,
                  sample_hz=thermometer.sample_hz(cfg), inbox=inbox)
    reader: Thermometer | None = None
    camera_boot: CameraBoot | None = None
    try:
        kiosk.flow.on_duty = shifts.on_duty(store.conn, clock.wall())
        if kiosk.flow.on_duty:
            log.info("volunteer %s is still on duty (shift started before this restart)", kiosk.flow.on_duty[:8])
        if qdir is not None:
            kiosk.record(Record(kind="alarm", t=clock.monotonic(), device="store",
                                detail=f"damaged pass log quarantined as {qdir.name}; new db_epoch "
                                       f"{store.db_epoch}; recovering its records for upload"))
        for q in quarantine.pending(cfg.db_path):
            kiosk.recoveries.append((q, quarantine.spawn_recovery(q, cfg.kiosk.id,
                                                                  recovered_root(cfg.db_path))))
        reader = kiosk.thermometer = thermometer.start(cfg, inbox)
        if cfg.camera.enabled or frame_source is not None:
            prepare = verifier.build if isinstance(verifier, LateVerifier) else None
            camera_boot = kiosk.camera_boot = start_camera_soon(cfg, inbox, verifier, clock.monotonic, frame_source,
                                                                start=start_camera, prepare=prepare)
        yield kiosk
    finally:
        devices.relay.close()     # the gate first
        if camera_boot is not None:
            camera_boot.close()
        if reader is not None:
            reader.close()
        announcer.close()         # its pins and amplifier before the pin factory goes
        devices.close()
        kiosk.executor.writer.close()   # a last try for records held in memory
        store.close()
