"""A door node in its own process for the kill test: real clock, mock pins, a restless household.

Usage: python -m tests.kiosk.door.node_child STATE_DIR SEED. Prints ``seq kind cause`` after each
record is committed (flushed), so the parent knows what the node had promised when it was killed.
"""

from __future__ import annotations

import dataclasses
import random
import sys
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from hardware_mocks.door import ScriptedDoor
from kiosk.clock import SystemClock
from kiosk.door.node import DoorNode
from tests.kiosk.door.support import door_config


def main() -> None:
    root, seed = Path(sys.argv[1]), int(sys.argv[2])
    cfg = door_config(root, buzzer=False)
    cfg = cfg.replace(door=dataclasses.replace(cfg.door, debounce_ms=20, held_open_s=5.0,
                                               quarantine_start="2020-01-01T00:00", quarantine_end="2099-01-01T00:00"))
    factory = MockFactory()
    node = DoorNode(cfg, SystemClock(assume_synced=True), factory,
                    on_commit=lambda seq, rec: print(seq, rec.kind, rec.cause, flush=True))
    door = ScriptedDoor(factory.pin(cfg.door.contact_pin), lambda s: None, factory.pin(cfg.door.tamper_pin), seed)
    rng = random.Random(seed)
    node.start()
    is_open = loop_open = False
    while True:
        node.step(0.005)
        r = rng.random()
        if r < 0.03:
            (door.close if is_open else door.open)(edges=rng.randrange(2, 30))
            is_open = not is_open
        elif r < 0.035:
            (door.mend_loop if loop_open else door.cut_loop)()
            loop_open = not loop_open
        elif r < 0.05:
            door.rattle(edges=rng.randrange(4, 40))


if __name__ == "__main__":
    main()
