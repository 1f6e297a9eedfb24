"""`kiosk demo`: the whole kiosk on stand-in hardware, with a scripted crowd at the gate.

The kiosk runs exactly as `kiosk run` does — real gpiozero devices on the mock pin factory,
the real pass log, the real flow loop, the real thermometer driver reading a simulated module
on a pseudo-terminal — while a director acts out each resident of :mod:`kiosk.demo.crowd`:
showing a code, holding a forehead in front of the simulated sensor, a volunteer pressing panel
buttons on the mock pins. One line per decision, then a summary.
The codes are real: a throwaway root/street/issuer key set signs a trust bundle the kiosk is
configured to trust, and every resident's code is issued and verified like any other
(:mod:`kiosk.codes.drill`). Residents hold them up to the synthetic camera
(:class:`hardware_mocks.camera.DemoCamera`): each code is rendered on a phone, written as a
clip and read back through ``cv2.VideoCapture``, the capture and scan threads and the decoder,
exactly as a USB camera's frames are. A volunteer badge starts the shift at the beginning and
ends it at the end. This is the only production module allowed to import ``hardware_mocks``.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardware_mocks.camera import CATEGORIES, DemoCamera, Look
from hardware_mocks.thermometer import PtyThermometer
from kiosk import config as config_mod
from kiosk.clock import SystemClock
from kiosk.codes.drill import Drill
from kiosk.codes.verifier import CodeVerifier
from kiosk.config import Config
from kiosk.core.flow import State
from kiosk.core.measure import object_for_body
from kiosk.core.records import Reading, Record
from kiosk.demo.crowd import Resident, crowd
from kiosk.demo.street import EmbeddedStreet
from kiosk.errors import ConfigError
from kiosk.passlog.reader import connect_readonly
from kiosk.service.assembly import assembled
from kiosk.service.runtime import Kiosk
from sync.errors import SyncFailed

STEP_TIMEOUT_S = 15.0
HOLD_MAX_S = 4.0          # a resident gives up holding their forehead after this long
WALK_UP_S = 0.15          # between residents (also keeps a volunteer's presses apart)
SHOW_TRIES = 3            # a resident whose code the camera did not read holds it up again
# how residents hold their phones up: mostly plainly, some in dark mode, at an angle, noisy
LOOKS = ("clean", "clean", "clean", "dark_mode", "angle", "noise_jpeg")


# The demo's own pacing, over any --config too: a scripted crowd cannot rest three minutes before
# re-measuring, and a replayed screenshot may follow its original within seconds (the camera must
# not swallow it as the same sighting).
PACING: dict[str, dict[str, float]] = {
    "gpio": {"gate_pulse_s": 1.0},
    "flow": {"rest_s": 1.0, "result_hold_s": 1.0, "shift_min_s": 10.0},
    "camera": {"dedupe_s": 1.0},
}


def demo_config(args: argparse.Namespace) -> Config:
    """The stand-in configuration: mock pins, the demo's pacing, a temp state dir (or --config's)."""
    if args.config:
        cfg = config_mod.load(args.config)
        if cfg.gpio.pin_factory != "mock":
            raise ConfigError(f"{args.config}: the demo needs stand-in hardware (gpio.pin_factory = 'mock')")
    else:
        state = Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
        cfg = config_mod.from_dict({
            "kiosk": {"id": "demo-kiosk", "state_dir": str(state), "runtime_dir": str(state / "run")},
            "gpio": {"pin_factory": "mock"},
            "voice": {"device": "null"},      # real aplay (and espeak-ng for clips not built), no sound card
        })
    cfg, changed = paced(cfg)
    if args.config and changed:
        print(f"kiosk demo: the demo's pacing replaces {args.config}'s " + ", ".join(changed), file=sys.stderr)
    if args.db:
        cfg = cfg.replace(store=_replace(cfg.store, path=Path(args.db).resolve()))
    return cfg


def paced(cfg: Config) -> tuple[Config, list[str]]:
    """``cfg`` with :data:`PACING` applied, and what changed ("flow.rest_s 180 → 1 s")."""
    changed: list[str] = []
    for section, values in PACING.items():
        old = getattr(cfg, section)
        for key, value in values.items():
            if getattr(old, key) != value:
                changed.append(f"{section}.{key} {getattr(old, key):g} → {value:g} s")
        cfg = cfg.replace(**{section: _replace(old, **values)})
    return cfg, changed


def trust_drill(cfg: Config) -> tuple[Config, Drill]:
    """Throwaway trust material in the state dir, and the config pointed at it (whatever it said)."""
    drill = Drill(cfg.kiosk.state_dir / "demo-codes", cfg.kiosk.compound, time.time(), gate=cfg.kiosk.gate)
    codes = _replace(cfg.codes, root_key=drill.root_key_path, bundle=drill.bundle_path)
    return cfg.replace(codes=codes), drill


def _replace(section: Any, **kw: Any) -> Any:
    return dataclasses.replace(section, **kw)


@dataclass
class Director:
    """Acts out residents through the stand-in hardware and waits for the kiosk to decide."""

    kiosk: Kiosk
    rng: random.Random
    drill: Drill
    thermometer: PtyThermometer
    camera: DemoCamera | None = None        # None: payloads go straight to Kiosk.payload_seen
    committed: list[tuple[int, Record]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    shown: dict[str, str] = field(default_factory=dict)        # token_hash → payload shown
    last_used: str | None = None                               # the payload of the last code that passed
    _cv: threading.Condition = field(default_factory=threading.Condition)

    def on_commit(self, seq: int, record: Record) -> None:
        """Runs right after COMMIT and the gate action: input event → gate is the decision latency."""
        if record.kind == "pass":
            self.latencies_ms.append((self.kiosk.clock.monotonic() - record.t) * 1000)
        with self._cv:
            self.committed.append((seq, record))
            v = record.verdict
            if record.decision in ("pass", "manual_pass") and v is not None and v.token_hash in self.shown:
                self.last_used = self.shown[v.token_hash]
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

    def payload_for(self, kind: str, holder: bytes) -> str:
        """The code this resident shows: issued now, or (replayed) a screenshot of one just used."""
        if kind == "replayed":
            if self.last_used is not None:
                return self.last_used
            payload = self.drill.code("green", holder, self.kiosk.clock.wall())
            verifier = self.kiosk.verifier
            assert isinstance(verifier, CodeVerifier)
            verifier.mark_used(verifier.verify(payload.encode()))     # used a moment ago
            return payload
        return self.drill.code(kind, holder, self.kiosk.clock.wall())

    def show_code(self, kind: str, holder: bytes, what: str = "react to the code") -> None:
        """Hold a code up to the camera and wait until the kiosk has taken it up as the current case."""
        payload = self.payload_for(kind, holder)
        verdict = self.kiosk.verifier.verify(payload.encode())   # check-only: what the kiosk will conclude
        if verdict.token_hash:
            self.shown[verdict.token_hash] = payload
        self.show_payload(payload, what=what)

    def scan_badge(self, ref: bytes, on_duty: bool) -> None:
        """A volunteer scans their badge to start (or end) the shift."""
        self.show_payload(self.drill.code("volunteer", ref, self.kiosk.clock.wall()),
                          until=lambda: (self.kiosk.flow.on_duty is not None) is on_duty,
                          what="start the shift" if on_duty else "end the shift")

    def show_payload(self, payload: bytes | str, until: Callable[[], bool] | None = None,
                     what: str = "read the code through the camera", look: Look | None = None) -> None:
        """Hold a phone showing ``payload`` up to the synthetic camera until ``until()`` (default:
        the kiosk has taken it up as a new case): rendered frames → cv2.VideoCapture → decoder →
        ``Kiosk.payload_seen`` → verifier → flow. A code the camera did not read while the clip
        played is held up again, like a resident would, up to SHOW_TRIES times."""
        previous = self.kiosk.flow.case
        if until is None:
            until = lambda: (case := self.kiosk.flow.case) is not None and case is not previous  # noqa: E731
        if self.camera is None:
            self.kiosk.payload_seen(payload.encode() if isinstance(payload, str) else payload)
            self._wait(until, what)
            return
        for _ in range(SHOW_TRIES):
            self.camera.show(payload, look or CATEGORIES[self.rng.choice(LOOKS)](self.rng))
            look = None
            deadline = time.monotonic() + STEP_TIMEOUT_S
            with self._cv:
                while not until():
                    if self.camera.clips_done.is_set() or time.monotonic() > deadline:
                        break
                    self._cv.wait(0.02)
                else:
                    return
        # the clip may have ended just as its last frame was being decoded
        self._wait(until, f"{what} (the camera did not read the code in {SHOW_TRIES} tries)")

    def hold_forehead(self, body_c: float, ambient_c: float) -> Reading | None:
        """Hold a forehead in front of the simulated sensor until the kiosk has a new reading
        (or stops measuring), then step back. The module reports what it would see: raw object
        temperature for raw-object modules, its own body value for body-mode ones."""
        kiosk = self.kiosk
        calibration_c = kiosk.flow.calibration_c
        case = kiosk.flow.case
        previous = case.reading if case else None
        self.thermometer.set_target(object_for_body(body_c, ambient_c, kiosk.cfg.temperature, calibration_c),
                                    ambient_c, body_c=body_c - calibration_c)
        deadline = time.monotonic() + HOLD_MAX_S
        try:
            with self._cv:
                while (kiosk.flow.state is State.MEASURING and time.monotonic() < deadline
                       and (case is None or case.reading is previous)):
                    self._cv.wait(0.02)
        finally:
            self.thermometer.clear_target(ambient_c)
            time.sleep(self.step_back_s)      # the sensor sees nobody before the next attempt
        return case.reading if case is not None and case.reading is not previous else None

    @property
    def step_back_s(self) -> float:
        return 2.5 / max(self.thermometer.rate_hz, self.kiosk.cfg.thermometer.poll_hz)

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
        holder = self.rng.getrandbits(128).to_bytes(16, "big")
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


# -------------------------------------------------------------------- output

def describe(seq: int, rec: Record) -> str:
    if rec.kind != "pass":
        who = f" volunteer {rec.volunteer_ref[:8]}" if rec.volunteer_ref else ""
        return f"{seq:5d}  {rec.kind:<14}{who}{' ' + rec.device if rec.device else ''}"
    temp = f"{rec.reading.value_c:4.1f}°C {rec.reading.band:<7}" if rec.reading else " " * 14
    code = rec.verdict.reason if rec.verdict else "no code"
    return f"{seq:5d}  {rec.decision:<14} code={code:<13} {temp}  cause={rec.cause}"


def summarise(db: Path, epoch: str, first_seq: int, latencies_ms: list[float]) -> dict[str, Any]:
    conn = connect_readonly(db)
    try:
        rows = [dict(r) for r in conn.execute(
            "SELECT * FROM records WHERE db_epoch = ? AND seq > ? ORDER BY seq", (epoch, first_seq))]
    finally:
        conn.close()
    passes = [r for r in rows if r["kind"] == "pass"]
    lat = sorted(latencies_ms)
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


def play(args: argparse.Namespace) -> dict[str, Any]:
    """Act out the crowd of ``args`` (residents, seed, config, db) on the stand-ins; return the
    summary, including what the embedded street server holds. Prints one line per decision
    unless ``args.json``."""
    if args.residents < 1:
        raise ConfigError("--residents must be at least 1")
    cfg, drill = trust_drill(demo_config(args))
    people = crowd(args.residents, args.seed)
    clock = SystemClock()
    stop = threading.Event()
    camera = DemoCamera(seed=args.seed, fps=cfg.camera.fps)
    with PtyThermometer(cfg.thermometer.protocol, seed=args.seed) as sim:
        cfg = cfg.replace(thermometer=_replace(cfg.thermometer, enabled=True, port=sim.path))
        street = EmbeddedStreet(cfg)
        with street, assembled(street.cfg, clock, frame_source=camera) as kiosk:
            first_seq = kiosk.store.last_seq
            director = Director(kiosk, random.Random(args.seed), drill, sim, camera)
            kiosk.on_commit(director.on_commit)
            if not args.json:
                kiosk.on_commit(lambda seq, rec: print(describe(seq, rec), flush=True))
            failure: list[BaseException] = []

            def act_out() -> None:
                try:
                    badge = director.rng.getrandbits(128).to_bytes(16, "big")
                    director.scan_badge(badge, on_duty=True)
                    on_duty_since = time.monotonic()
                    for person in people:
                        director.act(person)
                    # the volunteer leaves no sooner than a shift can end (flow.shift_min_s)
                    time.sleep(max(WALK_UP_S, cfg.flow.shift_min_s + 0.2 - (time.monotonic() - on_duty_since)))
                    director.scan_badge(badge, on_duty=False)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
                    failure.append(exc)
                finally:
                    stop.set()

            actors = threading.Thread(target=act_out, name="demo-director", daemon=True)
            actors.start()
            street.start_background()
            kiosk.run(stop)          # the kiosk loop owns the pass log, so it runs in this thread
            actors.join(timeout=5)
            if failure:
                raise failure[0]
            summary = summarise(cfg.db_path, kiosk.store.db_epoch, first_seq, director.latencies_ms)
            check = street.finish(cfg.db_path)
        summary.update(server_records=check.server_records, duplicates=check.duplicates)
        if not check.exact:
            raise SyncFailed(f"demo: the street server does not hold exactly the kiosk's records: {check}")
    camera.discard()
    return summary
