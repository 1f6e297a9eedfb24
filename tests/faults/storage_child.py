"""A kiosk process whose storage fails under it: the child side of test_storage_faults.py.

It assembles the real kiosk (mock pins, the real pass log, a fake clock), makes passes, then
breaks the storage for a stretch of passes and mends it, and prints one JSON line saying what
happened: which seqs the kiosk reported committed (commit listeners), how often the gate
opened, when the first write failed and when the alarm was up, and the log as reopened.

Faults (docs/reliability.md §1.4, §6, §5):

* ``enospc-fs``: the state dir is a tiny tmpfs (mounted by the parent inside ``unshare -m``);
  a ballast file fills it and is deleted when space returns — real ENOSPC from the kernel;
* ``cap``: the log's ``max_page_count`` is its current size (SQLite's own SQLITE_FULL);
* ``fiu-pwrite`` / ``fiu-fdatasync``: libfiu (run under ``fiu-run -x``) makes ``pwrite`` fail
  with ENOSPC or ``fdatasync`` with EIO at random, enabled and disabled from here through
  libfiu's C API.

    python -m tests.faults.storage_child --dir D --journal J --fault cap --passes 600
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk import config as config_mod
from kiosk.clock import FakeClock
from kiosk.errors import StoreError
from kiosk.service.assembly import assembled
from tests.faults.support import check_log, decide_pass, fill_to_cap, relay_ons, space_returns

STEP_S = 0.5          # between passes: the loop retries held records every second


class Timers:
    """Gate pulses end when the test says so (after each pass)."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, _delay: float, fn: Callable[[], None]) -> Timers:
        self.pending.append(fn)
        return self

    def cancel(self) -> None:
        pass

    def fire(self) -> None:
        due, self.pending = self.pending, []
        for fn in due:
            fn()


class Fault:
    def __init__(self, kind: str, state_dir: Path, probability: float) -> None:
        self.kind, self.state_dir, self.p = kind, state_dir, probability
        self.ballast = state_dir / "ballast"
        self.lib: Any = None
        if kind.startswith("fiu-"):
            self.lib = ctypes.CDLL(None)        # libfiu, loaded by fiu-run's preload
            self.lib.fiu_enable_random.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p,
                                                   ctypes.c_uint, ctypes.c_float]
            self.lib.fiu_disable.argtypes = [ctypes.c_char_p]
            self.name, self.errno_ = {"fiu-pwrite": (b"posix/io/rw/pwrite", errno.ENOSPC),
                                      "fiu-fdatasync": (b"posix/io/sync/fdatasync", errno.EIO)}[kind]

    def start(self, kiosk: Any) -> None:
        if self.kind == "enospc-fs":
            with open(self.ballast, "wb") as f:
                chunk = b"\0" * 65536
                try:
                    while True:
                        f.write(chunk)
                        f.flush()
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        elif self.kind == "cap":
            fill_to_cap(kiosk.store, kiosk.clock)
        else:
            if self.lib.fiu_enable_random(self.name, 1, ctypes.c_void_p(self.errno_), 0, self.p) != 0:
                raise RuntimeError("libfiu refused the failure point")

    def stop(self, kiosk: Any) -> None:
        if self.kind == "enospc-fs":
            self.ballast.unlink()
        elif self.kind == "cap":
            space_returns(kiosk.store)
        else:
            self.lib.fiu_disable(self.name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.faults.storage_child")
    p.add_argument("--dir", type=Path, required=True, help="the state dir (the tmpfs for enospc-fs)")
    p.add_argument("--journal", type=Path, required=True, help="GPIO journal (outside --dir)")
    p.add_argument("--fault", choices=("enospc-fs", "cap", "fiu-pwrite", "fiu-fdatasync"), required=True)
    p.add_argument("--policy", choices=("deny", "hold"), default="deny")
    p.add_argument("--passes", type=int, default=600, help="passes while the storage is broken")
    p.add_argument("--probability", type=float, default=0.02, help="libfiu failure probability")
    args = p.parse_args(argv)

    cfg = config_mod.from_dict({
        "kiosk": {"id": "faults", "state_dir": str(args.dir), "runtime_dir": str(args.dir / "run")},
        "gpio": {"pin_factory": "mock", "mock_journal": str(args.journal)},
        "store": {"fail_policy": args.policy, "keep_free_pct": 0, "hold_max_records": 1_000_000},
        "thermometer": {"enabled": False}, "camera": {"enabled": False}, "voice": {"backend": "none"},
    })
    clock = FakeClock()
    timers = Timers()
    fault = Fault(args.fault, args.dir, args.probability)
    reported: list[int] = []
    tokens: list[str] = []
    failures: list[float] = []
    alarms: list[float] = []
    held_max = 0

    with assembled(cfg, clock, timers) as kiosk:
        kiosk.on_commit(lambda seq, _rec: reported.append(seq))
        write = kiosk.store.write

        def counting_write(rows: Any) -> list[int]:
            try:
                return write(rows)
            except StoreError:
                failures.append(clock.monotonic())
                raise

        kiosk.store.write = counting_write  # type: ignore[method-assign]

        def one(token: str) -> None:
            nonlocal held_max
            clock.advance(STEP_S)
            decide_pass(kiosk, token)
            tokens.append(token)
            timers.fire()
            kiosk.pump()
            held_max = max(held_max, len(kiosk.executor.writer.held))
            if "store" in kiosk.flow.faults and (not alarms or alarms[-1] < (failures or [0])[-1]):
                alarms.append(clock.monotonic())

        for i in range(20):
            one(f"warm{i}")
        opened_before = relay_ons(kiosk)
        fault.start(kiosk)
        for i in range(args.passes):
            one(f"p{i:05d}")
        fault.stop(kiosk)
        clock.advance(1.0)
        kiosk.pump()
        for i in range(20):
            one(f"after{i}")
        opened = relay_ons(kiosk) - opened_before
        held_after = len(kiosk.executor.writer.held)
        path = kiosk.store.path
    log = check_log(path)
    passes = [r for r in log.rows if r["kind"] == "pass"]
    first_failure = failures[0] if failures else None
    print(json.dumps({
        "fault": args.fault, "policy": args.policy, "decided": len(tokens),
        "failed_writes": len(failures), "held_max": held_max, "held_after": held_after,
        "alarm_latency_s": (alarms[0] - first_failure) if alarms and first_failure is not None else None,
        "integrity": log.integrity, "gap_free": log.gap_free,
        "reported": reported, "db_seqs": [r["seq"] for r in log.rows if r["device"] != "filler"],
        "pass_tokens": [r["token_hash"] for r in passes], "tokens": tokens,
        "decisions": [r["decision"] for r in passes],
        "opened_during": opened,
        "pass_rows_during": sum(1 for r in passes if r["decision"] == "pass" and not r["token_hash"].startswith("w")),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
