"""`kiosk status`: the running kiosk's state, read from its status file (never from the kiosk
itself, the pass log or the GPIO lines, which the service owns)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from kiosk import config as config_mod
from kiosk.statefiles import read_status


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    p.add_argument("--json", action="store_true", help="print the raw status as JSON")


def render(s: dict[str, Any]) -> str:
    lines = [f"kiosk {s.get('kiosk_id', '?')} (gate {s.get('gate', '?')}): "
             + ("running" if s["running"] else f"NOT RUNNING (status {s['age_s']:.0f} s old)"),
             f"  state:        {s.get('state', '?')}",
             f"  on duty:      {s.get('on_duty') or 'nobody'}",
             f"  faults:       {', '.join(f'{k} ({v})' for k, v in (s.get('faults') or {}).items()) or 'none'}",
             f"  pass log:     {s.get('db', '?')} epoch {s.get('db_epoch', '?')}, last seq {s.get('last_seq', '?')}",
             f"  clock synced: {'yes' if s.get('clock_synced') else 'NO'}",
             f"  codes:        {s.get('codes', '?')}",
             f"  disk free:    {s.get('disk_free_mb', '?')} MiB",
             f"  held records: {s.get('held_records', 0)} (waiting for the log to take writes; "
             f"{s.get('lost_records', 0)} lost)",
             f"  version:      {s.get('version', '?')} (pid {s.get('pid', '?')})"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config)
    status = read_status(cfg.status_path)
    print(json.dumps(status, ensure_ascii=False) if args.json else render(status))
    return 0 if status["running"] else 3
