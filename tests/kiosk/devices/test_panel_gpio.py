"""The assembled kiosk on gpiozero's mock pins and a fake clock: relay, LEDs and buzzer per
outcome, the emergency hold-open and its time limit, shifts and override attribution."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.core.events import CodeRead, TempSample
from kiosk.core.flow import State
from kiosk.core.verdict import CodeVerdict
from kiosk.passlog.reader import connect_readonly
from kiosk.passlog.shifts import MAX_SHIFT_S
from kiosk.service.assembly import assembled
from kiosk.service.runtime import Kiosk
from tests.conftest import ManualTimers

VOLUNTEER_A = "a" * 32
VOLUNTEER_B = "b" * 32


def with_gpio(cfg: Config, **kw: Any) -> Config:
    return cfg.replace(gpio=dataclasses.replace(cfg.gpio, **kw))


@pytest.fixture
def gate(cfg: Config, clock: FakeClock, timers: ManualTimers) -> Iterator[Kiosk]:
    with assembled(with_gpio(cfg, gate_pulse_s=0.2, hold_open_max_s=60.0), clock, timers) as kiosk:
        kiosk.timers = timers  # type: ignore[attr-defined]
        yield kiosk


def end_pulse(kiosk: Kiosk) -> None:
    """The relay's pulse timer runs out."""
    assert kiosk.timers.fire() == 1  # type: ignore[attr-defined]


def pin(kiosk: Kiosk, key: str) -> Any:
    return kiosk.devices.factory.pin(getattr(kiosk.cfg.gpio, key))


def levels(kiosk: Kiosk, key: str) -> list[bool]:
    return [s.state for s in pin(kiosk, key).states]


def finish_blinking(device: Any) -> None:
    """Wait for a gpiozero blink/beep with a count to end (as gpiozero's own tests do)."""
    thread = getattr(device, "_blink_thread", None)
    if thread is not None:
        thread.join(5)


def code(kind: str = "dynamic", reason: str = "ok", holder: str = "h" * 32) -> CodeVerdict:
    colour = {"red": "red", "yellow": "yellow"}.get(reason, "green")
    return CodeVerdict(reason=reason, kind=kind, colour=colour, token_hash=holder[::-1], holder_ref=holder)


def show(kiosk: Kiosk, verdict: CodeVerdict) -> None:
    kiosk.post(CodeRead(verdict, kiosk.clock.monotonic()))
    kiosk.pump()


def forehead(kiosk: Kiosk, body_c: float) -> None:
    offset = kiosk.cfg.temperature.skin_offset_c
    clock = kiosk.clock
    assert isinstance(clock, FakeClock)
    for _ in range(12):
        kiosk.post(TempSample(body_c - offset, 22.0, None, clock.monotonic()))
        clock.advance(0.07)
        kiosk.pump()


def press(kiosk: Kiosk, button: str, hold_s: float = 0.2) -> None:
    clock = kiosk.clock
    assert isinstance(clock, FakeClock)
    p = kiosk.devices.buttons.pin(button)
    p.drive_low()
    kiosk.pump()
    clock.advance(hold_s)
    kiosk.pump()
    p.drive_high()
    kiosk.pump()


def after(kiosk: Kiosk, seconds: float) -> None:
    clock = kiosk.clock
    assert isinstance(clock, FakeClock)
    clock.advance(seconds)
    kiosk.pump()


def said(kiosk: Kiosk) -> list[str]:
    return kiosk.executor.announcer.said  # type: ignore[attr-defined]


def records(kiosk: Kiosk) -> list[sqlite3.Row]:
    conn = connect_readonly(kiosk.cfg.db_path)
    try:
        return conn.execute("SELECT * FROM records ORDER BY seq").fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------------- lights and relay per outcome

def test_normal_pass_lights_yellow_then_green_and_pulses_the_relay_after_commit(gate: Kiosk) -> None:
    show(gate, code())
    assert gate.devices.indicators.modes == {"green": "off", "red": "off", "yellow": "on"}
    forehead(gate, 36.6)
    assert gate.devices.indicators.modes == {"green": "on", "red": "off", "yellow": "off"}
    end_pulse(gate)
    assert levels(gate, "relay_pin") == [False, True, False]          # one pulse
    assert levels(gate, "led_green_pin") == [False, True]
    assert levels(gate, "led_yellow_pin") == [False, True, False]
    assert [r["decision"] for r in records(gate)] == ["pass"]
    after(gate, gate.cfg.flow.result_hold_s)
    assert gate.devices.indicators.state == "idle"
    assert levels(gate, "led_green_pin") == [False, True, False]


def test_red_code_lights_red_and_never_touches_the_relay(gate: Kiosk) -> None:
    show(gate, code(reason="red"))
    assert gate.devices.indicators.modes["red"] == "on"
    assert levels(gate, "relay_pin") == [False]
    assert levels(gate, "buzzer_pin") == [False]
    assert said(gate) == ["code_red"]


def test_volunteer_needed_lights_yellow_and_red_and_buzzes(gate: Kiosk) -> None:
    show(gate, code(reason="yellow"))
    assert gate.devices.indicators.modes == {"green": "off", "red": "on", "yellow": "on"}
    finish_blinking(gate.devices.indicators.buzzer)
    assert levels(gate, "buzzer_pin") == [False, True, False, True, False, True, False]   # three beeps
    assert levels(gate, "relay_pin") == [False]


def test_fever_denies_with_red(gate: Kiosk) -> None:
    show(gate, code())
    forehead(gate, 38.2)
    assert gate.devices.indicators.modes["red"] == "on"
    assert levels(gate, "relay_pin") == [False]
    assert records(gate)[-1]["cause"] == "fever_retest"


def test_device_fault_blinks_red(gate: Kiosk) -> None:
    gate.inbox.device_fault("camera", "no frames for 10 s")
    gate.pump()
    assert gate.devices.indicators.modes["red"] == "blink"
    assert records(gate)[-1]["kind"] == "fault"


# ---------------------------------------------------------------------- emergency hold-open

def test_emergency_long_press_holds_the_gate_until_the_time_limit_then_announces(gate: Kiosk) -> None:
    p = gate.devices.buttons.pin("emergency")
    p.drive_low()
    gate.pump()
    after(gate, 2.9)
    assert not gate.devices.relay.is_open                      # not yet: a bump must not open the gate
    after(gate, 0.1)
    assert gate.devices.relay.is_open and gate.flow.state is State.HOLD_OPEN
    assert gate.devices.indicators.modes["green"] == "blink"
    p.drive_high()
    gate.pump()
    after(gate, 59.0)
    assert gate.devices.relay.is_open
    after(gate, 1.0)                                           # hold_open_max_s = 60 after the toggle
    assert not gate.devices.relay.is_open and gate.flow.state is State.IDLE
    assert levels(gate, "relay_pin") == [False, True, False]
    assert said(gate)[-2:] == ["emergency_open", "emergency_closed"]
    rows = records(gate)
    assert [(r["kind"], r["decision"], r["cause"]) for r in rows] == [
        ("pass", "emergency_open", "emergency"), ("hold_end", None, "timeout")]
    assert rows[0]["detail"] == "unattributed"                 # nobody signed in
    assert all(r["chain"] for r in rows)                       # both are in the audit trail


def test_emergency_second_long_press_ends_the_hold(gate: Kiosk) -> None:
    press(gate, "emergency", hold_s=3.5)
    assert gate.devices.relay.is_open
    after(gate, 5.0)
    press(gate, "emergency", hold_s=3.5)
    assert not gate.devices.relay.is_open
    assert [r["kind"] for r in records(gate)] == ["pass", "hold_end"]
    assert records(gate)[-1]["cause"] == "toggle"


# ---------------------------------------------------------------------- shifts and attribution

def test_overrides_are_attributed_to_the_volunteer_on_duty(gate: Kiosk) -> None:
    show(gate, code(kind="volunteer", holder=VOLUNTEER_A))
    assert gate.flow.on_duty == VOLUNTEER_A
    after(gate, 1.0)
    press(gate, "pass")                                        # elderly resident without a phone
    end_pulse(gate)
    assert levels(gate, "relay_pin") == [False, True, False]
    after(gate, 5.0)
    show(gate, code(reason="yellow"))
    press(gate, "deny")
    after(gate, gate.cfg.flow.shift_min_s)
    show(gate, code(kind="volunteer", holder=VOLUNTEER_A))     # the same badge again, later, ends the shift
    assert gate.flow.on_duty is None
    rows = records(gate)
    assert [(r["kind"], r["decision"], r["volunteer_ref"]) for r in rows] == [
        ("shift_start", None, VOLUNTEER_A), ("pass", "manual_pass", VOLUNTEER_A),
        ("pass", "manual_deny", VOLUNTEER_A), ("shift_end", None, VOLUNTEER_A)]
    assert [r["cause"] for r in rows[1:3]] == ["no_code", "yellow"]      # every override has a reason
    assert all(r["detail"] is None for r in rows)
    assert said(gate)[0] == "shift_started" and said(gate)[-1] == "shift_ended"


def test_an_override_with_nobody_on_duty_is_recorded_unattributed_and_alerted(gate: Kiosk) -> None:
    press(gate, "pass")
    finish_blinking(gate.devices.indicators.buzzer)
    row = records(gate)[-1]
    assert (row["decision"], row["volunteer_ref"], row["detail"]) == ("manual_pass", None, "unattributed")
    assert levels(gate, "buzzer_pin") == [False, True, False, True, False, True, False]


def test_another_badge_takes_over_the_shift(gate: Kiosk) -> None:
    show(gate, code(kind="volunteer", holder=VOLUNTEER_A))
    show(gate, code(kind="volunteer", holder=VOLUNTEER_B))
    assert gate.flow.on_duty == VOLUNTEER_B
    assert [(r["kind"], r["volunteer_ref"]) for r in records(gate)] == [
        ("shift_start", VOLUNTEER_A), ("shift_end", VOLUNTEER_A), ("shift_start", VOLUNTEER_B)]


def test_a_restart_keeps_the_volunteer_on_duty_but_not_a_forgotten_shift(cfg: Config, clock: FakeClock) -> None:
    with assembled(cfg, clock) as kiosk:
        show(kiosk, code(kind="volunteer", holder=VOLUNTEER_A))
    clock.advance(120)
    with assembled(cfg, clock) as kiosk:
        assert kiosk.flow.on_duty == VOLUNTEER_A
        press(kiosk, "deny")
        assert records(kiosk)[-1]["volunteer_ref"] == VOLUNTEER_A
    clock.advance(MAX_SHIFT_S)
    with assembled(cfg, clock) as kiosk:
        assert kiosk.flow.on_duty is None


def test_shift_records_carry_the_chain_and_sync_like_every_record(gate: Kiosk) -> None:
    show(gate, code(kind="volunteer", holder=VOLUNTEER_A))
    show(gate, code())
    forehead(gate, 36.5)
    rows = records(gate)
    assert [(r["kind"], bool(r["chain"])) for r in rows] == [("shift_start", True), ("pass", False)]
    assert rows[0]["kiosk_id"] == "test-kiosk" and rows[0]["seq"] == 1


def test_a_real_gk1_badge_attributes_the_panel_override_and_the_trail_verifies(
        cfg: Config, tmp_path: Path, timers: ManualTimers) -> None:
    from kiosk.codes.drill import Drill
    from kiosk.passlog import audit
    clock = FakeClock(wall=1_780_000_000.0, synced=True)
    drill = Drill(tmp_path / "trust", cfg.kiosk.compound, clock.wall(), gate=cfg.kiosk.gate)
    trusting = cfg.replace(codes=dataclasses.replace(cfg.codes, root_key=drill.root_key_path,
                                                     bundle=drill.bundle_path))
    badge = bytes(range(16, 32))
    with assembled(trusting, clock, timers) as kiosk:
        kiosk.payload_seen(drill.code("volunteer", badge, clock.wall()).encode())
        kiosk.pump()
        clock.advance(2.0)
        press(kiosk, "pass")
        end_pulse_of = timers.fire()
        assert end_pulse_of == 1 and levels(kiosk, "relay_pin") == [False, True, False]
        rows = records(kiosk)
    assert [(r["kind"], r["decision"], r["volunteer_ref"]) for r in rows] == [
        ("shift_start", None, badge.hex()), ("pass", "manual_pass", badge.hex())]
    conn = connect_readonly(trusting.db_path)
    try:
        report = audit.verify(conn)
    finally:
        conn.close()
    assert report.ok and report.checked == 2
