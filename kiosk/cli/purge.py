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
from kiosk.i18n import _
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
        print(_("asked the running kiosk (pid {pid}) to purge at its next idle moment").format(pid=status["pid"]))
        return 0
    clock = SystemClock()
    if not clock.synced():
        raise KioskError(_("the wall clock is not synchronised; purging now could delete the wrong records"))
    with open_store(cfg, clock) as store:
        acked = read_sync_progress(cfg.kiosk.state_dir).acked_through
        before = clock.wall() - cfg.store.keep_acked_days * DAY_S
        deleted = store.purge(before, acked, boot_id=clock.boot_id(),
                              before_mono_ns=int((clock.monotonic() - cfg.store.keep_acked_days * DAY_S) * 1e9))
        waiting = store.count_unacked_before(before, acked)
    print(_("deleted {deleted} acknowledged records older than {days} days; "
            "{waiting} older records still wait for the street server").format(
        deleted=deleted, days=cfg.store.keep_acked_days, waiting=waiting))
    return 0
