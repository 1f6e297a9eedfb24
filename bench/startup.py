"""Benchmark: cold start of `kiosk run` to READY=1, and resident memory after 1,000 passes.

Everything runs on the stand-ins: gpiozero mock pins with the journal, the thermometer
simulator on a pty, the synthetic camera's clip of an empty gate (the scan thread decodes every
frame), drill trust material with the real GK1 verifier, aplay on the ALSA null device.

1. ``kiosk run`` is started N times as systemd would (NOTIFY_SOCKET), and the time from spawn
   to READY=1 is measured (Python start-up, imports, devices, pass log, verifier, drivers).
2. The same configuration is assembled in this process and 1,000 passes are made: a real GK1
   code verified per pass and thermometer frames from the simulator (pushed at 140 Hz so the
   run takes a minute, not twenty); VmRSS/VmHWM are read from /proc/self/status.

    .venv/bin/python bench/startup.py [--starts 5] [--passes 1000]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hardware_mocks.thermometer import PtyThermometer
from kiosk import config as config_mod
from kiosk.clock import SystemClock
from kiosk.codes.drill import Drill
from kiosk.core.flow import State
from kiosk.service.assembly import assembled


def proc_status_mb(field: str, pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_site(root: Path, thermo_link: Path, rate_hz: float | None) -> tuple[Path, Drill]:
    drill = Drill(root / "codes", compound="bench-compound", now=time.time())
    clip = root / "camera"
    if not clip.exists():     # rendered in a child process so this one's memory is the kiosk's
        subprocess.run([sys.executable, "-m", "hardware_mocks.camera", "--out", str(clip)], check=True,
                       stdout=subprocess.DEVNULL)
    cfg = root / "kiosk.toml"
    cfg.write_text(f"""
[kiosk]
id = "bench-kiosk"
compound = "bench-compound"
state_dir = "{root / 'state'}"
runtime_dir = "{root / 'run'}"
[gpio]
pin_factory = "mock"
mock_journal = "{root / 'gpio.jsonl'}"
[thermometer]
port = "{thermo_link}"
[camera]
source = "{clip / 'frame_%04d.png'}"
[codes]
root_key = "{drill.root_key_path}"
bundle = "{drill.bundle_path}"
[voice]
device = "null"
[temperature]
settle_s = {0.0 if rate_hz else 0.2}
""")
    voice = root / "state" / "voice"
    if not voice.exists():
        subprocess.run([sys.executable, "-m", "kiosk", "voice", "build", "--config", str(cfg), "--out", str(voice)],
                       check=True, stdout=subprocess.DEVNULL)
    return cfg, drill


def cold_starts(cfg: Path, n: int) -> list[float]:
    times: list[float] = []
    for i in range(n):
        sock_path = cfg.parent / f"notify-{i}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(sock_path))
        sock.settimeout(30)
        env = {**os.environ, "NOTIFY_SOCKET": str(sock_path)}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(cfg)], env=env,
                                stderr=subprocess.DEVNULL)
        try:
            while b"READY=1" not in sock.recv(4096):
                pass
            times.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(20)
            sock.close()
            sock_path.unlink()
    return times


def memory_after_passes(cfg_path: Path, drill: Drill, sim: PtyThermometer, passes: int) -> dict[str, Any]:
    cfg = config_mod.load(cfg_path)
    clock = SystemClock()
    stop = threading.Event()
    with assembled(cfg, clock) as kiosk:
        loop = threading.Thread(target=kiosk.run, args=(stop,), daemon=True)
        loop.start()
        rss_start = proc_status_mb("VmRSS")
        done = 0
        trend: list[int] = []
        t0 = time.perf_counter()
        try:
            for i in range(passes):
                code = drill.code("green", os.urandom(16), time.time())
                kiosk.payload_seen(code.encode())
                deadline = time.monotonic() + 5
                while kiosk.flow.state is not State.MEASURING and time.monotonic() < deadline:
                    time.sleep(0.002)
                sim.set_target(36.6 - 0.5, 22.0)
                while kiosk.flow.state is State.MEASURING and time.monotonic() < deadline:
                    time.sleep(0.002)
                sim.clear_target()
                if kiosk.flow.state is State.RESULT:
                    done += 1
                if (i + 1) % 250 == 0:
                    trend.append(round(proc_status_mb("VmRSS")))
        finally:
            stop.set()
            loop.join(10)
        elapsed = time.perf_counter() - t0
        seq = kiosk.store.last_seq
    return {"passes": done, "records": seq, "seconds": elapsed, "rss_start_mb": rss_start,
            "rss_mb": proc_status_mb("VmRSS"), "hwm_mb": proc_status_mb("VmHWM"), "trend": trend}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--passes", type=int, default=1000)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    link = root / "ttyTHERMO"
    with PtyThermometer("gy-mcu90614", link=link).start():
        cfg, _drill = make_site(root, link, None)
        starts = cold_starts(cfg, args.starts)
    print(f"cold start to READY=1 ({args.starts} starts, thermometer + camera + verifier + voice on stand-ins): "
          f"median {statistics.median(starts):.2f} s, max {max(starts):.2f} s (target ≤ 3 s)")
    link2 = root / "ttyTHERMO-fast"
    with PtyThermometer("gy-mcu90614", link=link2, rate_hz=140.0).start() as sim:
        cfg, drill = make_site(root, link2, 140.0)
        m = memory_after_passes(cfg, drill, sim, args.passes)
    print(f"resident memory after {m['passes']} passes ({m['records']} records, {m['seconds']:.0f} s): "
          f"VmRSS {m['rss_mb']:.0f} MB (target ≤ 150 MB; {m['rss_start_mb']:.0f} MB when the first pass "
          f"began, peak VmHWM {m['hwm_mb']:.0f} MB incl. this bench's own set-up)")
    print(f"VmRSS every 250 passes: {', '.join(f'{v} MB' for v in m['trend'])}")


if __name__ == "__main__":
    main()
