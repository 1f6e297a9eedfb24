"""`kiosk run`: the service loop under systemd (Type=notify, watchdog pinged from the loop)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from kiosk import config as config_mod
from kiosk import logs
from kiosk.app import assembled
from kiosk.clock import SystemClock
from kiosk.sdnotify import Notifier

log = logging.getLogger("kiosk.service")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def run(args: argparse.Namespace) -> int:
    logs.setup(verbose=args.verbose, level=logging.INFO)
    cfg = config_mod.load(args.config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    notifier = Notifier()
    with assembled(cfg, SystemClock()) as kiosk:
        log.info("kiosk %s ready (gate %s, log %s, epoch %s, last seq %d)", cfg.kiosk.id, cfg.kiosk.gate,
                 cfg.db_path, kiosk.store.db_epoch, kiosk.store.last_seq)
        notifier.ready(f"gate {cfg.kiosk.gate}")
        try:
            kiosk.run(stop, on_cycle=notifier.watchdog)
        finally:
            notifier.stopping()
    return 0
