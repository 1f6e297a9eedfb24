"""The scan thread's CPU share (drivers/camera/budget.py): decodes wait while it is spent and
resume when it has refilled; the process's CPU limit is read from its cgroup (v1 and v2)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from drivers.camera.budget import CpuBudget, cpu_limit
from kiosk.clock import FakeClock
from kiosk.config import CameraSection
from kiosk.devices.camera import CameraFeed
from tests.kiosk.devices.test_camera import PAYLOAD, WAIT, ListSource, Sink, code_frames


class SeenBudget(CpuBudget):
    """The real bucket, noting when the scan thread has found it spent three times (it looks
    again every BUDGET_RECHECK_S, so frames came and went meanwhile)."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.spent_seen = 0
        self.found_spent = threading.Event()

    def wait_s(self) -> float:
        owed = super().wait_s()
        if owed > 0:
            self.spent_seen += 1
            if self.spent_seen >= 3:
                self.found_spent.set()
        return owed


def test_the_bucket_fills_at_its_share_holds_one_period_and_goes_into_debt() -> None:
    clock = FakeClock()
    budget = CpuBudget(cores=0.25, period_s=0.1, now=clock.monotonic)      # a 25 % quota
    assert budget.rate == pytest.approx(0.125) and budget.capacity == pytest.approx(0.0125)
    assert budget.wait_s() == 0.0                  # full: a resident's first frame is decoded at once
    budget.charge(0.0125 + 0.05)                   # one costly decode overdrew it by 50 ms of CPU
    assert budget.wait_s() == pytest.approx(0.4, abs=1e-3)      # 50 ms at 12.5 % of a core
    clock.advance(0.39)
    assert budget.wait_s() > 0
    clock.advance(0.02)
    assert budget.wait_s() == 0.0
    clock.advance(60.0)                            # a long quiet spell stores one period's share, not more
    budget.charge(0.0)
    assert budget.tokens == pytest.approx(budget.capacity)


def test_decodes_wait_while_the_share_is_spent_and_resume_on_the_newest_frame() -> None:
    clock = FakeClock()
    budget = SeenBudget(cores=0.25, period_s=0.1, now=clock.monotonic)
    budget.charge(1.0)                             # a run of costly decodes: 8 s of the share owed
    source = ListSource(code_frames(4))
    sink = Sink()
    with CameraFeed(source, sink, CameraSection(), clock.monotonic, budget=budget) as feed:
        assert source.done.wait(WAIT)              # the camera delivered every frame meanwhile
        assert budget.found_spent.wait(WAIT)
        assert feed.frames_decoded == 0 and sink.payloads.empty()
        clock.advance(8.0)                         # the share has refilled
        assert sink.payloads.get(timeout=WAIT) == PAYLOAD.encode()
        assert feed.frames_taken == 1              # the newest frame, none of the ones in between
    assert budget.deferred >= 1


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cpu_limit_reads_cgroup_v2_and_v1_and_the_smallest_on_the_path(tmp_path: Path) -> None:
    root = tmp_path / "fs"
    proc = tmp_path / "cgroup"
    write(proc, "0::/system.slice/kiosk.service\n")
    write(root / "system.slice" / "kiosk.service" / "cpu.max", "25000 100000\n")
    write(root / "system.slice" / "cpu.max", "max 100000\n")
    assert cpu_limit(proc, root, cpus=4) == (0.25, 0.1)
    write(root / "system.slice" / "cpu.max", "10000 50000\n")              # the slice binds harder
    assert cpu_limit(proc, root, cpus=4) == (0.2, 0.05)

    write(proc, "4:cpu,cpuacct:/kiosk\n1:name=systemd:/\n")
    write(root / "cpu,cpuacct" / "kiosk" / "cpu.cfs_quota_us", "25000\n")
    write(root / "cpu,cpuacct" / "kiosk" / "cpu.cfs_period_us", "10000\n")
    write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1\n")
    write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    assert cpu_limit(proc, root, cpus=4) == (2.5, 0.01)
    assert cpu_limit(proc, root, cpus=2) == (2.0, 0.01)                     # a quota above the CPUs: the CPUs


def test_no_quota_or_nothing_readable_is_the_cpus_it_may_run_on(tmp_path: Path) -> None:
    # pinned to one core: half of it stays the gate's; on a 4-core Pi the scan thread is not held back
    assert cpu_limit(tmp_path / "missing", tmp_path, cpus=1) == (1.0, 0.1)
    write(tmp_path / "cgroup", "0::/\n")
    write(tmp_path / "fs" / "cpu.max", "max 100000\n")
    assert cpu_limit(tmp_path / "cgroup", tmp_path / "fs", cpus=4) == (4.0, 0.1)
    write(tmp_path / "fs" / "cpu.max", "garbage\n")
    assert cpu_limit(tmp_path / "cgroup", tmp_path / "fs", cpus=1) == (1.0, 0.1)
    assert cpu_limit(tmp_path / "missing", tmp_path) == (float(len(os.sched_getaffinity(0))), 0.1)
