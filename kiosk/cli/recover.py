"""`kiosk recover`: re-run the salvage of quarantined (damaged) pass logs by hand.

The kiosk does this by itself at start (kiosk/passlog/recover.py, in a niced child process);
this command is for a technician after a failed or interrupted recovery.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kiosk import config as config_mod
from kiosk.i18n import _
from kiosk.passlog.quarantine import finish_interrupted, pending
from kiosk.passlog.recover import recover
from kiosk.statefiles import recovered_root


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config)
    finish_interrupted(cfg.db_path)
    todo = pending(cfg.db_path)
    if not todo:
        print(_("no quarantined pass log waits for recovery"))
    for qdir in todo:
        report = recover(qdir, cfg.kiosk.id, recovered_root(cfg.db_path))
        print(summary(qdir, report))
    return 0


def summary(qdir: Path, report: dict[str, Any]) -> str:
    """What was salvaged from ``qdir``, for the technician (the kiosk's own child process logs
    kiosk.passlog.recover.summary, in English, to the journal)."""
    if not report["epochs"]:
        return _("{name}: nothing recoverable ({pages} pages read)").format(name=qdir.name, pages=report["pages"])
    parts = [_("epoch {epoch}: {rows} records, seq {first}..{last}").format(
        epoch=e["db_epoch"], rows=e["rows"], first=e["first_seq"], last=e["last_seq"])
        + (_(", missing {missing}").format(missing=e["missing"]) if e["missing"] else "") for e in report["epochs"]]
    return f"{qdir.name}: " + "; ".join(parts)
