"""`kiosk recover`: re-run the salvage of quarantined (damaged) pass logs by hand.

The kiosk does this by itself at start (kiosk/passlog/recover.py, in a niced child process);
this command is for a technician after a failed or interrupted recovery.
"""

from __future__ import annotations

import argparse

from kiosk import config as config_mod
from kiosk.passlog.quarantine import finish_interrupted, pending
from kiosk.passlog.recover import recover, summary
from kiosk.statefiles import recovered_root


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config)
    finish_interrupted(cfg.db_path)
    todo = pending(cfg.db_path)
    if not todo:
        print("no quarantined pass log waits for recovery")
    for qdir in todo:
        report = recover(qdir, cfg.kiosk.id, recovered_root(cfg.db_path))
        print(summary(qdir, report))
    return 0
