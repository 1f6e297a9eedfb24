"""Residents, one per pass, for a real `kiosk run` process on the stand-ins.

``bench/pi_budget.py`` (the Zero-class budget) and the memory budget test
(tests/kiosk/service/test_memory_budget.py) drive the service as systemd starts it — its own
process, ``NOTIFY_SOCKET`` set, READY awaited — with these stand-ins: gpiozero's MockFactory with
the pin journal, the thermometer simulator on a pty, the camera clip (an image sequence rewritten
in place, as kiosk/demo/site.py does) and throwaway trust material.

One pass is one resident, in lockstep with what the kiosk shows, so none is lost:

1. the relay is down (the previous pulse is over; ``[gpio] gate_pulse_s`` 0.2 s);
2. a fresh green code (never shown before: a shown code is spent) appears in the clip;
3. when the measuring lights show (yellow without red), the forehead comes: exactly the samples one reading
   needs, then the room again (not silence: a silent thermometer is a fault);
4. the relay rises — the decision, read from the GPIO journal — and falls;
5. the resident leaves the picture.

``quick`` residents (the long memory runs: 10,000 passes) cost the driver ~40 ms, not half a
second: the code is a flat printed sheet pasted on the empty gate's frames (no perspective,
crumple or sensor noise: the kiosk reads it on the first frame, so the decoder does less than for
a photographed code), and each one steps up as soon as the relay rose (its code ends the previous
pulse, as a queue of residents does) instead of after the pulse.

The pass log, read-only, says how many passes were decided ``pass``. A resident whose LED or
relay does not come within ``timeout_s`` is a missed pass; the driver waits for the relay to be
down before the next one, so a miss never shifts the ones after it (a miss leaves the kiosk
calling a volunteer, yellow and red; the next code ends that case as abandoned and measures).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hardware_mocks.camera import code_matrix
from hardware_mocks.thermometer import PtyThermometer
from kiosk.codes.drill import Drill
from kiosk.demo.site import ClipWriter

HZ = os.sysconf("SC_CLK_TCK")


class Resident(PtyThermometer):
    """The thermometer simulator with one forehead at a time: :meth:`forehead` sends exactly
    ``samples`` frames of it (the wall time each one's bytes were written noted), then the sensor
    sees the room again. With ``realtime`` (bench/pi_budget.py) its thread runs ``SCHED_FIFO`` where
    allowed (root)."""

    realtime = False

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.sent: list[float] = []
        self._left = 0
        self._fifo_tried = False

    def start(self) -> Resident:
        super().start()
        return self

    def __enter__(self) -> Resident:
        return self.start()

    def forehead(self, samples: int, object_c: float = 36.1, ambient_c: float = 22.0) -> None:
        with self._lock:
            self.sent.clear()
            self._left = samples
            self.set_target(object_c, ambient_c)

    def _emit(self) -> None:
        if self.realtime and not self._fifo_tried:
            self._fifo_tried = True
            # Nothing else on the bench's CPUs delays this thread between its stamp and its write
            # (root only; elsewhere the figures include that delay, never less than the kiosk's path).
            with contextlib.suppress(AttributeError, OSError):
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        with self._lock:
            mine = self._target is not None and self._left > 0
        super()._emit()
        if mine:
            # The frame's time is when its last byte reaches the pty (``last_write``: stamped just
            # before the write, after the UART's transmission time), not when this thread runs
            # again: stamped after the write, a frame the kiosk had already decided on looked later
            # than the relay and the pass was timed from the frame before it, one sample period
            # (71 ms at 14 Hz) too long (docs/benchmarks.md "Zero-class budget").
            with self._lock:
                self.sent.append(self.last_write)
                self._left -= 1
                if self._left == 0:
                    self.clear_target()


def write_config(root: Path, thermo: Path, drill: Drill, clip: str, *, voice: str = "null",
                 camera: str = "") -> Path:
    """The kiosk's config for the stand-ins under ``root``; ``voice`` "null" renders the clips
    (played to ALSA's null device), "none" has no voice; ``camera`` adds [camera] keys."""
    cfg = root / "kiosk.toml"
    voice_keys = 'device = "null"' if voice == "null" else 'backend = "none"'
    cfg.write_text(f"""
[kiosk]
id = "pass-driver"
compound = "bench-compound"
state_dir = "{root / 'state'}"
runtime_dir = "{root / 'run'}"
[gpio]
pin_factory = "mock"
mock_journal = "{root / 'gpio.jsonl'}"
gate_pulse_s = 0.2
[thermometer]
port = "{thermo}"
[camera]
source = "{clip}"
{camera}
[codes]
root_key = "{drill.root_key_path}"
bundle = "{drill.bundle_path}"
[voice]
{voice_keys}
[temperature]
settle_s = 0.0
[flow]
result_hold_s = 0.5
[sync]
offline_after_s = 86400
""")
    clips = root / "state" / "voice"
    if voice == "null" and not clips.exists():
        subprocess.run([sys.executable, "-m", "kiosk", "voice", "build", "--config", str(cfg), "--out", str(clips)],
                       check=True, stdout=subprocess.DEVNULL)
    return cfg


class KioskProcess:
    """One `kiosk run` process, started as systemd would; ``wrap`` puts it under a CPU quota."""

    def __init__(self, cfg: Path, wrap: Callable[[list[str]], list[str]] = lambda argv: argv,
                 env: dict[str, str] | None = None, ready_timeout_s: float = 120.0) -> None:
        self.sock_path = cfg.parent / f"notify-{time.monotonic_ns()}.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.sock_path))
        self.sock.settimeout(ready_timeout_s)
        full_env = {**os.environ, **(env or {}), "NOTIFY_SOCKET": str(self.sock_path)}
        self.log = (cfg.parent / "kiosk.log").open("ab")
        self.argv = wrap([sys.executable, "-m", "kiosk", "run", "--config", str(cfg)])
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.argv, env=full_env, stderr=self.log, stdout=subprocess.DEVNULL)
        try:
            while b"READY=1" not in self.sock.recv(4096):
                pass
        except OSError:
            self.stop()
            raise
        self.ready_s = time.perf_counter() - t0
        self.sock.setblocking(False)
        self.pid = self._python_pid()

    def _python_pid(self) -> int:
        """The kiosk's own pid (a shell wrapper execs it; systemd-run's scope forks it)."""
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            kids = []
        return int(kids[0]) if kids and self.argv[0] == "systemd-run" else self.proc.pid

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / HZ

    def rss_mb(self, field: str = "VmRSS") -> float:
        """The kiosk's resident memory in MB: ``VmRSS``, or its ``RssAnon`` part (the kiosk's own
        heap, stacks and buffers: where a leak shows) or ``RssFile`` part (library pages, as many
        as the page cache held when they were touched)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> int:
        self.proc.terminate()
        try:
            code = self.proc.wait(30)
        finally:
            self.sock.close()
            self.log.close()
            self.sock_path.unlink(missing_ok=True)
        return code


class Journal:
    """Follows the GPIO pin journal the mock factory writes (drivers/gpio.py)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.state: dict[str, int] = {}

    def _drain(self, done: Callable[[dict[str, Any]], bool] | None = None) -> float | None:
        """Read the new lines; stop at (and return the wall time of) the first line ``done`` accepts."""
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        for raw in data[:data.rfind(b"\n") + 1].splitlines():
            self.offset += len(raw) + 1
            line = json.loads(raw)
            self.state[line["name"]] = line["state"]
            if done is not None and done(line):
                return float(line["t"])
        return None

    def _until(self, done: Callable[[dict[str, Any]], bool], deadline: float) -> float | None:
        while True:
            t = self._drain(done)
            if t is not None:
                return t
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.002)      # polling a file another process writes (not test synchronisation)

    def wait(self, name: str, state: int, deadline: float) -> float | None:
        """Wall time at which pin ``name`` next goes to ``state``; None by the monotonic ``deadline``."""
        return self._until(lambda line: line["name"] == name and line["state"] == state, deadline)

    def lit(self, pins: dict[str, int], deadline: float) -> float | None:
        """Wall time at which every pin of ``pins`` is at its state (now, or when it gets there);
        None by the monotonic ``deadline``. The measuring lights are yellow without red: after a
        volunteer call (yellow and red) the yellow LED stays lit into the next measuring, so
        waiting for yellow to *rise* missed it, and every pass after it."""
        def at() -> bool:
            return all(self.state.get(k, 0) == v for k, v in pins.items())

        self._drain()
        return time.time() if at() else self._until(lambda line: at(), deadline)

    def now_at(self, name: str, state: int, deadline: float) -> bool:
        """Pin ``name`` is at ``state`` now, or gets there by ``deadline``."""
        self._drain()
        return self.state.get(name, 0) == state or self.wait(name, state, deadline) is not None


@dataclass
class PassResult:
    """One resident: ``decide_s`` deciding thermometer frame → relay high, ``shown_s`` code shown →
    relay high (None when the relay did not rise)."""

    decide_s: float | None
    shown_s: float | None
    relay_t: float | None = None        # wall time the relay rose (the journal's), for bench/pi_threads.py


class Residents:
    """Sends residents to a running kiosk one pass at a time (see the module docstring). The
    next residents' codes are rendered ahead in a thread (rendering a frame costs more than a pass);
    a context manager."""

    AHEAD = 2            # codes rendered ahead (a green code is valid 60 s)

    def __init__(self, root: Path, sim: Resident, clip: ClipWriter, drill: Drill, samples: int = 5,
                 timeout_s: float = 10.0, quick: bool = False) -> None:
        self.root, self.sim, self.clip, self.drill = root, sim, clip, drill
        self.samples, self.timeout_s = samples, timeout_s
        self.quick = quick              # flat codes, back to back (see the module docstring); may change between passes
        self.journal = Journal(root / "gpio.jsonl")
        self.missed = 0
        self._next: queue.Queue[list[np.ndarray] | list[bytes]] = queue.Queue(self.AHEAD)
        self._stop = threading.Event()
        self._render = threading.Thread(target=self._ahead, name="residents", daemon=True)
        self._render.start()

    def _ahead(self) -> None:
        while not self._stop.is_set():
            code = self.drill.code("green", os.urandom(16), time.time())
            frames = self.clip.encode(flat_code(self.clip, code) if self.quick else self.clip.render(code))
            while not self._stop.is_set():
                try:
                    self._next.put(frames, timeout=0.5)
                    break
                except queue.Full:
                    continue

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            self._next.get_nowait()
        self._render.join(30)

    def __enter__(self) -> Residents:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def one(self) -> PassResult:
        deadline = time.monotonic() + self.timeout_s
        if not self.quick:
            self.journal.now_at("relay", 0, deadline)
        self.clip.put(self._next.get(timeout=60))
        shown = time.time()
        relay = None
        if self.journal.lit({"led_yellow": 1, "led_red": 0}, time.monotonic() + self.timeout_s) is not None:
            self.sim.forehead(self.samples)
            relay = self.journal.wait("relay", 1, time.monotonic() + self.timeout_s)
        self.clip.gate()
        if relay is None:
            self.missed += 1
            return PassResult(None, None)
        # The relay rises before the result lights replace the measuring ones (the pass is stored,
        # then shown): a quick resident stepping up at once saw the old yellow as its own and sent
        # its forehead before its code was read — a missed pass now and then (1 in ~1,000).
        self.journal.now_at("led_yellow", 0, time.monotonic() + self.timeout_s)
        last = max((t for t in list(self.sim.sent) if t <= relay), default=None)
        return PassResult(None if last is None else relay - last, relay - shown, relay)

    def decided(self) -> int:
        """Passes the pass log holds with decision ``pass`` (read-only)."""
        db = self.root / "state" / "passes.db"
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
        try:
            return int(conn.execute("SELECT count(*) FROM records WHERE decision = 'pass'").fetchone()[0])
        finally:
            conn.close()


def flat_code(clip: ClipWriter, payload: str, module_px: int = 4) -> list[np.ndarray]:
    """The empty gate's frames with ``payload`` pasted flat in the middle, dark on white, quiet
    zone included (a quick resident: ~40 ms where :meth:`ClipWriter.render` takes ~0.5 s)."""
    m = code_matrix(payload)
    sheet = np.repeat(np.repeat(np.where(m == 1, 30, 235).astype(np.uint8), module_px, 0), module_px, 1)
    frames = [clip.render_gate(i).copy() for i in range(clip.frames)]
    for f in frames:
        h, w = f.shape[:2]
        y, x = (h - sheet.shape[0]) // 2, (w - sheet.shape[1]) // 2
        f[y:y + sheet.shape[0], x:x + sheet.shape[1]] = sheet[..., None]
    return frames


def growth_kb_per_pass(samples: list[tuple[int, float]]) -> float:
    """How fast RSS grows, in KB per pass: the median of the slopes between every two samples
    (pass number, RSS in MB) — Theil–Sen, so one step of the allocator (an arena taken, a cache
    filled) moves it far less than a steady leak does."""
    slopes = sorted((b_mb - a_mb) * 1024 / (b - a) for i, (a, a_mb) in enumerate(samples)
                    for b, b_mb in samples[i + 1:] if b != a)
    if not slopes:
        return float("nan")
    mid = len(slopes) // 2
    return slopes[mid] if len(slopes) % 2 else (slopes[mid - 1] + slopes[mid]) / 2
