"""The pass flow: a pure, clock-injected state machine from events to actions.

One resident at a time ("the case"): a code is read and verified, then a temperature is
measured within a timeout, then the decision is committed and — only then — the gate moves.
Volunteers override with the panel; faults send residents to the volunteer; nothing here
opens the gate without a valid code and a normal reading unless a volunteer says so, and a
deny or the next resident's code ends a pass pulse still running (``EndPulse``); only the
emergency hold-open is never cut short.

States::

    IDLE ──code ok──▶ MEASURING ──normal──▶ RESULT ──hold──▶ IDLE
      │                  │ high (first) ─▶ RESULT (deny, "rest and re-measure")
      │                  │ high (retest) ─▶ RESULT (deny, alert)
      │                  │ low×N, timeout, fault ─▶ VOLUNTEER ──pass/deny/timeout──▶ RESULT
      ├──code yellow/replay──▶ VOLUNTEER
      ├──code red/invalid──▶ RESULT (deny)
      └──emergency held 3 s (any state)──▶ HOLD_OPEN ──held again / max time──▶ IDLE
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from kiosk.config import Config
from kiosk.core import actions as A
from kiosk.core.events import (
    ButtonEdge,
    ButtonPress,
    CodeRead,
    DeviceFault,
    DeviceRecovered,
    EmergencyToggle,
    Event,
    RecordFailed,
    ShiftBadge,
    TempSample,
    Tick,
)
from kiosk.core.measure import MeasurementWindow, Unsteady
from kiosk.core.panel import Panel
from kiosk.core.policy import code_action, code_message, low_reading_message
from kiosk.core.records import Reading, Record
from kiosk.core.verdict import CodeVerdict

# An override while nobody is signed in says so in its record (and the buzzer calls for help).
UNATTRIBUTED = "unattributed"


# Not reaching the street server is no fault at the gate: decisions and records go on and are
# sent later. It is recorded like a fault (the office sees when the checkpoint was cut off) but
# only blinks the yellow LED when idle and is not announced.
OFFLINE_DEVICES = frozenset({"sync"})


class State(enum.Enum):
    IDLE = "idle"
    MEASURING = "measuring"
    VOLUNTEER = "volunteer"
    RESULT = "result"
    HOLD_OPEN = "hold_open"


@dataclass
class Case:
    """The resident currently at the gate."""

    verdict: CodeVerdict | None
    started: float
    cause: str = "no_code"
    reading: Reading | None = None
    low_tries: int = 0
    implausible_tries: int = 0
    retest: bool = False
    decided: str | None = None


@dataclass
class Flow:
    cfg: Config
    state: State = State.IDLE
    case: Case | None = None
    deadline: float | None = None
    faults: dict[str, str] = field(default_factory=dict)
    on_duty: str | None = None
    retests: dict[str, float] = field(default_factory=dict)   # holder_ref → time of the high reading
    calibration_c: float = 0.0      # thermometer offset from `kiosk thermometer calibrate`
    sample_hz: float | None = None  # the module's frame rate (kiosk.devices.thermometer.sample_hz)
    shift_started: float | None = None   # when the on-duty shift began (None: before a restart, unknown)
    badge_seen: dict[str, float] = field(default_factory=dict)   # badge → when it was last read
    reminded: float | None = None   # when "you are on duty" was last said

    def __post_init__(self) -> None:
        self.panel = Panel(bounce_s=self.cfg.gpio.button_bounce_s, hold_s=self.cfg.gpio.emergency_hold_s)
        self.window = MeasurementWindow(self.cfg.temperature, calibration_c=self.calibration_c,
                                        sample_hz=self.sample_hz)

    # ------------------------------------------------------------------ entry points

    def handle(self, ev: Event) -> list[A.Action]:
        """React to one event; return the actions to carry out, in order."""
        if isinstance(ev, ButtonEdge):
            out: list[A.Action] = []
            for derived in self.panel.edge(ev):
                out += self.handle(derived)
            return out
        if isinstance(ev, Tick):
            return self._tick(ev.t)
        if isinstance(ev, EmergencyToggle):
            return self._emergency(ev.t)
        if isinstance(ev, DeviceFault):
            return self._fault(ev)
        if isinstance(ev, DeviceRecovered):
            return self._recovered(ev)
        if isinstance(ev, ShiftBadge):
            return self._shift(ev.volunteer_ref, ev.t)
        if self.state is State.HOLD_OPEN:
            return []      # the gate is open for everyone; scans and samples mean nothing now
        if isinstance(ev, CodeRead):
            return self._code(ev.verdict, ev.t)
        if isinstance(ev, TempSample):
            return self._sample(ev)
        if isinstance(ev, ButtonPress):
            return self._button(ev.button, ev.t)
        if isinstance(ev, RecordFailed):
            return self._record_failed(ev.t)
        raise TypeError(f"unknown event {ev!r}")

    def next_deadline(self) -> float | None:
        """The earliest time a Tick would change something."""
        times = [t for t in (self.deadline, self.panel.next_deadline()) if t is not None]
        return min(times) if times else None

    # ------------------------------------------------------------------ codes and samples

    def _code(self, verdict: CodeVerdict, t: float) -> list[A.Action]:
        if (self.case is not None and self.state in (State.MEASURING, State.VOLUNTEER, State.RESULT)
                and verdict.token_hash is not None and self.case.verdict is not None
                and verdict.token_hash == self.case.verdict.token_hash):
            # the same code held up again while we are busy with it or showing its result (after
            # a pass the verifier would now call it a replay: it is the same resident, not a second)
            return []
        action = code_action(verdict)
        if action == "shift":
            return self._shift(verdict.holder_ref or "unknown", t)
        if action == "inspect":
            return self._inspection(verdict, t)
        # A new resident: whatever pulse the previous pass left running ends now, so nobody
        # walks through behind it (whatever this code turns out to be).
        out: list[A.Action] = [A.EndPulse()] + self._abandon(t)
        case = Case(verdict=verdict, started=t, cause=verdict.reason)
        self.case = case
        if action == "deny":
            return out + self._decide("deny", case, t, message=code_message(verdict), cause="code")
        if action == "volunteer":
            return out + self._to_volunteer(case, t, cause=verdict.reason, message=code_message(verdict))
        # A valid green code: measure, unless the thermometer is down or this is a retest too soon.
        ref = verdict.holder_ref
        if ref is not None and ref in self.retests:
            since = t - self.retests[ref]
            if since < self.cfg.flow.rest_s:
                return out + self._decide("deny", case, t, message="temp_rest_more", cause="resting")
            case.retest = True
        if "thermometer" in self.faults:
            return out + self._to_volunteer(case, t, cause="device_fault", message="see_volunteer")
        return out + self._start_measuring(case, t, message="please_measure")

    def _start_measuring(self, case: Case, t: float, message: str) -> list[A.Action]:
        self.state, self.case = State.MEASURING, case
        self.deadline = t + self.cfg.flow.temperature_timeout_s
        self.window.reset()
        return [A.SetLights("measuring"), A.Announce(message)]

    def _sample(self, ev: TempSample) -> list[A.Action]:
        if self.state is not State.MEASURING or self.case is None:
            return []
        result = self.window.add(ev)
        if result is None:
            return []
        if isinstance(result, Unsteady):
            return [A.Announce("temp_hold_still")]
        case = self.case
        case.reading = result
        band = result.band
        if band == "normal":
            if case.verdict and case.verdict.holder_ref:
                self.retests.pop(case.verdict.holder_ref, None)
            return self._decide("pass", case, ev.t, message="temp_normal_pass", cause="ok")
        if band == "high":
            if case.retest:
                return self._decide("deny", case, ev.t, message="temp_fever_denied", cause="fever",
                                    alert="fever")
            if case.verdict and case.verdict.holder_ref:
                self.retests[case.verdict.holder_ref] = ev.t
            return self._decide("deny", case, ev.t, message="temp_high_rest", cause="fever_retest")
        if band == "low":
            case.low_tries += 1
            message = low_reading_message(result.ambient_c, self.cfg.temperature.cold_ambient_c)
            if case.low_tries > self.cfg.flow.max_low_retries:
                cold = message == "temp_low_cold"
                return self._to_volunteer(case, ev.t, cause="cold" if cold else "low",
                                          message="see_volunteer_cold" if cold else "see_volunteer")
            return self._start_measuring(case, ev.t, message=message)
        # implausible: a hot object or a failing sensor, never a fever
        case.implausible_tries += 1
        if case.implausible_tries > self.cfg.flow.max_implausible_retries:
            out = self._to_volunteer(case, ev.t, cause="implausible", message="see_volunteer")
            return [A.Store(Record(kind="alarm", t=ev.t, device="thermometer",
                                   detail="repeated implausible readings"))] + out
        return self._start_measuring(case, ev.t, message="temp_implausible")

    # ------------------------------------------------------------------ volunteers

    def _button(self, button: str, t: float) -> list[A.Action]:
        if button == "remeasure":
            case = self.case
            # only a valid green code may end in an automatic pass after re-measuring
            if case is None or case.verdict is None or not case.verdict.ok or self.state is State.IDLE:
                return []
            if "thermometer" in self.faults:
                return [A.Announce("device_fault")]
            case.low_tries = case.implausible_tries = 0
            case.retest = case.retest or case.cause in ("fever_retest", "resting")
            return self._start_measuring(case, t, message="please_measure")
        if button not in ("pass", "deny"):
            return []
        case = self.case if self.state is not State.IDLE else None
        if case is None:
            case = Case(verdict=None, started=t, cause="no_code")
        decision = "manual_pass" if button == "pass" else "manual_deny"
        out = [] if self.on_duty else [A.Alert("unattributed_override")]
        message = "manual_pass" if button == "pass" else "manual_deny"
        return out + self._decide(decision, case, t, message=message, cause=case.decided or case.cause)

    def _to_volunteer(self, case: Case, t: float, cause: str, message: str) -> list[A.Action]:
        self.state, self.case = State.VOLUNTEER, case
        case.cause = cause
        self.deadline = t + self.cfg.flow.volunteer_timeout_s
        return [A.SetLights("volunteer"), A.Announce(message), A.Alert(cause)]

    def _shift(self, ref: str, t: float) -> list[A.Action]:
        """A volunteer badge: start, end or hand over a shift — or nothing, if it is only still in view.

        The camera reports a code again whenever it was out of sight for a few seconds, so a badge
        left lying in view is read again and again. A read counts as a showing only if the badge
        was not read for ``flow.shift_min_s`` before it; the on-duty badge ends its shift only
        with such a showing at least that long after the shift began. Every change is said aloud
        with what it was: started, ended, handed over; the on-duty badge shown too soon hears
        "you are on duty" (at most once per ``shift_min_s``) and the shift goes on."""
        min_s = self.cfg.flow.shift_min_s
        previous = self.badge_seen.get(ref)
        self.badge_seen = {b: when for b, when in self.badge_seen.items() if t - when < min_s}
        self.badge_seen[ref] = t
        fresh = previous is None or t - previous >= min_s
        if self.on_duty == ref:
            if self.shift_started is None:          # on duty since before a restart: this read sets the baseline
                self.shift_started = t
            if not fresh or t - self.shift_started < min_s:
                if self.reminded is not None and t - self.reminded < min_s:
                    return []
                self.reminded = t
                return [A.Announce("shift_still_on")]
            self.on_duty = self.shift_started = self.reminded = None
            return [A.Store(Record(kind="shift_end", t=t, volunteer_ref=ref)), A.Announce("shift_ended")]
        if not fresh:
            return []                               # just ended (or handed over), badge still in view
        out: list[A.Action] = []
        if self.on_duty is not None:
            out.append(A.Store(Record(kind="shift_end", t=t, volunteer_ref=self.on_duty)))
        message = "shift_handover" if self.on_duty is not None else "shift_started"
        self.on_duty, self.shift_started, self.reminded = ref, t, None
        return out + [A.Store(Record(kind="shift_start", t=t, volunteer_ref=ref)), A.Announce(message)]

    def _inspection(self, verdict: CodeVerdict, t: float) -> list[A.Action]:
        """An inspector's badge: the unannounced visit is a record — who (the badge's pseudonym), when,
        whether a volunteer is on duty (and who), and the kiosk's self-check (the devices at fault
        now). A badge still in view within ``flow.shift_min_s`` is the same visit."""
        ref = verdict.holder_ref or "unknown"
        last = self.badge_seen.get("inspector:" + ref)
        self.badge_seen["inspector:" + ref] = t
        if last is not None and t - last < self.cfg.flow.shift_min_s:
            return []
        check = "self-check ok" if not self.faults else "faults: " + ", ".join(sorted(self.faults))
        record = Record(kind="inspection", t=t, verdict=verdict, volunteer_ref=self.on_duty,
                        cause="staffed" if self.on_duty else "unstaffed", detail=check[:200])
        return [A.Store(record), A.Announce("inspection_recorded")]

    # ------------------------------------------------------------------ decisions

    def _decide(self, decision: str, case: Case, t: float, message: str, cause: str,
                alert: str | None = None) -> list[A.Action]:
        manual = decision.startswith("manual_")
        record = Record(kind="pass", t=t, decision=decision, cause=cause, verdict=case.verdict,
                        reading=case.reading, volunteer_ref=self.on_duty if manual else None,
                        detail=UNATTRIBUTED if manual and not self.on_duty else None)
        opens = decision in ("pass", "manual_pass")
        on_commit: tuple[A.GateAction, ...] = ()
        if opens:
            on_commit = (A.PulseGate(),) if case.verdict is None else (A.PulseGate(), A.UseCode(case.verdict))
        # A deny shuts a gate still open from the previous pass at once (closing needs no COMMIT).
        out: list[A.Action] = [] if opens else [A.EndPulse()]
        out += [A.Store(record, on_commit=on_commit), A.SetLights("pass" if opens else "deny"), A.Announce(message)]
        if alert:
            out.append(A.Alert(alert))
        case.decided = cause
        self.state, self.case = State.RESULT, case
        self.deadline = t + self.cfg.flow.result_hold_s
        return out

    def _abandon(self, t: float) -> list[A.Action]:
        """A new resident arrived while the previous case was unresolved: record it as denied."""
        case = self.case
        if case is None or self.state not in (State.MEASURING, State.VOLUNTEER):
            return []
        self.case, self.state = None, State.IDLE
        record = Record(kind="pass", t=t, decision="deny", cause="abandoned", verdict=case.verdict,
                        reading=case.reading)
        return [A.Store(record)]

    def _record_failed(self, t: float) -> list[A.Action]:
        case = self.case or Case(verdict=None, started=t)
        return self._to_volunteer(case, t, cause="log_failure", message="see_volunteer")

    # ------------------------------------------------------------------ time, faults, emergency

    def _tick(self, now: float) -> list[A.Action]:
        out: list[A.Action] = []
        for derived in self.panel.tick(now):
            out += self.handle(derived)
        horizon = now - self.cfg.flow.retest_window_s
        for ref in [r for r, when in self.retests.items() if when < horizon]:
            del self.retests[ref]
        if self.deadline is None or now < self.deadline:
            return out
        self.deadline = None
        if self.state is State.MEASURING and self.case is not None:
            return out + self._to_volunteer(self.case, now, cause="no_reading", message="see_volunteer")
        if self.state is State.VOLUNTEER and self.case is not None:
            case = self.case
            record = Record(kind="pass", t=now, decision="deny", cause="volunteer_timeout",
                            verdict=case.verdict, reading=case.reading)
            self._go_idle()
            return out + [A.EndPulse(), A.Store(record), A.SetLights(self.idle_lights())]
        if self.state is State.RESULT:
            self._go_idle()
            return out + [A.SetLights(self.idle_lights())]
        if self.state is State.HOLD_OPEN:
            self._go_idle()
            return out + [A.HoldGate(False), A.Store(Record(kind="hold_end", t=now, cause="timeout")),
                          A.SetLights(self.idle_lights()), A.Announce("emergency_closed"),
                          A.Alert("hold_open_timeout")]
        return out

    def _emergency(self, t: float) -> list[A.Action]:
        if self.state is State.HOLD_OPEN:
            self._go_idle()
            return [A.HoldGate(False),
                    A.Store(Record(kind="hold_end", t=t, cause="toggle", volunteer_ref=self.on_duty)),
                    A.SetLights(self.idle_lights()), A.Announce("emergency_closed")]
        out = self._abandon(t)
        record = Record(kind="pass", t=t, decision="emergency_open", cause="emergency",
                        volunteer_ref=self.on_duty, detail=None if self.on_duty else UNATTRIBUTED)
        self.state, self.case = State.HOLD_OPEN, None
        self.deadline = t + self.cfg.gpio.hold_open_max_s
        # Life safety first: the gate opens even if the log cannot be written (HoldGate is not
        # on_commit), but it is still ordered after the commit attempt.
        out += [A.Store(record), A.HoldGate(True), A.SetLights("hold_open"), A.Announce("emergency_open")]
        if not self.on_duty:
            out.append(A.Alert("unattributed_override"))
        return out

    def _fault(self, ev: DeviceFault) -> list[A.Action]:
        first = ev.device not in self.faults
        self.faults[ev.device] = ev.message
        out: list[A.Action] = []
        if first:
            out.append(A.Store(Record(kind="fault", t=ev.t, device=ev.device, detail=ev.message[:200])))
        if ev.device == "thermometer" and self.state is State.MEASURING and self.case is not None:
            return out + self._to_volunteer(self.case, ev.t, cause="device_fault", message="see_volunteer")
        if first and self.state is State.IDLE:
            out.append(A.SetLights(self.idle_lights()))
            if ev.device not in OFFLINE_DEVICES:
                out.append(A.Announce("device_fault"))
        if first and ev.device == "store":
            out.append(A.Alert("log_failure"))     # the log cannot be written: call someone now
        return out

    def _recovered(self, ev: DeviceRecovered) -> list[A.Action]:
        if self.faults.pop(ev.device, None) is None:
            return []
        out: list[A.Action] = [A.Store(Record(kind="recovered", t=ev.t, device=ev.device))]
        if self.state is State.IDLE:
            out.append(A.SetLights(self.idle_lights()))
        return out

    def _go_idle(self) -> None:
        self.state, self.case, self.deadline = State.IDLE, None, None

    def idle_lights(self) -> str:
        """Idle panel: a device fault blinks red; only being offline blinks yellow (also what a
        technician's light check restores, kiosk/service/control.py)."""
        if any(device not in OFFLINE_DEVICES for device in self.faults):
            return "fault"
        return "offline" if self.faults else "idle"
