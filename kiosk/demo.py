"""`kiosk demo`: the whole kiosk on stand-in hardware, with a scripted crowd at the gate.

The kiosk runs exactly as `kiosk run` does — real gpiozero devices on the mock pin factory,
the real pass log, the real flow loop — while a director acts out each resident of
:mod:`hardware_mocks.crowd`: showing a code, holding a forehead to the thermometer, a volunteer
pressing panel buttons on the mock pins. One line per decision, then a summary.
This is the only production module allowed to import ``hardware_mocks``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hardware_mocks.camera import DemoCamera, Look
from hardware_mocks.crowd import Resident, crowd
from kiosk import config as config_mod
from kiosk import logs
from kiosk.app import assembled
from kiosk.clock import SystemClock
from kiosk.config import Config
from kiosk.errors import ConfigError
from kiosk.events import CodeRead, TempSample
from kiosk.flow import State
from kiosk.records import Reading, Record
from kiosk.runtime import Kiosk
from kiosk.store import connect_readonly
from kiosk.verdict import CodeVerdict

SAMPLE_HZ = 14.0          # the GY-MCU90614's streaming rate (research/thermometer.md §1.1)
STEP_TIMEOUT_S = 15.0
WALK_UP_S = 0.3           # between residents (also keeps a volunteer's presses apart)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--residents", type=int, default=20, help="how many residents come to the gate (default 20)")
    p.add_argument("--seed", type=int, default=1, help="seed of the crowd and the sensor noise")
    p.add_argument("--json", action="store_true", help="end with one JSON summary line")
    p.add_argument("--db", help="keep the pass log here (appends across runs); default: a new temp dir")
    p.add_argument("--config", help="a stand-in configuration (gpio.pin_factory must be 'mock')")


def demo_config(args: argparse.Namespace) -> Config:
    """The stand-in configuration: mock pins, a short rest before re-measuring, a temp state dir."""
    if args.config:
        cfg = config_mod.load(args.config)
        if cfg.gpio.pin_factory != "mock":
            raise ConfigError(f"{args.config}: the demo needs stand-in hardware (gpio.pin_factory = 'mock')")
    else:
        state = Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
        cfg = config_mod.from_dict({
            "kiosk": {"id": "demo-kiosk", "state_dir": str(state), "runtime_dir": str(state / "run")},
            "gpio": {"pin_factory": "mock", "gate_pulse_s": 1.0},
            "flow": {"rest_s": 1.0, "result_hold_s": 1.0},
        })
    if args.db:
        cfg = cfg.replace(store=_replace(cfg.store, path=Path(args.db).resolve()))
    return cfg


def _replace(section: Any, **kw: Any) -> Any:
    import dataclasses
    return dataclasses.replace(section, **kw)


@dataclass
class Director:
    """Acts out residents through the stand-in hardware and waits for the kiosk to decide."""

    kiosk: Kiosk
    rng: random.Random
    camera: DemoCamera | None = None
    committed: list[tuple[int, Record]] = field(default_factory=list)
    _cv: threading.Condition = field(default_factory=threading.Condition)

    def on_commit(self, seq: int, record: Record) -> None:
        with self._cv:
            self.committed.append((seq, record))
            self._cv.notify_all()

    def _wait(self, cond: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        with self._cv:
            while not cond():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"demo: kiosk did not {what} within {STEP_TIMEOUT_S:.0f} s")
                self._cv.wait(min(left, 0.02))

    def _wait_record(self, before: int, what: str = "record a decision") -> None:
        self._wait(lambda: any(r.kind == "pass" for _, r in self.committed[before:]), what)

    def _state_is(self, *states: State) -> Callable[[], bool]:
        return lambda: self.kiosk.flow.state in states

    # ---------------------------------------------------------------- stand-in hardware

    def press(self, button: str, hold_s: float = 0.15) -> None:
        pin = self.kiosk.devices.buttons.pin(button)
        pin.drive_low()            # buttons pull up; pressed = low
        time.sleep(hold_s)
        pin.drive_high()

    def show_code(self, kind: str, holder: str, what: str = "react to the code") -> None:
        """Show a code and wait until the kiosk has taken it up as the current case."""
        verdict = stand_in_verdict(kind, holder, self.rng)
        self.kiosk.post(CodeRead(verdict, self.kiosk.clock.monotonic()))
        self._wait(lambda: (case := self.kiosk.flow.case) is not None and case.verdict is verdict, what)

    def show_payload(self, payload: bytes | str, look: Look | None = None,
                     what: str = "read the code through the camera") -> None:
        """Hold a phone showing ``payload`` up to the synthetic camera and wait until the kiosk
        has taken it up as the current case: rendered frames → cv2.VideoCapture → decoder →
        ``Kiosk.payload_seen`` → verifier → flow."""
        if self.camera is None:
            raise RuntimeError("demo: the director has no demo camera")
        before = self.kiosk.flow.case
        self.camera.show(payload, look)
        self._wait(lambda: (case := self.kiosk.flow.case) is not None and case is not before
                   and case.verdict is not None, what)

    def hold_forehead(self, body_c: float, ambient_c: float) -> Reading | None:
        """Stream samples at the module's rate until the kiosk has a new reading or stops measuring."""
        offset = self.kiosk.cfg.temperature.skin_offset_c
        case = self.kiosk.flow.case
        previous = case.reading if case else None
        deadline = time.monotonic() + 4.0
        while (self.kiosk.flow.state is State.MEASURING and time.monotonic() < deadline
               and (case is None or case.reading is previous)):
            noise = self.rng.uniform(-0.05, 0.05)
            self.kiosk.post(TempSample(object_c=body_c - offset + noise, ambient_c=ambient_c, body_c=None,
                                       t=self.kiosk.clock.monotonic()))
            time.sleep(1.0 / SAMPLE_HZ)
        return case.reading if case is not None and case.reading is not previous else None

    # ---------------------------------------------------------------- one resident

    def act(self, r: Resident) -> None:
        time.sleep(WALK_UP_S)
        before = len(self.committed)
        if r.emergency:
            self.press("emergency", hold_s=self.kiosk.cfg.gpio.emergency_hold_s + 0.2)
            self._wait(self._state_is(State.HOLD_OPEN), "hold the gate open")
            time.sleep(0.5)        # the crew goes through
            self.press("emergency", hold_s=self.kiosk.cfg.gpio.emergency_hold_s + 0.2)
            self._wait(self._state_is(State.IDLE), "end the hold-open")
            return
        if r.code == "none":
            # a press while the last result is still lit overrides that result; wait for idle
            self._wait(self._state_is(State.IDLE), "clear the last result")
            self.press(r.volunteer or "pass")
            self._wait_record(before)
            return
        holder = f"{self.rng.getrandbits(128):032x}"
        self.show_code(r.code, holder)
        for i, temp in enumerate(r.temps):
            if self.kiosk.flow.state is not State.MEASURING:
                break
            reading = self.hold_forehead(temp, r.ambient_c)
            if not (r.rests and reading is not None and reading.band == "high" and i + 1 < len(r.temps)):
                continue
            self._wait_record(before)
            if self.committed[-1][1].cause == "fever_retest":
                time.sleep(self.kiosk.cfg.flow.rest_s + 0.1)      # rests, then shows a fresh code
                before = len(self.committed)
                self.show_code(r.code, holder, "start the retest")
        self._wait(lambda: self.kiosk.flow.state is not State.MEASURING, "finish measuring")
        if self.kiosk.flow.state is State.VOLUNTEER:
            time.sleep(0.2)        # the volunteer walks over
            self.press(r.volunteer or "deny")
        self._wait_record(before)


def stand_in_verdict(kind: str, holder: str, rng: random.Random) -> CodeVerdict:
    """What verifying each kind of shown code concludes (stand-in until codes are rendered)."""
    reason = {"green": "ok", "yellow": "yellow", "red": "red", "expired": "expired", "forged": "bad_signature",
              "replayed": "replay", "wrong_scope": "wrong_scope", "revoked": "revoked"}[kind]
    colour = {"yellow": "yellow", "red": "red"}.get(kind, "green")
    return CodeVerdict(reason=reason, code_format="GK1", kind="dynamic", colour=colour, kid="d3m0k1d0",
                       issuer="demo-street", token_hash=f"{rng.getrandbits(128):032x}", holder_ref=holder)


# -------------------------------------------------------------------- output

def describe(seq: int, rec: Record) -> str:
    if rec.kind != "pass":
        who = f" volunteer {rec.volunteer_ref[:8]}" if rec.volunteer_ref else ""
        return f"{seq:5d}  {rec.kind:<14}{who}{' ' + rec.device if rec.device else ''}"
    temp = f"{rec.reading.value_c:4.1f}°C {rec.reading.band:<7}" if rec.reading else " " * 14
    code = rec.verdict.reason if rec.verdict else "no code"
    return f"{seq:5d}  {rec.decision:<14} code={code:<13} {temp}  cause={rec.cause}"


def summarise(db: Path, epoch: str, first_seq: int) -> dict[str, Any]:
    conn = connect_readonly(db)
    try:
        rows = [dict(r) for r in conn.execute(
            "SELECT * FROM records WHERE db_epoch = ? AND seq > ? ORDER BY seq", (epoch, first_seq))]
    finally:
        conn.close()
    passes = [r for r in rows if r["kind"] == "pass"]
    lat = sorted(r["latency_ms"] for r in passes)
    return {
        "passes": len(passes),
        "records": len(rows),
        "by_decision": dict(Counter(r["decision"] for r in passes)),
        "by_cause": dict(Counter(r["cause"] for r in passes)),
        "by_reason": dict(Counter(r["reason"] or "no_code" for r in passes)),
        "latency_ms": {"p50": round(_pct(lat, 50), 2), "p95": round(_pct(lat, 95), 2)},
        "db": str(db),
    }


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def run(args: argparse.Namespace) -> int:
    if args.residents < 1:
        raise ConfigError("--residents must be at least 1")
    logs.setup(level=logging.ERROR)
    cfg = demo_config(args)
    people = crowd(args.residents, args.seed)
    clock = SystemClock()
    stop = threading.Event()
    camera = DemoCamera(seed=args.seed, fps=cfg.camera.fps)
    with assembled(cfg, clock, frame_source=camera) as kiosk:
        first_seq = kiosk.store.last_seq
        director = Director(kiosk, random.Random(args.seed), camera)
        kiosk.on_commit(director.on_commit)
        if not args.json:
            kiosk.on_commit(lambda seq, rec: print(describe(seq, rec), flush=True))
        failure: list[BaseException] = []

        def act_out() -> None:
            try:
                for person in people:
                    director.act(person)
            except BaseException as exc:   # re-raised in the main thread below
                failure.append(exc)
            finally:
                stop.set()

        actors = threading.Thread(target=act_out, name="demo-director", daemon=True)
        actors.start()
        kiosk.run(stop)          # the kiosk loop owns the pass log, so it runs in this thread
        actors.join(timeout=5)
        if failure:
            raise failure[0]
        summary = summarise(cfg.db_path, kiosk.store.db_epoch, first_seq)
    camera.discard()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"\n{summary['passes']} decisions ({summary['records']} records) in {summary['db']}")
        print("by decision: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["by_decision"].items())))
        print("by cause:    " + ", ".join(f"{k} {v}" for k, v in sorted(summary["by_cause"].items())))
        print(f"decision latency: p50 {summary['latency_ms']['p50']} ms, p95 {summary['latency_ms']['p95']} ms")
    return 0
