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
from kiosk.i18n import _
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
    """One cycle for a person, in the current language (``--json`` prints the report itself)."""
    q = _(", {n} quarantined").format(n=len(r.quarantined)) if r.quarantined else ""
    gaps = _(", server reports gaps {gaps}").format(gaps=r.gaps) if r.gaps else ""
    offset = "" if r.clock_offset_s is None else _(", clock offset {offset:+.2f} s").format(offset=r.clock_offset_s)
    recovered = "".join(
        _("; recovered log {log}: ").format(log=x["log"])
        + (x["error"] if "error" in x else
           _("acked through {acked} of {last}").format(acked=x["acked_through"], last=x["last_seq"])
           + (_(", lost {lost} reported").format(lost=x["lost"]) if x.get("lost") else ""))
        for x in r.recovered)
    return _("sync: sent {sent} records in {batches} batches ({stored} new, {duplicates} already held{q}), "
             "acked through {acked}, backlog {backlog}, bundle {bundle}").format(
        sent=r.sent, batches=r.batches, stored=r.stored, duplicates=r.duplicates, q=q, acked=r.acked_through,
        backlog=r.backlog if r.backlog is not None else "?", bundle=r.bundle) + offset + gaps + recovered


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
                print(_("sync: {sent} of {total} records sent ({pct} %)").format(
                    sent=sent, total=total, pct=sent * 100 // total), file=sys.stderr, flush=True)


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
                raise SyncFailed(_("{error} ({backlog} records still waiting; nothing is lost)").format(
                    error=report.error, backlog=report.backlog if report.backlog is not None else "?"))
            return 0
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        client.run_forever(stop)
    return 0
