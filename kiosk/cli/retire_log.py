"""`kiosk retire-log`: after a deliberate change of ``[kiosk] id``, move the old id's pass log aside.

The kiosk refuses to write a log that belongs to another id (its records are keyed by id on the
street server), and says so at start. This is the documented way out: with the kiosk stopped, the
old log and everything bound to the old id go, unchanged, to ``<state_dir>/retired/<time>-<old id>/``
(kiosk/passlog/retire.py) and the kiosk starts a new log under the new id. Records the street
server has not acknowledged are not retired without ``--force``: upload them first under the old id.
"""

from __future__ import annotations

import argparse

from kiosk import config as config_mod
from kiosk.errors import KioskError, StoreError
from kiosk.passlog import retire
from kiosk.statefiles import read_status


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    p.add_argument("--force", action="store_true",
                   help="retire it even though the street server has not acknowledged all its records")


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config)
    cfg.require("kiosk.id")
    try:
        status = read_status(cfg.status_path)
    except KioskError:
        status = None
    if status is not None and status.get("running"):
        raise StoreError(f"the kiosk is running (pid {status.get('pid')}): stop it first (sudo systemctl stop kiosk)")
    db = cfg.db_path
    if not db.exists():
        raise StoreError(f"no pass log at {db}: nothing to retire (the kiosk starts one at its first start)")
    who = retire.owner(db, cfg.kiosk.state_dir)
    if who.kiosk_id == cfg.kiosk.id:
        raise StoreError(f"pass log {db} already belongs to kiosk {cfg.kiosk.id!r}: nothing to retire")
    if who.unacked and not args.force:
        raise StoreError(f"{who.unacked} records of kiosk {who.kiosk_id!r} are not on the street server yet: "
                         f"upload them first (kiosk.id = {who.kiosk_id!r}, then `kiosk sync --once`), "
                         "or pass --force to retire them unsent (they stay in the retired copy)")
    target = retire.retire(db, cfg.kiosk.state_dir)
    print(f"retired the pass log of kiosk {who.kiosk_id!r} (epoch {who.db_epoch[:8]}, last seq {who.last_seq}, "
          f"{who.unacked} not acknowledged) to {target}; the kiosk starts a new log as {cfg.kiosk.id!r}")
    return 0
