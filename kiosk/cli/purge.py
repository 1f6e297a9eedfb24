"""`kiosk purge`: delete acknowledged records past retention now.

The pass log has one writer. If the kiosk is running, it is asked to purge (SIGUSR1) at its
next idle moment; if not, this command is the writer and purges directly.
"""

from __future__ import annotations

import argparse
import os
import signal

from kiosk import config as config_mod
from kiosk.clock import SystemClock
from kiosk.errors import KioskError
from kiosk.service.assembly import open_store
from kiosk.service.housekeeping import DAY_S
from kiosk.statefiles import read_status, read_sync_progress


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config)
    try:
        status = read_status(cfg.status_path)
    except KioskError:
        status = {"running": False}
    if status["running"]:
        os.kill(int(status["pid"]), signal.SIGUSR1)
        print(f"asked the running kiosk (pid {status['pid']}) to purge at its next idle moment")
        return 0
    clock = SystemClock()
    if not clock.synced():
        raise KioskError("the wall clock is not synchronised; purging now could delete the wrong records")
    with open_store(cfg, clock) as store:
        acked = read_sync_progress(cfg.kiosk.state_dir).acked_through
        before = clock.wall() - cfg.store.keep_acked_days * DAY_S
        deleted = store.purge(before, acked, boot_id=clock.boot_id(),
                              before_mono_ns=int((clock.monotonic() - cfg.store.keep_acked_days * DAY_S) * 1e9))
        waiting = store.count_unacked_before(before, acked)
    print(f"deleted {deleted} acknowledged records older than {cfg.store.keep_acked_days} days; "
          f"{waiting} older records still wait for the street server")
    return 0
