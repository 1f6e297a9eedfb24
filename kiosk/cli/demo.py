"""`kiosk demo`: the whole kiosk on stand-in hardware, with a scripted crowd at the gate.

The director (kiosk/demo/director.py) acts out each resident of kiosk/demo/crowd.py through
the stand-ins while the real kiosk loop decides, syncing to an embedded street server
(kiosk/demo/street.py). One line per decision, then a summary; with ``--json`` the last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging

from kiosk.demo.director import play
from kiosk.service import logs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--residents", type=int, default=20, help="how many residents come to the gate (default 20)")
    p.add_argument("--seed", type=int, default=1, help="seed of the crowd and the sensor noise")
    p.add_argument("--json", action="store_true", help="end with one JSON summary line")
    p.add_argument("--db", help="keep the pass log here (appends across runs); default: a new temp dir")
    p.add_argument("--config", help="a stand-in configuration (gpio.pin_factory must be 'mock')")


def run(args: argparse.Namespace) -> int:
    logs.setup(level=logging.ERROR)
    summary = play(args)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"\n{summary['passes']} decisions ({summary['records']} records) in {summary['db']}")
    print("by decision: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["by_decision"].items())))
    print("by cause:    " + ", ".join(f"{k} {v}" for k, v in sorted(summary["by_cause"].items())))
    print(f"decision latency (last input → committed, gate moving): p50 {summary['latency_ms']['p50']} ms, "
          f"p95 {summary['latency_ms']['p95']} ms")
    print(f"street server: holds {summary['server_records']} records of this kiosk, {summary['duplicates']} "
          "duplicates — exactly the pass log")
    return 0
