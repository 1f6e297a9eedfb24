"""Benchmark: the real `kiosk run` on a Zero-class budget — one core, a 25 % CPU quota (a proxy,
not a Pi) — on the stand-ins. Prints every figure of the "Fit the smallest Pi" budget in one run.

    .venv/bin/python bench/pi_budget.py [--quota 25] [--starts 3] [--idle-s 20] [--latency-passes 200]
                                        [--passes 10000]

The kiosk runs as its own process exactly as systemd starts it (``python -m kiosk run``, the
NOTIFY_SOCKET this bench listens on), pinned to CPU 0 (``taskset``-style affinity) and put into a
CPU-quota group before it executes: cgroup v2 ``cpu.max``, else cgroup v1 ``cpu.cfs_quota_us``
(as root), else ``systemd-run --scope -p CPUQuota=``; the line "quota:" says which one ran. This
bench itself runs on the other CPU. Around the kiosk, the stand-ins: gpiozero's MockFactory with
the pin journal (the relay's rising edge is read from it), the thermometer simulator on a pty,
the stand-in camera's JPEG sequence at 1280×720 (rewritten in place when a resident holds a
code up, as ``kiosk/demo/site.py`` does), drill trust material, voice on the null device.

1. time to READY: spawn → READY=1, ``--starts`` times;
2. idle: the empty gate for ``--idle-s`` seconds at the default camera settings (1280×720, 15
   fps): the kiosk process's CPU (all threads, /proc/PID/stat) and the share of throttled periods;
3. latency, under the quota: a resident shows a code; when the yellow (measuring) LED lights,
   the forehead comes and the thermometer (GY-MCU90614 at its 14 Hz) sends exactly the samples
   one reading needs and falls silent, so the deciding frame is the last one: deciding frame →
   relay high, and code shown → relay high (camera, decode, verify, then 5 samples at 14 Hz);
4. memory: ``--passes`` passes through the same camera path (the thermometer pushed at 140 Hz so
   10,000 passes take minutes, not hours), VmRSS of the kiosk process after 1,000 and every
   1,000 after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hardware_mocks.thermometer import PtyThermometer
from kiosk.codes.drill import Drill
from kiosk.demo.site import ClipWriter

CORE = 0
HZ = os.sysconf("SC_CLK_TCK")


class TimedThermometer(PtyThermometer):
    """The simulator, noting when each frame went out; ``budget`` target frames, then silence."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.sent: list[float] = []
        self.budget: int | None = None
        self.budget_done = threading.Event()

    def start(self) -> TimedThermometer:
        super().start()
        return self

    def __enter__(self) -> TimedThermometer:
        return self.start()

    def _emit(self) -> None:
        if self._target is not None and self.budget is not None:
            if self.budget <= 0:
                return
            self.budget -= 1
            super()._emit()
            self.sent.append(time.time())
            if self.budget == 0:
                self.budget_done.set()
            return
        super()._emit()


# --------------------------------------------------------------------------- quota

class Quota:
    """A CPU-quota group the kiosk process is moved into before it runs (see the docstring)."""

    def __init__(self, percent: float) -> None:
        self.percent = percent
        self.kind = "none"
        self.path: Path | None = None
        name = f"kiosk-pi-budget-{os.getpid()}"
        period = 100_000
        v2 = Path("/sys/fs/cgroup")
        v1 = Path("/sys/fs/cgroup/cpu")
        with contextlib.suppress(OSError):
            if percent <= 0:
                return
            if (v2 / "cgroup.controllers").is_file() and "cpu" in (v2 / "cgroup.controllers").read_text():
                (v2 / "cgroup.subtree_control").write_text("+cpu")
                self.path = v2 / name
                self.path.mkdir()
                (self.path / "cpu.max").write_text(f"{int(period * percent / 100)} {period}")
                self.kind = f"cgroup v2 cpu.max {int(period * percent / 100)} {period}"
                return
            if (v1 / "cpu.cfs_quota_us").is_file():
                self.path = v1 / name
                self.path.mkdir()
                (self.path / "cpu.cfs_period_us").write_text(str(period))
                (self.path / "cpu.cfs_quota_us").write_text(str(int(period * percent / 100)))
                self.kind = f"cgroup v1 cpu.cfs_quota_us {int(period * percent / 100)} / cfs_period_us {period}"
                return
        if percent > 0 and shutil.which("systemd-run"):
            probe = subprocess.run(["systemd-run", "--scope", "-q", "-p", f"CPUQuota={percent:g}%", "true"],
                                   capture_output=True)
            if probe.returncode == 0:
                self.kind = f"systemd-run --scope -p CPUQuota={percent:g}%"

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` wrapped so it runs pinned to CORE and inside the quota from its first instruction."""
        pin = ["taskset", "-c", str(CORE)] if shutil.which("taskset") else []
        if self.path is not None:
            procs = self.path / "cgroup.procs"
            return ["sh", "-c", f'echo $$ > "{procs}" && exec "$@"', "sh", *pin, *argv]
        if self.kind.startswith("systemd-run"):
            return ["systemd-run", "--scope", "-q", "-p", f"CPUQuota={self.percent:g}%", *pin, *argv]
        return [*pin, *argv]

    def throttled(self) -> tuple[int, int]:
        """(periods, throttled periods) so far; (0, 0) when not measurable."""
        if self.path is None:
            return 0, 0
        stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if " " in line)
        return int(stat.get("nr_periods", 0)), int(stat.get("nr_throttled", 0))

    def close(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.rmdir()


# --------------------------------------------------------------------------- the kiosk

def write_config(root: Path, thermo: Path, drill: Drill, clip: str) -> Path:
    cfg = root / "kiosk.toml"
    cfg.write_text(f"""
[kiosk]
id = "pi-budget"
compound = "bench-compound"
state_dir = "{root / 'state'}"
runtime_dir = "{root / 'run'}"
[gpio]
pin_factory = "mock"
mock_journal = "{root / 'gpio.jsonl'}"
[thermometer]
port = "{thermo}"
[camera]
source = "{clip}"
[codes]
root_key = "{drill.root_key_path}"
bundle = "{drill.bundle_path}"
[voice]
device = "null"
[temperature]
settle_s = 0.0
[flow]
result_hold_s = 0.5
[sync]
offline_after_s = 86400
""")
    voice = root / "state" / "voice"
    if not voice.exists():
        subprocess.run([sys.executable, "-m", "kiosk", "voice", "build", "--config", str(cfg), "--out", str(voice)],
                       check=True, stdout=subprocess.DEVNULL)
    return cfg


class Kiosk:
    """One `kiosk run` process, started as systemd would, with its READY time."""

    def __init__(self, cfg: Path, quota: Quota) -> None:
        self.sock_path = cfg.parent / f"notify-{time.monotonic_ns()}.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.sock_path))
        self.sock.settimeout(60)
        env = {**os.environ, "NOTIFY_SOCKET": str(self.sock_path)}
        t0 = time.perf_counter()
        self.log = (cfg.parent / "kiosk.log").open("ab")
        self.argv = quota.command([sys.executable, "-m", "kiosk", "run", "--config", str(cfg)])
        self.proc = subprocess.Popen(self.argv, env=env, stderr=self.log, stdout=subprocess.DEVNULL)
        while b"READY=1" not in self.sock.recv(4096):
            pass
        self.ready_s = time.perf_counter() - t0
        self.sock.setblocking(False)
        self.pid = self._python_pid()

    def _python_pid(self) -> int:
        """The kiosk's own pid (the shell wrapper execs it; systemd-run's scope forks it)."""
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            kids = []
        wrapped = self.argv[0] == "systemd-run"
        return int(kids[0]) if kids and wrapped else self.proc.pid

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / HZ

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.sock.close()
        self.log.close()
        self.sock_path.unlink(missing_ok=True)


class Journal:
    """Follows the GPIO pin journal: rising edges of the relay and the yellow (measuring) LED."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def wait(self, name: str, deadline: float) -> float | None:
        """Wall time of the next rising edge of the pin named ``name``, None by the deadline."""
        while time.monotonic() < deadline:
            if self.path.exists():
                with self.path.open("rb") as fh:
                    fh.seek(self.offset)
                    data = fh.read()
                end = data.rfind(b"\n") + 1
                for raw in data[:end].splitlines():
                    self.offset += len(raw) + 1
                    line = json.loads(raw)
                    if name in line["name"] and line["state"] == 1:
                        return float(line["t"])
            time.sleep(0.002)      # polling a file another process writes; not test synchronisation
        return None


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, round(p / 100 * (len(v) - 1)))] if v else float("nan")


def passes(cfg_dir: Path, kiosk: Kiosk, sim: TimedThermometer, clip: ClipWriter, drill: Drill, n: int,
           samples: int, report_every: int = 0) -> Iterator[tuple[int, float | None, float | None]]:
    """Make ``n`` passes; yields (i, deciding frame → relay s, code shown → relay s)."""
    journal = Journal(cfg_dir / "gpio.jsonl")
    for i in range(n):
        sim.budget_done.clear()
        code = drill.code("green", os.urandom(16), time.time())
        clip.show(code)
        shown = time.time()
        measuring = journal.wait("led_yellow", time.monotonic() + 10)
        relay = None
        if measuring is not None:
            sim.budget = samples                         # exactly one reading's samples, then silence
            sim.set_target(36.1, 22.0)
            relay = journal.wait("relay", time.monotonic() + 10)
        sim.clear_target()
        sim.budget = None
        clip.gate()
        time.sleep(0.8)          # the result lights (result_hold_s 0.5) end before the next resident
        last = max((t for t in sim.sent if relay is not None and t <= relay), default=None)
        yield i, (relay - last) if relay and last else None, (relay - shown) if relay else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quota", type=float, default=25.0, help="CPU quota in %% of one core (0: none)")
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--idle-s", type=float, default=20.0)
    ap.add_argument("--latency-passes", type=int, default=200)
    ap.add_argument("--passes", type=int, default=10_000)
    ap.add_argument("--keep", action="store_true", help="keep the site directory (kiosk.log, gpio.jsonl)")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)) - {CORE})
    root = Path(tempfile.mkdtemp(prefix="bench-pi-budget-"))
    quota = Quota(args.quota)
    print(f"quota: {quota.kind}; kiosk pinned to CPU {CORE}; load before: {os.getloadavg()[0]:.2f}")
    drill = Drill(root / "codes", compound="bench-compound", now=time.time())
    clip = ClipWriter(str(root / "camera" / "frame_%04d.jpg"), size=(1280, 720), seed=3)
    clip.gate()
    try:
        with TimedThermometer("gy-mcu90614", link=root / "tty14") as sim:
            cfg = write_config(root, root / "tty14", drill, clip.source)
            ready = []
            for _ in range(args.starts):
                k = Kiosk(cfg, quota)
                ready.append(k.ready_s)
                if _ < args.starts - 1:
                    k.stop()
            print(f"time to READY=1 ({args.starts} starts): median {statistics.median(ready):.2f} s, "
                  f"max {max(ready):.2f} s")
            time.sleep(3.0)                        # the presence gate learns the empty gate
            c0, p0, t0 = k.cpu_s(), quota.throttled(), time.monotonic()
            time.sleep(args.idle_s)
            c1, p1, t1 = k.cpu_s(), quota.throttled(), time.monotonic()
            periods, throttled = p1[0] - p0[0], p1[1] - p0[1]
            print(f"idle, empty gate, 1280x720 at 15 fps, {args.idle_s:g} s: {100 * (c1 - c0) / (t1 - t0):.1f} % of a "
                  f"core; throttled in {throttled} of {periods} periods; VmRSS {k.rss_mb():.1f} MB")
            decide, shown, missed = [], [], 0
            for _i, d, s in passes(root, k, sim, clip, drill, args.latency_passes, samples=5):
                if d is None or s is None:
                    missed += 1
                    continue
                decide.append(d * 1000)
                shown.append(s * 1000)
            print(f"latency under the quota, {len(decide)} passes ({missed} not completed): deciding frame → relay "
                  f"p50 {pct(decide, 50):.1f} ms, p99 {pct(decide, 99):.1f} ms, max {max(decide, default=0):.1f} ms; "
                  f"code shown → relay p50 {pct(shown, 50):.0f} ms, p99 {pct(shown, 99):.0f} ms "
                  f"(includes 5 samples at 14 Hz)")
            k.stop()
        if args.passes:
            with TimedThermometer("gy-mcu90614", link=root / "tty140", rate_hz=140.0) as fast:
                cfg = write_config(root, root / "tty140", drill, clip.source)
                k = Kiosk(cfg, quota)
                rss: list[tuple[int, float]] = [(0, k.rss_mb())]
                missed = 0
                t0 = time.monotonic()
                for i, d, _s in passes(root, k, fast, clip, drill, args.passes, samples=5):
                    missed += d is None
                    if (i + 1) % 1000 == 0 or i + 1 == args.passes:
                        rss.append((i + 1, k.rss_mb()))
                        print(f"  {i + 1} passes: VmRSS {rss[-1][1]:.1f} MB ({time.monotonic() - t0:.0f} s)",
                              flush=True)
                k.stop()
            at = dict(rss)
            grow = (at.get(args.passes, float("nan")) - at.get(1000, float("nan")))
            print(f"memory: VmRSS {rss[0][1]:.1f} MB after start, {at.get(1000, float('nan')):.1f} MB after 1,000 "
                  f"passes, {at.get(args.passes, float('nan')):.1f} MB after {args.passes:,} "
                  f"({grow:+.1f} MB from 1,000); {missed} passes not completed")
    finally:
        quota.close()
        if args.keep:
            print(f"site kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
