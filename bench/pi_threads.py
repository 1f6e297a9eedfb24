"""Where a slow pass's time went: the kiosk's per-thread CPU and its group's throttling, sampled.

Used by ``bench/pi_budget.py --threads`` during the latency passes. A sampler thread in the
bench (on the other CPUs) reads every few milliseconds each kiosk thread's run time
(``/proc/PID/task/TID/schedstat``, nanoseconds — ``stat``'s ticks are 10 ms, as long as the
budget) and the quota group's ``cpu.stat`` (throttled time: v1 ``throttled_time`` ns, v2
``throttled_usec``). For a pass it then says, over the quota period before the deciding
thermometer frame and from that frame to the relay, which threads ran how long and how long the
group was throttled — the question "who spent the period's 25 ms?".

``--threads`` also splits the idle phase's CPU by thread (:func:`thread_times`, :func:`split_line`).

Thread names: the kiosk's Python threads are named in ``threading`` only; ``--threads`` puts
``bench/threadnames`` on the kiosk's ``PYTHONPATH`` so each gets its name as its kernel name too.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
import time
from collections import deque
from pathlib import Path

NAMES_DIR = Path(__file__).resolve().parent / "threadnames"
SCHED_IDLE = 5


def thread_times(pid: int) -> dict[int, tuple[str, int]]:
    """Each thread of ``pid``: its kernel name (the main thread — the gate loop — as ``main``) and
    nanoseconds on the CPU so far (schedstat)."""
    out: dict[int, tuple[str, int]] = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                name = "main" if task.name == str(pid) else (task / "comm").read_text().strip()
                out[int(task.name)] = name, int((task / "schedstat").read_text().split()[0])
    return out


def split_line(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]], seconds: float) -> str:
    """Where the CPU between two :func:`thread_times` went: per thread name (threads of one name —
    gpiozero's four ``held`` — summed), % of a core and its share of the total, largest first."""
    used: dict[str, int] = {}
    count: dict[str, int] = {}
    for tid, (name, ns) in after.items():
        key = name.split(" ", 1)[-1].strip("()") if name.startswith("Thread-") else name
        used[key] = used.get(key, 0) + ns - before.get(tid, (name, 0))[1]
        count[key] = count.get(key, 0) + 1
    total = sum(used.values()) or 1
    rows = sorted(used.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name}{f' ×{count[name]}' if count[name] > 1 else ''} {100 * ns / 1e9 / seconds:.2f} % "
                     f"({100 * ns / total:.0f} %)" for name, ns in rows if ns > 0)


class ThreadSampler:
    """Samples the kiosk's threads and its group's throttling every ``every_s``; a context manager."""

    def __init__(self, pid: int, cpu_stat: Path | None, every_s: float = 0.003, keep_s: float = 120.0) -> None:
        self.pid, self.cpu_stat, self.every_s = pid, cpu_stat, every_s
        # (wall time, {tid: (ns on the CPU, ns runnable but waiting for it)}, group's throttled ns)
        self.samples: deque[tuple[float, dict[int, tuple[int, int]], int]] = deque(maxlen=int(keep_s / every_s))
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thread-sampler", daemon=True)

    def __enter__(self) -> ThreadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _name(self, tid: int) -> str:
        if tid not in self.names:
            base = f"/proc/{self.pid}/task/{tid}"
            try:
                comm = Path(base, "comm").read_text().strip()
                policy = int(Path(base, "stat").read_text().rpartition(")")[2].split()[38])
            except (OSError, ValueError, IndexError):
                comm, policy = "?", 0
            self.names[tid] = f"{comm}{' (idle)' if policy == SCHED_IDLE else ''}#{tid}"
        return self.names[tid]

    def _throttled_ns(self) -> int:
        if self.cpu_stat is None:
            return 0
        with contextlib.suppress(OSError, ValueError):
            for line in self.cpu_stat.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "throttled_time":
                    return int(value)
                if key == "throttled_usec":
                    return int(value) * 1000
        return 0

    def _run(self) -> None:
        tasks: list[int] = []
        listed = 0.0
        while not self._stop.wait(self.every_s):
            now = time.time()
            if now - listed > 0.5:
                with contextlib.suppress(OSError):
                    tasks = [int(t.name) for t in Path(f"/proc/{self.pid}/task").iterdir() if t.name.isdigit()]
                listed = now
            run: dict[int, tuple[int, int]] = {}
            for tid in tasks:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    with open(f"/proc/{self.pid}/task/{tid}/schedstat") as fh:
                        on, waited = fh.read().split()[:2]
                        run[tid] = int(on), int(waited)
            self.samples.append((time.time(), run, self._throttled_ns()))

    def _at(self, t: float) -> tuple[float, dict[int, tuple[int, int]], int] | None:
        """The last sample taken at or before ``t``."""
        snap = list(self.samples)
        i = bisect.bisect_right([s[0] for s in snap], t) - 1
        return snap[i] if i >= 0 else None

    def window(self, t0: float, t1: float) -> tuple[dict[str, float], float, float]:
        """Between wall times ``t0`` and ``t1``: CPU ms per thread, ms the kiosk's threads were
        runnable but waited for the CPU (summed: other processes on the core, or the throttle),
        and ms the group was throttled."""
        a, b = self._at(t0), self._at(t1 + self.every_s)
        if a is None or b is None:
            return {}, 0.0, 0.0
        used = {self._name(tid): (on - a[1].get(tid, (0, 0))[0]) / 1e6 for tid, (on, _w) in b[1].items()}
        waited = sum(w - a[1].get(tid, (0, 0))[1] for tid, (_on, w) in b[1].items()) / 1e6
        return {k: v for k, v in used.items() if v >= 0.05}, waited, (b[2] - a[2]) / 1e6

    def explain(self, decide_ms: float, relay_t: float, period_s: float) -> str:
        """One line for a pass: before the deciding frame (one quota period) and from it to the relay."""
        frame_t = relay_t - decide_ms / 1000
        before, wait_before, thr_before = self.window(frame_t - period_s, frame_t)
        during, wait_during, thr_during = self.window(frame_t, relay_t)

        def top(used: dict[str, float]) -> str:
            rows = sorted(used.items(), key=lambda kv: -kv[1])[:5]
            return ", ".join(f"{name} {ms:.1f}" for name, ms in rows) or "-"

        return (f"{decide_ms:6.1f} ms: {period_s * 1000:.0f} ms before the frame CPU {sum(before.values()):.1f} ms, "
                f"waited {wait_before:.1f}, throttled {thr_before:.1f} [{top(before)}]; frame → relay CPU "
                f"{sum(during.values()):.1f} ms, waited {wait_during:.1f}, throttled {thr_during:.1f} [{top(during)}]")
