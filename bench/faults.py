"""Benchmark: what a full or failing pass log costs a decision (T-DB-6: p99 within +10%).

Times the executor's handling of one pass decision — COMMIT (or hold) and the gate pulse — on
the assembled kiosk (mock pins, the real SQLite log in a temp dir): with a healthy log, then
with the log at its size cap under fail_policy 'hold' (records held in memory; one failed
write per second of retries) and 'deny'. Prints p50/p99 in milliseconds for each.

    .venv/bin/python bench/faults.py [--passes N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk import config as config_mod
from kiosk.clock import FakeClock
from kiosk.service.assembly import assembled
from tests.faults.support import decide_pass, fill_to_cap

STEP_S = 0.5


class _Timers:
    def __call__(self, _delay: float, fn: Any) -> _Timers:
        self.fn = fn
        return self

    def cancel(self) -> None:
        pass


def run(policy: str, full: bool, passes: int) -> list[float]:
    state = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    cfg = config_mod.from_dict({
        "kiosk": {"id": "bench", "state_dir": str(state), "runtime_dir": str(state / "run")},
        "gpio": {"pin_factory": "mock"},
        "store": {"fail_policy": policy, "hold_max_records": 1_000_000},
        "thermometer": {"enabled": False}, "camera": {"enabled": False}, "voice": {"backend": "none"},
    })
    clock = FakeClock()
    timers = _Timers()
    times: list[float] = []
    with assembled(cfg, clock, timers) as kiosk:
        for i in range(50):
            decide_pass(kiosk, f"warm{i}")
        if full:
            fill_to_cap(kiosk.store, clock)
        for i in range(passes):
            clock.advance(STEP_S)
            t0 = time.perf_counter()
            decide_pass(kiosk, f"p{i}")
            kiosk.pump()                     # the loop's retry of held records is part of the cost
            times.append((time.perf_counter() - t0) * 1000)
            if getattr(timers, "fn", None):
                timers.fn()
    return times


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--passes", type=int, default=3000)
    args = p.parse_args()
    for label, policy, full in (("healthy log", "deny", False), ("log full, hold", "hold", True),
                                ("log full, deny", "deny", True)):
        t = sorted(run(policy, full, args.passes))
        p50, p99 = statistics.median(t), t[int(len(t) * 0.99)]
        print(f"{label:16s} decision p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  ({args.passes} passes)")


if __name__ == "__main__":
    main()
