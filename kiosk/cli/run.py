"""`kiosk run`: the service loop under systemd (Type=notify, watchdog pinged from the loop).

READY=1 is sent once the devices and the pass log are open; WATCHDOG=1 only from the main loop
after a healthy cycle (never from a side thread, so a hung loop is noticed and restarted);
STOPPING=1 on SIGTERM. SIGUSR1 asks for a retention purge at the next idle moment.
The code verifier is built after READY, in the camera-start thread (kiosk/service/lateverifier.py);
if it cannot be built the service stops and exits 78 with one line, as a bad root key before READY.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

from kiosk import config as config_mod
from kiosk.clock import SystemClock
from kiosk.config import Config
from kiosk.errors import ConfigError
from kiosk.service import logs, rounds
from kiosk.service.assembly import assembled
from kiosk.service.control import ControlServer
from kiosk.service.housekeeping import Housekeeper
from kiosk.service.lateverifier import LateVerifier
from kiosk.service.runtime import Kiosk
from kiosk.service.sdnotify import Notifier
from kiosk.statefiles import control_path

log = logging.getLogger("kiosk.cli.run")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def watchdog_interval(env: dict[str, str] | None = None) -> float:
    """Half of systemd's WatchdogSec (sd_watchdog_enabled(3)); 1 s when not under a watchdog."""
    env = dict(os.environ) if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    return max(0.1, int(usec) / 2e6) if usec.isdigit() and int(usec) > 0 else 1.0


def open_control(kiosk: Kiosk, cfg: Config) -> ControlServer | None:
    """The control socket `kiosk selftest` talks to; without it the gate still works."""
    try:
        return ControlServer(kiosk, control_path(cfg.kiosk.runtime_dir)).start()
    except OSError as exc:
        log.error("no control socket in %s (kiosk selftest will test without the service): %s",
                  cfg.kiosk.runtime_dir, exc)
        return None


def run(args: argparse.Namespace) -> int:
    logs.setup(verbose=args.verbose, level=logging.INFO, background=True)
    cfg = config_mod.load(args.config)
    cfg.require("kiosk.id", "kiosk.compound")   # a fresh install's example config: exit 78, no restart loop
    stop = threading.Event()
    notifier = Notifier()
    failed: list[ConfigError] = []
    with assembled(cfg, SystemClock(), start_camera=False, late_verifier=True) as kiosk:
        late = kiosk.verifier if isinstance(kiosk.verifier, LateVerifier) else None
        if late is not None:
            def verifier_failed(exc: ConfigError) -> None:
                failed.append(exc)
                stop.set()
            late.on_failure = verifier_failed
        kiosk.on_commit(logs.log_decision)      # every decision reaches the journal, with its fields
        keeper = Housekeeper(kiosk, notifier, cfg.status_path,
                             watchdog_every_s=watchdog_interval())
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        signal.signal(signal.SIGUSR1, lambda *_: keeper.request_purge())
        control = open_control(kiosk, cfg)
        publicity = rounds.for_kiosk(kiosk)

        def between_events() -> None:
            keeper.cycle()
            if publicity is not None:
                rounds.step(publicity, kiosk)
            if control is not None:
                control.run_pending()

        log.info("kiosk %s ready (gate %s, log %s, epoch %s, last seq %d)", cfg.kiosk.id, cfg.kiosk.gate,
                 cfg.db_path, kiosk.store.db_epoch, kiosk.store.last_seq)
        notifier.ready(f"gate {cfg.kiosk.gate}, last seq {kiosk.store.last_seq}")
        if kiosk.camera_boot is not None:
            kiosk.camera_boot.start()           # after READY: the verifier, then OpenCV (camera_boot.py)
        elif late is not None:
            threading.Thread(target=late.build, name="verifier-build", daemon=True).start()
        try:
            kiosk.run(stop, on_cycle=between_events)
        finally:
            notifier.stopping()
            keeper.close()
            if control is not None:
                control.close()
            log.info("kiosk %s stopping", cfg.kiosk.id)
    if failed:
        raise failed[0]     # not logged before: kiosk/cli/main.py prints it as the one line, exit 78
    return 0
