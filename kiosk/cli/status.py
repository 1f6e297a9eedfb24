"""`kiosk status`: the running kiosk's state, read from its status file (never from the kiosk
itself, the pass log or the GPIO lines, which the service owns)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from kiosk import config as config_mod
from kiosk import i18n
from kiosk.i18n import _
from kiosk.statefiles import read_status


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    p.add_argument("--json", action="store_true", help="print the raw status as JSON")


def render(s: dict[str, Any]) -> str:
    """The status for a person, in the current language (``--json`` prints the file as it is)."""
    faults = ", ".join(f"{k} ({v})" for k, v in (s.get("faults") or {}).items())
    head = (_("kiosk {kiosk} (gate {gate}): running") if s["running"] else
            _("kiosk {kiosk} (gate {gate}): NOT RUNNING (status {age:.0f} s old)"))
    rows = [(_("state"), str(s.get("state", "?"))),
            (_("on duty"), str(s.get("on_duty") or _("nobody"))),
            (_("faults"), faults or _("none")),
            (_("pass log"), _("{db} epoch {epoch}, last seq {seq}").format(
                db=s.get("db", "?"), epoch=s.get("db_epoch", "?"), seq=s.get("last_seq", "?"))),
            (_("clock synced"), _("yes") if s.get("clock_synced") else _("NO")),
            (_("codes"), str(s.get("codes", "?"))),
            (_("disk free"), _("{mb} MiB").format(mb=s.get("disk_free_mb", "?"))),
            (_("held records"), _("{held} (waiting for the log to take writes; {lost} lost)").format(
                held=s.get("held_records", 0), lost=s.get("lost_records", 0))),
            (_("version"), _("{version} (pid {pid})").format(version=s.get("version", "?"), pid=s.get("pid", "?")))]
    width = max(i18n.columns(label) for label, _v in rows) + 2
    return "\n".join([head.format(kiosk=s.get("kiosk_id", "?"), gate=s.get("gate", "?"), age=s.get("age_s", 0)),
                      *(f"  {i18n.ljust(label + ':', width)}{value}" for label, value in rows)])


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config)
    status = read_status(cfg.status_path)
    print(json.dumps(status, ensure_ascii=False) if args.json else render(status))
    return 0 if status["running"] else 3
