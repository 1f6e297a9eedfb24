"""Helpers shared by the fault-injection tests and their child processes (phase 2 reuses them).

``check_log`` is the one verdict on a pass log after a fault: integrity, gap-free seqs, the
epoch. ``fill_to_cap`` brings a live log to its size cap with real rows, the way a full card
does, so the next insert fails with SQLITE_FULL.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.core import actions as A
from kiosk.core.records import Reading, Record
from kiosk.core.verdict import CodeVerdict
from kiosk.errors import StoreFull
from kiosk.passlog.store import PassLog
from kiosk.service.runtime import Kiosk


@dataclass
class LogCheck:
    integrity: str
    seqs: list[int]
    db_epoch: str
    rows: list[dict[str, Any]]

    @property
    def gap_free(self) -> bool:
        return self.seqs == list(range(self.seqs[0], self.seqs[0] + len(self.seqs))) if self.seqs else True


def check_log(path: Path) -> LogCheck:
    """Open a (closed) pass log read-write as a restart would, and report on it."""
    conn = sqlite3.connect(str(path))
    conn.row_factory = sqlite3.Row
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        rows = [dict(r) for r in conn.execute("SELECT * FROM records ORDER BY seq")]
        epoch = conn.execute("SELECT value FROM meta WHERE key = 'db_epoch'").fetchone()[0]
    finally:
        conn.close()
    return LogCheck(integrity, [r["seq"] for r in rows], epoch, rows)


def with_store(cfg: Config, **store: Any) -> Config:
    return cfg.replace(store=dataclasses.replace(cfg.store, **store))


def green(token: str) -> CodeVerdict:
    return CodeVerdict(reason="ok", kind="dynamic", colour="green", kid="k1", issuer="street",
                       token_hash=token, holder_ref=f"h{token}")


def a_pass(token: str, clock: Clock) -> Record:
    return Record(kind="pass", t=clock.monotonic(), decision="pass", cause="ok", verdict=green(token),
                  reading=Reading(36.6, 5, 0.1, 20.0, "normal", 36.1))


def decide_pass(kiosk: Kiosk, token: str) -> None:
    """What the flow emits for a normal reading on a green code, run by the real executor."""
    record = a_pass(token, kiosk.clock)
    assert record.verdict is not None
    kiosk.executor.run([A.Store(record, on_commit=(A.PulseGate(), A.UseCode(record.verdict)))])


def fill_to_cap(store: PassLog, clock: Clock) -> int:
    """Cap the log at its current size and fill it with small real rows until SQLITE_FULL."""
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    n = 0
    while True:
        try:
            store.append(Record(kind="alarm", t=clock.monotonic(), device="filler"))
        except StoreFull:
            return n
        n += 1


def space_returns(store: PassLog) -> None:
    store.conn.execute(f"PRAGMA max_page_count = {store.max_pages}")


def relay_ons(kiosk: Kiosk) -> int:
    """How many times the relay pin went high (each pulse or hold), counted from the GPIO pin
    journal (drivers/gpio.py): the record of every change. The mock pin's own ``states`` keeps
    only its recent changes (a long run would otherwise grow ~1 KB a pass, issue 17)."""
    journal = kiosk.cfg.gpio.mock_journal
    assert journal is not None, "counting relay pulses needs [gpio] mock_journal"
    relay = kiosk.cfg.gpio.relay_pin
    states = [line["state"] for line in map(json.loads, Path(journal).read_text().splitlines())
              if line["pin"] == relay]
    return sum(1 for a, b in itertools.pairwise(states) if b and not a)
