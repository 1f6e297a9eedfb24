"""Benchmark: pass-flow decision throughput and pass-log commit latency (synchronous=FULL).

Runs the assembled kiosk (gpiozero mock pins, the real SQLite pass log in a temp dir) with
instant stand-in sensors: each pass is a verified code plus enough thermometer samples for a
reading, pumped through the real loop (flow, executor, COMMIT, relay). Prints passes/s and
commit latency p50/p99.

    .venv/bin/python bench/flow.py [--passes N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk import config as config_mod
from kiosk.clock import FakeClock
from kiosk.core.verdict import CodeVerdict
from kiosk.service.assembly import assembled


class _Timers:
    """Gate pulses end when the bench says so (after each pass), not after real seconds."""

    def __init__(self) -> None:
        self.due: list = []

    def __call__(self, delay_s, fn):
        self.due.append(fn)
        return self

    def cancel(self) -> None:
        self.due.clear()

    def fire(self) -> None:
        due, self.due = self.due, []
        for fn in due:
            fn()


class _Verifier:
    def __init__(self) -> None:
        self.n = 0

    def verify(self, payload: bytes) -> CodeVerdict:
        self.n += 1
        return CodeVerdict(reason="ok", kind="dynamic", colour="green", token_hash=f"{self.n:032x}",
                           holder_ref=f"{self.n:032x}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passes", type=int, default=2000)
    args = ap.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-flow-"))
    cfg = config_mod.from_dict({"kiosk": {"state_dir": str(state)}, "gpio": {"pin_factory": "mock"},
                                # samples and codes come straight from this script, the voice to the log
                                "thermometer": {"enabled": False}, "camera": {"enabled": False},
                                "voice": {"backend": "none"}})
    clock = FakeClock()
    commits: list[float] = []
    timers = _Timers()
    with assembled(cfg, clock, timers) as kiosk:
        verifier = _Verifier()
        store = kiosk.store
        original = store.write

        def timed_write(rows):
            t0 = time.perf_counter()        # one transaction: BEGIN IMMEDIATE … COMMIT
            try:
                return original(rows)
            finally:
                commits.append(time.perf_counter() - t0)

        store.write = timed_write  # type: ignore[method-assign]
        offset = cfg.temperature.skin_offset_c
        t0 = time.perf_counter()
        for _ in range(args.passes):
            kiosk.inbox.code_read(verifier.verify(b"GK1:bench"))
            kiosk.pump()
            for _ in range(cfg.temperature.min_samples + 3):
                clock.advance(1 / 14)
                kiosk.inbox.sample_seen(36.6 - offset, 21.0, None)
            kiosk.pump()
            timers.fire()
        elapsed = time.perf_counter() - t0
        decided = store.last_seq
    q = statistics.quantiles(commits, n=100, method="inclusive")
    print(f"passes decided:       {decided} in {elapsed:.2f} s")
    print(f"decision throughput:  {decided / elapsed:.0f} passes/s (instant stand-in sensors, incl. commit)")
    print(f"commit latency:       p50 {q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms "
          f"(WAL, synchronous=FULL, {state})")


if __name__ == "__main__":
    main()
