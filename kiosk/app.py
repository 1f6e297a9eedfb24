"""Assemble a kiosk from its configuration: devices first (the relay goes off at once), then the
pass log, then the flow. Used by `kiosk run`, `kiosk demo` and `kiosk selftest`.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

from drivers.gpio import TimerFactory, thread_timer
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.hardware import open_devices
from kiosk.runtime import Kiosk, NoTrustVerifier, Verifier
from kiosk.store import PassLog
from kiosk.voice import Announcer, LogAnnouncer


def open_store(cfg: Config, clock: Clock) -> PassLog:
    return PassLog(cfg.db_path, kiosk_id=cfg.kiosk.id, gate=cfg.kiosk.gate,
                   direction=cfg.kiosk.direction, clock=clock, max_db_mb=cfg.store.max_db_mb)


log = logging.getLogger("kiosk.app")


def make_verifier(cfg: Config, clock: Clock) -> Verifier:
    """The GK1 verifier from [codes]; without a pinned root key nothing can be trusted."""
    if cfg.codes.root_key is None:
        log.warning("codes.root_key is not set: no health code can be verified, so every code is "
                    "refused (unsupported_format) and residents need a volunteer")
        return NoTrustVerifier()
    from kiosk.codes.trust import LAST_GOOD_NAME, TrustStore, load_root_key
    from kiosk.codes.verifier import build
    from kiosk.errors import CodeError, ConfigError
    try:
        root = load_root_key(cfg.codes.root_key)
    except CodeError as exc:
        raise ConfigError(f"codes.root_key: {exc}") from None
    state = cfg.kiosk.state_dir
    trust = TrustStore(root, cfg.codes.bundle or state / "bundle.cbor", state / LAST_GOOD_NAME)
    if trust.bundle is None:
        log.warning("%s", trust.message)
    return build(trust, clock, compound=cfg.kiosk.compound, gate=cfg.kiosk.gate, skew_s=cfg.codes.skew_s,
                 max_payload_bytes=cfg.codes.max_payload_bytes, state_dir=state)


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
        store = open_store(cfg, clock)
    except BaseException:
        devices.close()
        raise
    try:
        verifier = make_verifier(cfg, clock)
    except BaseException:
        devices.close()
        store.close()
        raise
    announcer = make_announcer(cfg)
    kiosk = Kiosk(cfg, clock, store, devices, announcer, verifier=verifier)
    on_commit = getattr(verifier, "on_commit", None)
    if on_commit is not None:
        kiosk.on_commit(on_commit)      # a committed pass uses up its code (replay cache)
    holder.append(kiosk)
    try:
        yield kiosk
    finally:
        devices.close()
        announcer.close()
        store.close()
