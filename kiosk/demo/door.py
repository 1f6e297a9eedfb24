"""`kiosk door demo`: a day at two quarantined households' doors, ending with the office's board.

Everything real but the pins and the time: gpiozero's MockFactory pins driven by a scripted
household (hardware_mocks/door.py), the node's loop and pass log, `kiosk sync`'s client, a
street server on 127.0.0.1 with its own SQLite database, all on one FakeClock so a day takes
seconds. Household A opens for a delivery inside its window, later outside it, once leaves the
door open, and has its daily temperature visit; household B's sensor cable is cut, then its node
dies (no stop record, no more heartbeats) and its visit is missed. Every node record is
uploaded, then everything is uploaded again: the server must hold each record once and raise
each alert once.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from hardware_mocks.door import ScriptedDoor
from kiosk import config as config_mod
from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.door.node import DoorNode
from kiosk.door.visits import Visit, queue_visit
from street.doors import board as door_board
from street.registry.places import Place
from street.server import StreetServer
from sync.client import SyncClient
from sync.logreader import LogReader
from sync.protocol import record_digest, wire_record

CN = timezone(timedelta(hours=8))
HOUSEHOLDS = {"door-a": "hh-" + "a1" * 16, "door-b": "hh-" + "b2" * 16}


def _local(day: datetime, hh: int, mm: int = 0) -> float:
    return day.replace(hour=hh, minute=mm).timestamp()


class _Node:
    def __init__(self, root: Path, node_id: str, server: StreetServer, clock: FakeClock) -> None:
        secret = root / f"{node_id}.secret"
        secret.write_text(server.db.add_kiosk(node_id, Place(street="s1", compound="c1", gate=node_id)) + "\n")
        secret.chmod(0o600)
        self.cfg: Config = config_mod.from_dict({
            "kiosk": {"id": node_id, "compound": "c1", "state_dir": str(root / node_id / "state"),
                      "runtime_dir": str(root / node_id / "run")},
            "gpio": {"pin_factory": "mock"},
            "sync": {"server_url": server.url, "secret_file": str(secret)},
            "door": {"household": HOUSEHOLDS[node_id], "door": "front", "quarantine_start": "2026-12-01T00:00",
                     "quarantine_end": "2026-12-15T00:00", "windows": "08:00-08:30,18:00-18:20",
                     "tamper_pin": 21, "buzzer_pin": 16, "held_open_s": 120.0},
        })
        self.factory = MockFactory()
        self.node = DoorNode(self.cfg, clock, self.factory)
        self.door = ScriptedDoor(self.factory.pin(20), clock.advance, self.factory.pin(21))
        self.client = SyncClient(self.cfg, clock, sleep=lambda s: None)
        self.alive = True

    def close(self) -> None:
        self.node.close()
        self.client.close()
        self.factory.close()


def play(json_mode: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="door-demo-"))
    day = datetime(2026, 12, 5, tzinfo=CN)
    clock = FakeClock(wall=_local(day, 7, 50))
    server = StreetServer(root / "street.db", clock=clock).start()
    nodes = {n: _Node(root, n, server, clock) for n in HOUSEHOLDS}
    events: dict[str, int] = {}
    try:
        for n in nodes.values():
            n.node.start()

        def run_for(seconds: float, tick: float = 0.1) -> None:
            end = clock.monotonic() + seconds
            while clock.monotonic() < end:
                clock.advance(min(tick, end - clock.monotonic()))
                for n in nodes.values():
                    if n.alive:
                        for rec in n.node.step(0):
                            events[rec.kind] = events.get(rec.kind, 0) + 1
                            if not json_mode:
                                local = datetime.fromtimestamp(clock.wall(), CN).strftime("%H:%M:%S")
                                say(f"{local} {n.cfg.kiosk.id}: {rec.kind} ({rec.cause}"
                                    f"{', ' + rec.detail if rec.detail and rec.kind != 'door_watch' else ''})")

        def sync() -> None:
            run_for(1.5)                        # the running nodes refresh their status files (the heartbeat's)
            for n in nodes.values():
                if n.alive:
                    n.client.run_once(deadline_s=30)

        def at(hh: int, mm: int = 0) -> None:
            clock.advance(max(0.0, _local(day, hh, mm) - clock.wall()))

        a, b = nodes["door-a"], nodes["door-b"]
        run_for(1)
        a.door.rattle(edges=48)                 # a knock: dozens of edges in 50 ms, no event
        run_for(1)
        at(8, 10)
        a.door.open()                           # the delivery, inside the window
        run_for(40)
        a.door.close()
        run_for(2)
        at(9, 30)                               # the daily temperature visit at A's door (B's is missed)
        queue_visit(a.cfg.kiosk.state_dir, Visit(36.6, "grid3-07", ("mask", "leaflet"), clock.wall()))
        run_for(2)
        sync()
        at(11, 0)
        a.door.open()                           # outside the window: an alert
        run_for(15)
        a.door.close()
        run_for(2)
        at(13, 0)
        b.door.cut_loop()                       # the sensor cable cut: tamper
        run_for(2)
        b.door.mend_loop()
        run_for(2)
        sync()
        at(15, 0)
        b.alive = False                         # node B dies: no stop record, no more heartbeats
        at(15, 30)
        sync()
        at(18, 5)
        a.door.open()                           # inside the window but left open
        run_for(a.cfg.door.held_open_s + 10, tick=1.0)
        a.door.close()
        run_for(2)
        sync()
        server.db.door_sweep()                  # the board's own sweep: B is lost
        # everything again, from scratch: the server must keep each record once
        for n in nodes.values():
            n.client.state.epochs.clear()
            n.client.run_once(deadline_s=30)
        first_alert = server.db.rows("SELECT id FROM door_alerts WHERE kind = 'opened_outside_window'")
        if first_alert:
            server.db.door_acknowledge(int(first_alert[0][0]), "duty officer 3", "phoned the household: took in a "
                                       "parcel; reminded them of the delivery window")
        board = server.db.read(lambda tx: door_board.load(tx, clock.wall(), CN))
        shown = door_board.summary(board)
        local_records = 0
        server_records = 0
        duplicates = 0
        for n in nodes.values():
            with LogReader(n.cfg.db_path, n.cfg.kiosk.id) as reader:
                mine = {(r["db_epoch"], r["seq"]): record_digest(wire_record(dict(r)))
                        for r in reader.conn.execute("SELECT * FROM records")}
            rows = server.db.rows("SELECT db_epoch, seq, digest FROM records WHERE kiosk_id = ?", (n.cfg.kiosk.id,))
            held = {(r[0], r[1]): r[2] for r in rows}
            local_records += len(mine)
            server_records += sum(1 for k, d in held.items() if mine.get(k) == d)
            duplicates += len(rows) - len(held) + server.db.duplicate_keys(n.cfg.kiosk.id)
        alerts: dict[str, int] = {}
        for kind, count in server.db.rows("SELECT kind, COUNT(*) FROM door_alerts GROUP BY kind"):
            alerts[str(kind)] = int(count)
        redelivered = int(server.db.rows("SELECT COALESCE(SUM(redelivered), 0) FROM streams")[0][0])
        acked = server.db.rows("SELECT COUNT(*) FROM door_alerts WHERE acked_by IS NOT NULL")[0][0]
        return {"events": local_records, "by_kind": dict(sorted(events.items())), "alerts": alerts,
                "acknowledged": int(acked), "server_events": server_records, "duplicates": duplicates,
                "redelivered": redelivered,
                "board": shown}
    finally:
        for n in nodes.values():
            n.close()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

