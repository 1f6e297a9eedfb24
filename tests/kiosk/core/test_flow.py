"""Every transition of the pass flow, driven by events on a fake clock (no hardware, no sleeps)."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk.config import Config
from kiosk.core import actions as A
from kiosk.core.events import (
    ButtonEdge,
    ButtonPress,
    CodeRead,
    DeviceFault,
    DeviceRecovered,
    RecordFailed,
    ShiftBadge,
    TempSample,
    Tick,
)
from kiosk.core.flow import Case, Flow, State
from kiosk.core.verdict import CodeVerdict

T0 = 1000.0


def case(d: Driver) -> Case:
    """The resident at the gate (the test expects one)."""
    assert d.flow.case is not None
    return d.flow.case


def verdict(reason: str = "ok", holder: str = "h1", token: str = "t1", kind: str = "dynamic") -> CodeVerdict:
    colour = {"yellow": "yellow", "red": "red"}.get(reason, "green")
    return CodeVerdict(reason=reason, kind=kind, colour=colour, kid="k", issuer="i",
                       token_hash=token, holder_ref=holder)


class Driver:
    """Feeds a Flow and keeps the time; samples come at 14 Hz like the GY module."""

    def __init__(self, cfg: Config) -> None:
        self.flow = Flow(cfg)
        self.cfg = cfg
        self.t = T0

    def at(self, dt: float) -> float:
        self.t += dt
        return self.t

    def code(self, v: CodeVerdict) -> list[A.Action]:
        return self.flow.handle(CodeRead(v, self.at(0.01)))

    def measure(self, body_c: float, ambient_c: float = 22.0, n: int = 12) -> list[A.Action]:
        """Hold a forehead reading ``body_c`` (raw object = body - skin offset) until a result."""
        offset = self.cfg.temperature.skin_offset_c
        out: list[A.Action] = []
        for _ in range(n):
            out += self.flow.handle(TempSample(body_c - offset, ambient_c, None, self.at(1 / 14)))
            if out:
                return out
        return out

    def tick(self, dt: float) -> list[A.Action]:
        return self.flow.handle(Tick(self.at(dt)))

    def press(self, button: str) -> list[A.Action]:
        out = self.flow.handle(ButtonEdge(button, True, self.at(0.5)))
        out += self.flow.handle(ButtonEdge(button, False, self.at(0.2)))
        return out


def stores(actions: list[A.Action]) -> list[A.Store]:
    return [a for a in actions if isinstance(a, A.Store)]


def announced(actions: list[A.Action]) -> list[str]:
    return [a.key for a in actions if isinstance(a, A.Announce)]


def the_record(actions: list[A.Action]):
    (store,) = [s for s in stores(actions) if s.record.kind == "pass"]
    return store


@pytest.fixture
def d(cfg: Config) -> Driver:
    return Driver(cfg)


def test_green_code_then_normal_reading_passes_and_gate_moves_only_on_commit(d: Driver) -> None:
    green = verdict()
    out = d.code(green)
    assert d.flow.state is State.MEASURING
    assert announced(out) == ["please_measure"] and A.SetLights("measuring") in out
    out = d.measure(36.6)
    store = the_record(out)
    assert store.record.decision == "pass" and store.record.cause == "ok"
    assert store.on_commit == (A.PulseGate(), A.UseCode(green))  # the gate opens and the code is spent
    assert not any(isinstance(a, (A.PulseGate, A.UseCode)) for a in out)     # only inside the Store
    assert store.record.reading is not None and store.record.reading.samples >= 5
    assert abs(store.record.reading.value_c - 36.6) < 0.1
    assert announced(out) == ["temp_normal_pass"]
    assert d.flow.state is State.RESULT
    assert d.tick(d.cfg.flow.result_hold_s) == [A.SetLights("idle")]
    assert d.flow.state is State.IDLE


def test_samples_in_idle_are_ignored(d: Driver) -> None:
    assert d.measure(36.6) == []
    assert d.flow.state is State.IDLE


def test_no_reading_before_timeout_goes_to_volunteer_then_denies_on_volunteer_timeout(d: Driver) -> None:
    d.code(verdict())
    assert d.tick(d.cfg.flow.temperature_timeout_s - 0.1) == []
    out = d.tick(0.2)
    assert d.flow.state is State.VOLUNTEER and case(d).cause == "no_reading"
    assert "see_volunteer" in announced(out) and A.Alert("no_reading") in out
    out = d.tick(d.cfg.flow.volunteer_timeout_s)
    rec = the_record(out).record
    assert (rec.decision, rec.cause) == ("deny", "volunteer_timeout")
    assert the_record(out).on_commit == ()
    assert d.flow.state is State.IDLE


def test_high_reading_asks_to_rest_and_the_retest_denies_with_alert(d: Driver) -> None:
    d.code(verdict(holder="feverish", token="a"))
    out = d.measure(38.2)
    rec = the_record(out).record
    assert (rec.decision, rec.cause) == ("deny", "fever_retest")
    assert announced(out) == ["temp_high_rest"] and the_record(out).on_commit == ()
    # back too early with a fresh code: told to rest more, not measured
    d.tick(d.cfg.flow.result_hold_s)
    out = d.code(verdict(holder="feverish", token="b"))
    assert the_record(out).record.cause == "resting" and announced(out) == ["temp_rest_more"]
    d.tick(d.cfg.flow.rest_s)
    d.code(verdict(holder="feverish", token="c"))
    assert d.flow.state is State.MEASURING and case(d).retest
    out = d.measure(38.0)
    rec = the_record(out).record
    assert (rec.decision, rec.cause) == ("deny", "fever")
    assert A.Alert("fever") in out and announced(out) == ["temp_fever_denied"]


def test_high_then_normal_after_rest_passes(d: Driver) -> None:
    d.code(verdict(holder="warm", token="a"))
    d.measure(37.5)
    d.tick(d.cfg.flow.rest_s + 1)
    d.code(verdict(holder="warm", token="b"))
    out = d.measure(36.8)
    assert the_record(out).record.decision == "pass"
    assert "warm" not in d.flow.retests


def test_low_readings_are_remeasured_then_the_volunteer_decides_never_normal(d: Driver) -> None:
    green = verdict()
    d.code(green)
    for attempt in range(d.cfg.flow.max_low_retries):
        out = d.measure(33.5, ambient_c=-2.0)
        assert stores(out) == [] and announced(out) == ["temp_low_cold"], attempt
        assert d.flow.state is State.MEASURING
    out = d.measure(33.5, ambient_c=-2.0)
    assert d.flow.state is State.VOLUNTEER and case(d).cause == "cold"
    assert announced(out) == ["see_volunteer_cold"] and stores(out) == []
    out = d.press("pass")
    rec = the_record(out).record
    assert (rec.decision, rec.cause) == ("manual_pass", "cold")
    assert rec.reading is not None and rec.reading.band == "low"
    assert the_record(out).on_commit == (A.PulseGate(), A.UseCode(green))


def test_only_a_decision_that_opens_the_gate_spends_its_code(d: Driver) -> None:
    """Moved from the verifier's tests: a denial lets nobody through, so its code stays good;
    a manual pass without a code opens the gate and spends nothing."""
    d.code(verdict())
    out = d.measure(38.5)                                       # first high reading: deny, rest
    assert the_record(out).record.decision == "deny" and the_record(out).on_commit == ()
    d.tick(d.cfg.flow.result_hold_s)
    out = d.press("pass")                                       # no code: an elderly resident
    assert the_record(out).on_commit == (A.PulseGate(),)


def test_low_reading_in_mild_weather_gets_the_plain_hint(d: Driver) -> None:
    d.code(verdict())
    assert announced(d.measure(34.0, ambient_c=20.0)) == ["temp_low"]


def test_unsteady_samples_ask_to_hold_still_and_keep_measuring(d: Driver) -> None:
    d.code(verdict())
    offset = d.cfg.temperature.skin_offset_c
    out: list[A.Action] = []
    for i in range(8):
        body = 36.0 if i % 2 else 37.0
        out += d.flow.handle(TempSample(body - offset, 22.0, None, d.at(1 / 14)))
    assert "temp_hold_still" in announced(out) and stores(out) == []
    assert d.flow.state is State.MEASURING


def test_repeated_implausible_readings_raise_an_alarm_and_call_the_volunteer(d: Driver) -> None:
    d.code(verdict())
    for _ in range(d.cfg.flow.max_implausible_retries):
        assert announced(d.measure(45.0)) == ["temp_implausible"]
    out = d.measure(45.0)
    kinds = [s.record.kind for s in stores(out)]
    assert kinds == ["alarm"] and d.flow.state is State.VOLUNTEER and case(d).cause == "implausible"


@pytest.mark.parametrize("reason", ["red", "expired", "bad_signature", "wrong_scope", "revoked",
                                    "unsupported_format", "not_yet_valid", "unknown_kid"])
def test_bad_codes_are_denied_without_measuring(d: Driver, reason: str) -> None:
    out = d.code(verdict(reason))
    rec = the_record(out).record
    assert (rec.decision, rec.cause, rec.verdict.reason) == ("deny", "code", reason)
    assert the_record(out).on_commit == () and d.flow.state is State.RESULT


@pytest.mark.parametrize("reason", ["yellow", "replay", "clock_untrusted", "stale_bundle"])
def test_doubtful_codes_go_to_the_volunteer(d: Driver, reason: str) -> None:
    out = d.code(verdict(reason))
    assert d.flow.state is State.VOLUNTEER and stores(out) == []
    out = d.press("deny")
    rec = the_record(out).record
    assert (rec.decision, rec.cause) == ("manual_deny", reason)


def test_manual_pass_without_a_code_is_recorded_and_alerts_when_nobody_is_on_duty(d: Driver) -> None:
    out = d.press("pass")
    rec = the_record(out).record
    assert (rec.decision, rec.cause, rec.volunteer_ref, rec.verdict) == ("manual_pass", "no_code", None, None)
    assert A.Alert("unattributed_override") in out


def test_overrides_are_attributed_to_the_volunteer_on_duty(d: Driver) -> None:
    out = d.flow.handle(ShiftBadge("vol-A", d.at(1)))
    assert [s.record.kind for s in stores(out)] == ["shift_start"] and d.flow.on_duty == "vol-A"
    out = d.press("deny")
    assert the_record(out).record.volunteer_ref == "vol-A"
    assert not any(isinstance(a, A.Alert) for a in out)
    # a badge of kind volunteer read by the camera, shown again later, ends the shift
    d.at(d.cfg.flow.shift_min_s)
    out = d.code(verdict(kind="volunteer", holder="vol-A"))
    assert [s.record.kind for s in stores(out)] == ["shift_end"] and d.flow.on_duty is None
    assert announced(out) == ["shift_ended"]


def test_handover_ends_one_shift_and_starts_the_next(d: Driver) -> None:
    d.flow.handle(ShiftBadge("vol-A", d.at(1)))
    out = d.flow.handle(ShiftBadge("vol-B", d.at(1)))
    assert [(s.record.kind, s.record.volunteer_ref) for s in stores(out)] == [
        ("shift_end", "vol-A"), ("shift_start", "vol-B")]
    assert announced(out) == ["shift_handover"]          # says which: not a plain start


def test_a_badge_left_in_view_neither_ends_nor_restarts_a_shift(d: Driver) -> None:
    """The street's report: one badge in view made 6 shift records in 4 minutes, the last 6 s apart."""
    badge = verdict(kind="volunteer", holder="vol-A", token="badge")
    out = d.code(badge)
    assert [s.record.kind for s in stores(out)] == ["shift_start"] and announced(out) == ["shift_started"]
    said: list[str] = []
    for gap in (6, 40, 25, 60, 6, 45, 30, 6, 50, 100):       # read again and again while it lies there
        out = d.flow.handle(CodeRead(badge, d.at(gap)))
        assert stores(out) == [] and d.flow.on_duty == "vol-A"
        said += announced(out)
    assert said and set(said) == {"shift_still_on"} and len(said) <= 3   # said so, but not at every read
    # picked up, and shown again a while later: that ends the shift
    out = d.flow.handle(CodeRead(badge, d.at(d.cfg.flow.shift_min_s)))
    assert [s.record.kind for s in stores(out)] == ["shift_end"] and announced(out) == ["shift_ended"]
    # left in view after ending: no new shift starts
    for gap in (6, 20, 40):
        assert d.flow.handle(CodeRead(badge, d.at(gap))) == [] and d.flow.on_duty is None


def test_the_on_duty_badge_shown_again_soon_after_starting_keeps_the_shift(d: Driver) -> None:
    d.flow.handle(ShiftBadge("vol-A", d.at(1)))
    out = d.flow.handle(ShiftBadge("vol-A", d.at(d.cfg.flow.shift_min_s / 2)))   # "did it take?"
    assert stores(out) == [] and announced(out) == ["shift_still_on"] and d.flow.on_duty == "vol-A"


def test_after_a_restart_the_first_read_of_the_on_duty_badge_does_not_end_the_shift(cfg: Config) -> None:
    d = Driver(cfg)
    d.flow.on_duty = "vol-A"                       # restored from the log (kiosk/passlog/shifts.py)
    assert announced(d.flow.handle(ShiftBadge("vol-A", d.at(1)))) == ["shift_still_on"]
    out = d.flow.handle(ShiftBadge("vol-A", d.at(cfg.flow.shift_min_s)))
    assert [s.record.kind for s in stores(out)] == ["shift_end"]


def test_an_override_right_after_a_machine_decision_refers_to_that_case(d: Driver) -> None:
    d.code(verdict("red", holder="r"))
    out = d.press("pass")
    rec = the_record(out).record
    assert (rec.decision, rec.cause, rec.verdict.reason) == ("manual_pass", "code", "red")


def test_emergency_needs_a_three_second_hold_and_opens_even_mid_case(d: Driver) -> None:
    d.code(verdict())
    assert d.flow.handle(ButtonEdge("emergency", True, d.at(0.1))) == []
    assert d.tick(d.cfg.gpio.emergency_hold_s - 0.05) == []
    out = d.tick(0.05)
    assert d.flow.state is State.HOLD_OPEN
    recs = [s.record for s in stores(out)]
    assert [(r.decision, r.cause) for r in recs] == [("deny", "abandoned"), ("emergency_open", "emergency")]
    hold = out.index(A.HoldGate(True))
    assert hold > max(out.index(s) for s in stores(out))      # ordered after the commit attempt
    # held longer does not toggle again; codes, samples and buttons are ignored while open
    assert d.tick(30) == []
    d.flow.handle(ButtonEdge("emergency", False, d.at(0.1)))
    assert d.code(verdict(token="x")) == [] and d.measure(36.5) == [] and d.press("deny") == []
    d.flow.handle(ButtonEdge("emergency", True, d.at(1)))
    out = d.tick(d.cfg.gpio.emergency_hold_s)
    assert A.HoldGate(False) in out and [s.record.kind for s in stores(out)] == ["hold_end"]
    assert d.flow.state is State.IDLE


def test_a_short_press_of_emergency_does_nothing(d: Driver) -> None:
    d.flow.handle(ButtonEdge("emergency", True, d.at(0.1)))
    d.flow.handle(ButtonEdge("emergency", False, d.at(1.0)))
    assert d.tick(10) == [] and d.flow.state is State.IDLE


def test_hold_open_ends_by_itself_and_announces(d: Driver) -> None:
    d.flow.handle(ButtonEdge("emergency", True, d.at(0.1)))
    d.tick(d.cfg.gpio.emergency_hold_s)
    d.flow.handle(ButtonEdge("emergency", False, d.at(0.1)))
    out = d.tick(d.cfg.gpio.hold_open_max_s)
    assert A.HoldGate(False) in out and "emergency_closed" in announced(out)
    assert stores(out)[0].record.cause == "timeout" and A.Alert("hold_open_timeout") in out


def test_thermometer_fault_sends_residents_to_the_volunteer_and_recovery_is_recorded(d: Driver) -> None:
    out = d.flow.handle(DeviceFault("thermometer", "port vanished", d.at(1)))
    assert [s.record.kind for s in stores(out)] == ["fault"] and A.SetLights("fault") in out
    assert d.flow.handle(DeviceFault("thermometer", "still gone", d.at(1))) == []     # recorded once
    d.code(verdict())
    assert d.flow.state is State.VOLUNTEER and case(d).cause == "device_fault"
    d.press("deny")
    out = d.flow.handle(DeviceRecovered("thermometer", d.at(1)))
    assert [s.record.kind for s in stores(out)] == ["recovered"]
    d.tick(d.cfg.flow.result_hold_s)
    d.code(verdict(token="t2"))
    assert d.flow.state is State.MEASURING


def test_thermometer_unplugged_mid_measurement(d: Driver) -> None:
    d.code(verdict())
    out = d.flow.handle(DeviceFault("thermometer", "unplugged", d.at(0.2)))
    assert d.flow.state is State.VOLUNTEER and "see_volunteer" in announced(out)


def test_a_new_resident_abandons_the_unfinished_case(d: Driver) -> None:
    d.code(verdict(holder="a", token="a"))
    out = d.code(verdict(holder="b", token="b"))
    rec = the_record(out).record
    assert rec.verdict is not None and (rec.decision, rec.cause, rec.verdict.holder_ref) == ("deny", "abandoned", "a")
    now = case(d).verdict
    assert now is not None and now.holder_ref == "b"
    assert d.flow.state is State.MEASURING


def test_the_same_code_held_up_again_is_ignored(d: Driver) -> None:
    d.code(verdict(token="same"))
    assert d.code(verdict(token="same")) == []
    assert d.flow.state is State.MEASURING


def test_remeasure_button_restarts_measuring_for_valid_codes_only(d: Driver) -> None:
    d.code(verdict())
    d.tick(d.cfg.flow.temperature_timeout_s)
    assert d.flow.state is State.VOLUNTEER
    assert d.press("remeasure") == [A.SetLights("measuring"), A.Announce("please_measure")]
    assert d.flow.state is State.MEASURING
    assert d.press("remeasure") != []          # works while measuring too
    d.tick(d.cfg.flow.temperature_timeout_s)
    d.tick(d.cfg.flow.volunteer_timeout_s)
    assert d.flow.state is State.IDLE
    assert d.press("remeasure") == []          # nothing to re-measure when idle
    d.code(verdict("yellow", token="y"))
    assert d.press("remeasure") == []          # a yellow code is the volunteer's call, not a reading's
    assert d.flow.state is State.VOLUNTEER


def test_record_failure_calls_the_volunteer(d: Driver) -> None:
    d.code(verdict())
    d.measure(36.6)
    out = d.flow.handle(RecordFailed("disk full", d.at(0.01)))
    assert d.flow.state is State.VOLUNTEER and case(d).cause == "log_failure"
    assert "see_volunteer" in announced(out)


def test_debounce_and_two_buttons_at_once(d: Driver) -> None:
    t = d.at(1)
    assert d.flow.panel.edge(ButtonEdge("pass", True, t)) == []               # a press acts on release
    assert d.flow.panel.edge(ButtonEdge("pass", False, t + 0.01)) == []      # bounce
    assert d.flow.panel.edge(ButtonEdge("pass", True, t + 0.02)) == []       # still the same press
    assert d.flow.panel.edge(ButtonEdge("deny", True, t + 0.5)) == []        # pass is still held
    assert d.flow.panel.edge(ButtonEdge("pass", False, t + 1.0)) == []       # two at once: neither counts
    assert d.flow.panel.edge(ButtonEdge("deny", False, t + 1.1)) == []
    assert d.flow.panel.edge(ButtonEdge("deny", True, t + 2.0)) == []
    assert d.flow.panel.edge(ButtonEdge("deny", False, t + 2.2)) == [ButtonPress("deny", t + 2.2)]


def test_next_deadline_reflects_timeouts_and_the_emergency_hold(d: Driver) -> None:
    assert d.flow.next_deadline() is None
    d.code(verdict())
    assert d.flow.next_deadline() == pytest.approx(d.t + d.cfg.flow.temperature_timeout_s)
    d.flow.handle(ButtonEdge("emergency", True, d.at(0.1)))
    assert d.flow.next_deadline() == pytest.approx(d.t + d.cfg.gpio.emergency_hold_s)


def test_body_mode_samples_skip_compensation(cfg: Config) -> None:
    cfg = cfg.replace(temperature=dataclasses.replace(cfg.temperature, skin_offset_c=2.0))
    d = Driver(cfg)
    d.code(verdict())
    out: list[A.Action] = []
    for _ in range(12):
        out += d.flow.handle(TempSample(30.0, 22.0, 36.7, d.at(1 / 14)))
    rec = the_record(out).record
    assert rec.decision == "pass" and abs(rec.reading.value_c - 36.7) < 0.01


def test_losing_the_street_server_blinks_yellow_but_is_no_device_fault(d: Driver) -> None:
    out = d.flow.handle(DeviceFault("sync", "no successful sync for 35 min", d.at(1)))
    assert [s.record.kind for s in stores(out)] == ["fault"]
    assert A.SetLights("offline") in out and announced(out) == []
    d.code(verdict())
    assert d.flow.state is State.MEASURING                    # residents pass as usual
    out = d.flow.handle(DeviceFault("camera", "no frames", d.at(1)))
    d.press("deny")
    d.tick(d.cfg.flow.result_hold_s)
    assert d.flow.idle_lights() == "fault"                   # a real fault outranks being offline
    d.flow.handle(DeviceRecovered("camera", d.at(1)))
    assert d.flow.idle_lights() == "offline"
    out = d.flow.handle(DeviceRecovered("sync", d.at(1)))
    assert A.SetLights("idle") in out


# --------------------------------------------------------------------------- a deny shuts the gate


@pytest.mark.parametrize("reason", ["red", "expired", "bad_signature", "revoked"])
def test_a_denied_code_ends_the_previous_pass_pulse_before_anything_else(d: Driver, reason: str) -> None:
    d.code(verdict(token="first"))
    assert the_record(d.measure(36.6)).on_commit[0] == A.PulseGate()
    out = d.code(verdict(reason, holder="h2", token="second"))      # the next resident, still inside the pulse
    assert out[0] == A.EndPulse() and the_record(out).record.decision == "deny"
    assert not any(isinstance(a, A.PulseGate) for a in out)


def test_every_new_case_ends_a_running_pulse_and_a_manual_deny_does_too(d: Driver) -> None:
    d.code(verdict(token="first"))
    d.measure(36.6)
    out = d.code(verdict("yellow", holder="h2", token="second"))     # to the volunteer: a new case all the same
    assert out[0] == A.EndPulse() and d.flow.state is State.VOLUNTEER
    out = d.press("deny")
    assert out.index(A.EndPulse()) < out.index(the_record(out)) and the_record(out).record.decision == "manual_deny"
    out = d.press("pass")                                              # a pass never ends its own pulse
    assert A.EndPulse() not in out and the_record(out).on_commit[0] == A.PulseGate()
    d.tick(d.cfg.flow.result_hold_s)
    d.code(verdict(token="third"))
    d.tick(d.cfg.flow.temperature_timeout_s)
    assert A.EndPulse() in d.tick(d.cfg.flow.volunteer_timeout_s)     # the volunteer timeout's deny


def test_nothing_ends_the_emergency_hold_open(d: Driver) -> None:
    d.flow.handle(ButtonEdge("emergency", True, d.at(0.1)))
    d.tick(d.cfg.gpio.emergency_hold_s)
    d.flow.handle(ButtonEdge("emergency", False, d.at(0.1)))
    out = d.code(verdict("red", token="r")) + d.press("deny") + d.code(verdict(token="g"))
    assert A.EndPulse() not in out and d.flow.state is State.HOLD_OPEN


def test_an_inspectors_badge_records_the_visit_with_who_is_on_duty_and_the_self_check(d: Driver) -> None:
    badge = verdict(kind="inspector", holder="insp-1", token="insp")
    out = d.code(badge)                                       # nobody on duty, every device fine
    (store,) = stores(out)
    rec = store.record
    assert (rec.kind, rec.cause, rec.volunteer_ref, rec.detail) == ("inspection", "unstaffed", None, "self-check ok")
    assert rec.verdict is badge and announced(out) == ["inspection_recorded"]
    assert not any(isinstance(a, (A.PulseGate, A.SetLights)) for a in out)   # the gate and the lights stay as they are
    assert d.code(badge) == []                                # still in view: the same visit
    d.flow.handle(ShiftBadge("vol-A", d.at(1)))
    d.flow.handle(DeviceFault("camera", "no frames", d.at(1)))
    d.at(d.cfg.flow.shift_min_s)
    (store,) = stores(d.code(badge))                          # a later visit
    rec = store.record
    assert (rec.cause, rec.volunteer_ref, rec.detail) == ("staffed", "vol-A", "faults: camera")
