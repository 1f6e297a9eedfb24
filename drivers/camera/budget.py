"""The scan thread's CPU allowance: decodes may spend at most a share of the process's CPU budget.

Why: on a Zero-class budget (systemd's ``CPUQuota=``, a cgroup CPU quota) every thread of the
kiosk draws on one allowance per quota period; once the threads have used it, all of them — the
gate's too — wait for the next period (up to 75 ms of a 100 ms period at 25 %). ``SCHED_IDLE``
(drivers/camera/priority.py) orders the camera behind the gate on the core but does not stop it
spending the allowance. The scan thread is the one thread that can spend it all: something in
view that does not read (a volunteer's manual pass, an unreadable phone) is decoded on every
frame, up to ``[camera] decode_budget_ms`` (60 ms) each, 15 times a second. So the scan thread
charges the CPU time each look costs it (its own thread CPU clock) to a token bucket filled at
``share`` of the process's CPU limit and holding at most one quota period's worth; while the
bucket is empty it skips frames (it never queues them: the capture thread keeps only the newest).

The limit is read from the process's own cgroup: v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` /
``cpu.cfs_period_us`` (the smallest along the path to the root: a parent's quota binds too);
with no quota it is the CPUs the process may run on (its affinity): on a 4-core Pi with no quota the
scan thread is not held back at all — the gate's threads have the other cores — while a process
pinned to one core keeps half of it for the gate. A resident's first frame is decoded at once: an empty gate costs
~3 % of a core (docs/benchmarks.md), far below the share, so the bucket is full when anyone
steps up; frames are skipped only after a run of costly decodes.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

SHARE = 0.5                 # of the process's CPU limit the scan thread may spend (the rest: the gate)
DEFAULT_PERIOD_S = 0.1      # the kernel's and systemd's default quota period


def cpu_limit(proc_cgroup: Path = Path("/proc/self/cgroup"),
              root: Path = Path("/sys/fs/cgroup"), cpus: int | None = None) -> tuple[float, float]:
    """(cores, period_s) the process may use: the smallest CPU quota on the path from its cgroup to
    the root, and never more than ``cpus`` (default: the CPUs the process may run on); with no quota
    (or none readable) ``(cpus, 0.1 s)``."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    best = _quota(proc_cgroup, root)
    if best is None or best[0] > cpus:
        return float(cpus), best[1] if best is not None else DEFAULT_PERIOD_S
    return best


def _quota(proc_cgroup: Path, root: Path) -> tuple[float, float] | None:
    """The smallest (cores, period_s) quota on the path from the process's group to the root."""
    best: tuple[float, float] | None = None
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _id, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":
            dirs, read = [root], _v2
        elif "cpu" in controllers.split(","):
            dirs, read = [root / controllers, root / "cpu", root / "cpu,cpuacct"], _v1
        else:
            continue
        for base in dirs:
            group = base / path.lstrip("/")
            while True:
                got = read(group)
                if got is not None and (best is None or got[0] < best[0]):
                    best = got
                if group == base or base not in group.parents:
                    break
                group = group.parent
    return best


def _v2(group: Path) -> tuple[float, float] | None:
    with contextlib.suppress(OSError, ValueError):
        quota, period = (group / "cpu.max").read_text().split()[:2]
        if quota != "max" and int(period) > 0:
            return int(quota) / int(period), int(period) / 1e6
    return None


def _v1(group: Path) -> tuple[float, float] | None:
    with contextlib.suppress(OSError, ValueError):
        quota = int((group / "cpu.cfs_quota_us").read_text())
        period = int((group / "cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return quota / period, period / 1e6
    return None


class CpuBudget:
    """A token bucket of CPU seconds for one thread (see the module docstring).

    :param cores: the process's CPU limit in cores (:func:`cpu_limit`).
    :param period_s: the quota period: the bucket holds at most ``share`` of one period's allowance.
    :param now: monotonic clock the bucket fills by (injected for tests).
    """

    def __init__(self, cores: float, period_s: float, now: Callable[[], float], share: float = SHARE) -> None:
        self.rate = share * cores                  # CPU seconds per second
        self.capacity = self.rate * period_s
        self.now = now
        self.tokens = self.capacity
        self.deferred = 0                          # frames skipped while the bucket was empty
        self._t = now()

    def _fill(self) -> None:
        t = self.now()
        self.tokens = min(self.capacity, self.tokens + (t - self._t) * self.rate)
        self._t = t

    def wait_s(self) -> float:
        """0 when a decode may start now; else how long until it may (the bucket is in debt)."""
        self._fill()
        return 0.0 if self.tokens > 0 else -self.tokens / self.rate + 1e-4

    def charge(self, cpu_s: float) -> None:
        """What the last look cost the thread (its own CPU clock); the bucket may go into debt."""
        self._fill()
        self.tokens -= max(0.0, cpu_s)


def thread_cpu() -> float:
    """The calling thread's CPU time in seconds (what a decode cost, whatever else ran)."""
    return time.thread_time()
