"""`kiosk sync [--once]`: upload the backlog, refresh the trust bundle, send a heartbeat.

Logs recovered from a damaged pass log (``<state_dir>/recovered/*.db``) are uploaded too.
Without ``--once`` it keeps going, one cycle every ``[sync] interval_s`` and full-jitter
backoff after failures. With ``--once`` (the systemd timer's oneshot, or a technician
troubleshooting) it tries now — whatever backoff earlier failures saved — runs one cycle, and
exits 0 only if everything was uploaded; otherwise one line says what failed and it exits 1
(the timer tries again at its next run). A backlog larger than one batch shows its progress on
stderr. The pass log is only read; the sync's own state lives in ``<state_dir>/sync-state.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from kiosk import config as config_mod
from kiosk.service import logs
from sync.client import CycleReport, SyncClient
from sync.errors import SyncFailed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    p.add_argument("--once", action="store_true", help="one cycle now (no retries, no waiting), then exit")
    p.add_argument("--db", help="upload this pass log instead of the configured one (e.g. a recovered epoch)")
    p.add_argument("--json", action="store_true", help="with --once: print the cycle report as one JSON line")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def summary(r: CycleReport) -> str:
    q = f", {len(r.quarantined)} quarantined" if r.quarantined else ""
    gaps = f", server reports gaps {r.gaps}" if r.gaps else ""
    offset = "" if r.clock_offset_s is None else f", clock offset {r.clock_offset_s:+.2f} s"
    recovered = "".join(
        f"; recovered log {x['log']}: " + (x["error"] if "error" in x else
                                            f"acked through {x['acked_through']} of {x['last_seq']}"
                                            + (f", lost {x['lost']} reported" if x.get("lost") else ""))
        for x in r.recovered)
    return (f"sync: sent {r.sent} records in {r.batches} batches ({r.stored} new, {r.duplicates} already held{q}), "
            f"acked through {r.acked_through}, backlog {r.backlog if r.backlog is not None else '?'}, "
            f"bundle {r.bundle}{offset}{gaps}{recovered}")


class Progress:
    """``sync: 6000 of 60000 records sent (10 %)`` on stderr at every tenth of a backlog larger
    than one batch (a technician watching a 60,000-record drain sees it move)."""

    def __init__(self) -> None:
        self.shown = 0          # tenths already reported
        self.sent = 0

    def __call__(self, sent: int, total: int) -> None:
        if sent < self.sent:    # the next log (a recovered one) starts from zero
            self.shown = 0
        self.sent = sent
        tenth = sent * 10 // total if total else 10
        if total > sent or self.shown:      # the whole backlog in one batch: the summary says it
            if tenth > self.shown:
                self.shown = tenth
                print(f"sync: {sent} of {total} records sent ({sent * 100 // total} %)", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    logs.setup(verbose=args.verbose, level=logging.INFO)
    cfg = config_mod.load(args.config)
    cfg.require("kiosk.id", "sync.server_url")
    with SyncClient(cfg, db_path=Path(args.db) if args.db else None) as client:
        if args.once:
            client.progress = Progress()
            report = client.cycle()         # now, once: a saved backoff is for the loop, not for a person
            if args.json:
                print(json.dumps(report.as_dict(), ensure_ascii=False))
            elif report.ok:
                print(summary(report))
            if not report.ok:
                raise SyncFailed(f"{report.error} ({report.backlog if report.backlog is not None else '?'} "
                                "records still waiting; nothing is lost)")
            return 0
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        client.run_forever(stop)
    return 0
