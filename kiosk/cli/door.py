"""`kiosk door run|demo`: the door-sensor node of a household in home quarantine.

``run`` is the node's service (systemd/kiosk-door.service, Type=notify with the watchdog pinged
from its loop): it needs kiosk.id, door.household and the quarantine period set in the file.
``demo`` plays a day at two doors on stand-in pins against an embedded street server and ends
with what the office's quarantine board shows; with ``--json`` the last line is one JSON object
with at least ``events``, ``alerts``, ``server_events`` and ``duplicates``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time

from kiosk import config as config_mod
from kiosk.clock import SystemClock
from kiosk.i18n import N_, _
from kiosk.service import logs
from kiosk.service.sdnotify import Notifier

log = logging.getLogger("kiosk.door")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = sub.add_parser("run", help="run the door node's service")
    r.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    r.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    v = sub.add_parser("visit", help="record the daily temperature visit at this door (thermometer, mask, leaflet)")
    v.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    v.add_argument("--temp", type=float, required=True, help="the household's reading in °C (hand thermometer)")
    v.add_argument("--staff", required=True, help="your staff reference from the office's roster (not a name)")
    v.add_argument("--mask", action="store_true", help="masks were handed over")
    v.add_argument("--leaflet", action="store_true", help="the leaflet was handed over")
    v.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the running node to commit it")
    d = sub.add_parser("demo", help="a day at two doors on stand-in pins, ending with the office's board")
    d.add_argument("--json", action="store_true", help="end with one JSON summary line")


# what a visitor hands over, as the visit record names it → what a person reads
ITEMS = {"mask": N_("mask"), "leaflet": N_("leaflet")}


def run(args: argparse.Namespace) -> int:
    if args.action == "demo":
        return _demo(args)
    if args.action == "visit":
        return _visit(args)
    return _run(args)


def _visit(args: argparse.Namespace) -> int:
    from kiosk.door.visits import Visit, queue_visit

    cfg = config_mod.load(args.config)
    cfg.require("kiosk.id", "door.household")
    items = tuple(i for i, on in (("mask", args.mask), ("leaflet", args.leaflet)) if on)
    path = queue_visit(cfg.kiosk.state_dir, Visit(args.temp, args.staff, items, SystemClock().wall()))
    deadline = time.monotonic() + max(0.0, args.wait)
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)         # a person waits at the door for the answer; the node takes spooled visits each second
    if path.exists():
        print(_("visit queued in {dir}: the door node is not running; it records the visit when it starts").format(
            dir=path.parent))
    else:
        handed = ", ".join(_(ITEMS[i]) for i in items) or _("nothing")
        print(_("visit recorded: {temp:.1f} °C, handed {items}").format(temp=args.temp, items=handed))
    return 0


def _run(args: argparse.Namespace) -> int:
    from drivers.gpio import close_factory, make_pin_factory
    from kiosk.door.node import DoorNode

    logs.setup(verbose=args.verbose, level=logging.INFO)
    cfg = config_mod.load(args.config)
    cfg.require("kiosk.id", "door.household", "door.quarantine_start", "door.quarantine_end")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    notifier = Notifier()
    factory = make_pin_factory(cfg.gpio.pin_factory, cfg.gpio.mock_journal)
    node = DoorNode(cfg, SystemClock(), factory,
                    on_commit=lambda seq, rec: log.info("seq %d %s %s %s", seq, rec.kind, rec.cause, rec.detail or ""))
    last_ping = [0.0]

    def between() -> None:
        if time.monotonic() - last_ping[0] >= 5.0:
            last_ping[0] = time.monotonic()
            notifier.watchdog()

    try:
        log.info("door node %s watching door %s (log %s)", cfg.kiosk.id, cfg.door.door, cfg.db_path)
        notifier.ready(f"door {cfg.door.door}")
        node.run(stop, on_cycle=between)
    finally:
        notifier.stopping()
        node.close()
        close_factory(factory)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from kiosk.demo.door import play

    logs.setup(level=logging.ERROR)
    summary = play(json_mode=args.json)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print("\n" + _("{events} node records; the street server holds {held} of them, "
                   "{duplicates} duplicates (everything was uploaded twice)").format(
        events=summary["events"], held=summary["server_events"], duplicates=summary["duplicates"]))
    print(_("alerts: {alerts} ({acknowledged} acknowledged)").format(
        alerts=", ".join(f"{k} {v}" for k, v in sorted(summary["alerts"].items())),
        acknowledged=summary["acknowledged"]))
    print(_("quarantine board:"))
    for compound, homes in summary["board"]["by_compound"].items():
        for h in homes:
            print(f"  {compound}  {h['household'][:11]}…  {h['status']:<9}  " + _(
                "openings today {openings}  visit {visit}  alerts waiting: {alerts}").format(
                openings=h["openings_today"], visit=_("done") if h["visit_today"] else _("MISSING"),
                alerts=", ".join(h["alerts"]) or _("none")))
    return 0
