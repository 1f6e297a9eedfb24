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
from kiosk.i18n import _
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
        raise StoreError(_("the kiosk is running (pid {pid}): stop it first (sudo systemctl stop kiosk)").format(
            pid=status.get("pid")))
    db = cfg.db_path
    if not db.exists():
        raise StoreError(_("no pass log at {db}: nothing to retire (the kiosk starts one at its first start)").format(
            db=db))
    who = retire.owner(db, cfg.kiosk.state_dir)
    if who.kiosk_id == cfg.kiosk.id:
        raise StoreError(_("pass log {db} already belongs to kiosk {kiosk!r}: nothing to retire").format(
            db=db, kiosk=cfg.kiosk.id))
    if who.unacked and not args.force:
        raise StoreError(_("{unacked} records of kiosk {kiosk!r} are not on the street server yet: "
                           "upload them first (kiosk.id = {kiosk!r}, then `kiosk sync --once`), "
                           "or pass --force to retire them unsent (they stay in the retired copy)").format(
            unacked=who.unacked, kiosk=who.kiosk_id))
    target = retire.retire(db, cfg.kiosk.state_dir)
    print(_("retired the pass log of kiosk {old!r} (epoch {epoch}, last seq {seq}, {unacked} not acknowledged) "
            "to {target}; the kiosk starts a new log as {new!r}").format(
        old=who.kiosk_id, epoch=who.db_epoch[:8], seq=who.last_seq, unacked=who.unacked, target=target,
        new=cfg.kiosk.id))
    return 0
