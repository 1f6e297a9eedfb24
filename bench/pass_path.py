"""Which files and packages one pass goes through: code shown → verified → measured →
committed → relay on, on the stand-in hardware (the demo's director acting one resident).

Every call into the product's own code (kiosk, drivers, sync, street; not the stand-ins, the
demo scaffolding or this script) in the kiosk's threads (loop, camera, scan, thermometer) is
traced from the moment the resident shows the code until the pass is committed and the gate has
moved. Prints the files, the packages (kiosk/core, kiosk/devices, drivers/camera, …) and the
calls that cross from one package into another, in the order they first happened. A measure of
how far one pass travels through the tree (docs/architecture.md), not a timing.

    .venv/bin/python bench/pass_path.py [--verbose]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import random
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hardware_mocks.camera import DemoCamera  # noqa: E402
from hardware_mocks.thermometer import PtyThermometer  # noqa: E402
from kiosk.clock import SystemClock  # noqa: E402
from kiosk.demo.crowd import Resident  # noqa: E402
from kiosk.demo.director import Director, demo_config, trust_drill  # noqa: E402
from kiosk.service.assembly import assembled  # noqa: E402

PRODUCT = ("kiosk", "drivers", "sync", "street")
NOT_PRODUCT = ("kiosk/demo/", "hardware_mocks/", "bench/")


def package_of(rel: str) -> str:
    """kiosk/core/flow.py → kiosk/core; kiosk/config.py → kiosk; drivers/gpio.py → drivers."""
    parts = rel.split("/")
    return "/".join(parts[:-1]) or parts[0]


class Tracer:
    def __init__(self) -> None:
        self.files: list[str] = []
        self.edges: list[tuple[str, str]] = []
        self.on = False
        self.lock = threading.Lock()

    def _rel(self, frame: FrameType | None) -> str | None:
        if frame is None:
            return None
        path = Path(frame.f_code.co_filename)
        try:
            rel = path.resolve().relative_to(REPO).as_posix()
        except ValueError:
            return None
        if not rel.startswith(PRODUCT) or rel.startswith(NOT_PRODUCT):
            return None
        return rel

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or not self.on:
            return None
        rel = self._rel(frame)
        if rel is None:
            return None
        caller = self._rel(frame.f_back)
        with self.lock:
            if rel not in self.files:
                self.files.append(rel)
            if caller is not None and package_of(caller) != package_of(rel):
                edge = (package_of(caller), package_of(rel))
                if edge not in self.edges:
                    self.edges.append(edge)
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--verbose", action="store_true", help="list every file")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    ns = argparse.Namespace(config=None, db=None, residents=1, seed=1, json=True)
    cfg, drill = trust_drill(demo_config(ns))
    camera = DemoCamera(seed=1, fps=cfg.camera.fps)
    tracer = Tracer()
    threading.settrace(tracer)      # the kiosk's threads, not this one (the director issues the codes)
    with PtyThermometer(cfg.thermometer.protocol, seed=1) as sim:
        cfg = cfg.replace(thermometer=dataclasses.replace(cfg.thermometer, enabled=True, port=sim.path),
                          voice=dataclasses.replace(cfg.voice, backend="none"))
        with assembled(cfg, SystemClock(), frame_source=camera) as kiosk:
            director = Director(kiosk, random.Random(1), drill, sim, camera)
            kiosk.on_commit(director.on_commit)
            stop = threading.Event()
            loop = threading.Thread(target=kiosk.run, args=(stop,), daemon=True)
            loop.start()
            time.sleep(1.0)                      # threads settle; start-up is not the pass
            tracer.on = True
            director.act(Resident("resident", "green", (36.6,)))
            tracer.on = False
            stop.set()
            loop.join(5)
    threading.settrace(None)
    camera.discard()
    packages = sorted({package_of(f) for f in tracer.files})
    print(f"one pass (code shown → relay on): {len(tracer.files)} files in {len(packages)} packages, "
          f"{len(tracer.edges)} distinct cross-package calls")
    print("packages: " + ", ".join(packages))
    print("cross-package calls, in order: " + "; ".join(f"{a} → {b}" for a, b in tracer.edges))
    if args.verbose:
        print("files, in order of first call:")
        for f in tracer.files:
            print("  " + f)


if __name__ == "__main__":
    main()
