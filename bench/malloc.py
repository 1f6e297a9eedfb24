#!/usr/bin/env python3
"""Do glibc malloc settings pay for `kiosk run`? Its VmRSS idle and after N passes, per environment.

    .venv/bin/python bench/malloc.py [--passes 600] [--core 1]

The same stand-ins and pass driver as bench/pi_budget.py (kiosk/demo/passes.py: the camera clip
at 1280×720, the thermometer simulator at 140 Hz, mock GPIO), one fresh kiosk per environment,
everything pinned to ``--core`` and without a CPU quota (memory, not time, is measured here; the
quota run stays on its own core). Environments: none, ``MALLOC_ARENA_MAX=2`` (glibc makes up to
8 arenas per core for threads that allocate at once; the kiosk has a dozen threads),
``MALLOC_MMAP_THRESHOLD_=131072`` (fixes the threshold glibc otherwise raises as large blocks are
freed, so big buffers go back to the kernel when freed), and both. Settings are glibc's tunables
as documented in mallopt(3). A setting is worth the unit only if it lowers RSS after the passes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from kiosk.codes.drill import Drill
from kiosk.demo.passes import KioskProcess, Resident, Residents, write_config
from kiosk.demo.site import ClipWriter

ENVS: list[dict[str, str]] = [
    {},
    {"MALLOC_ARENA_MAX": "2"},
    {"MALLOC_MMAP_THRESHOLD_": "131072"},
    {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"},
]


def one(env: dict[str, str], passes: int, core: int) -> str:
    root = Path(tempfile.mkdtemp(prefix="bench-malloc-"))
    try:
        drill = Drill(root / "codes", compound="bench-compound", now=time.time())
        clip = ClipWriter(str(root / "camera" / "frame_%04d.jpg"), size=(1280, 720), seed=3)
        clip.gate()
        with Resident("gy-mcu90614", link=root / "tty", rate_hz=140.0) as sim:
            cfg = write_config(root, root / "tty", drill, clip.source)
            k = KioskProcess(cfg, lambda argv: ["taskset", "-c", str(core), *argv], env)
            try:
                time.sleep(3.0)                    # the presence gate learns the empty gate
                idle = k.rss_mb()
                with Residents(root, sim, clip, drill) as residents:
                    for _ in range(passes):
                        residents.one()
                    missed = residents.missed
                after = k.rss_mb()
            finally:
                k.stop()
        name = " ".join(f"{a}={b}" for a, b in env.items()) or "(glibc defaults)"
        return f"{name:<50} VmRSS idle {idle:6.1f} MB, after {passes} passes {after:6.1f} MB ({missed} missed)"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, default=600)
    ap.add_argument("--core", type=int, default=1, help="CPU for the kiosk and this driver")
    args = ap.parse_args()
    os.sched_setaffinity(0, {args.core})
    print(f"kiosk and driver on CPU {args.core}, no quota; load before: {os.getloadavg()[0]:.2f}", flush=True)
    for env in ENVS:
        print(one(env, args.passes, args.core), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
