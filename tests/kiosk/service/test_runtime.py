"""The assembled kiosk (real gpiozero mock devices, real SQLite) driven event by event on a fake clock."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.core.flow import State
from kiosk.core.verdict import CodeVerdict
from kiosk.passlog.reader import connect_readonly
from kiosk.service.assembly import assembled
from kiosk.service.runtime import Kiosk
from tests.conftest import ManualTimers


class Tape:
    """Records, at every COMMIT on the pass log, how many relay changes had happened and the relay state."""

    def __init__(self, kiosk: Kiosk) -> None:
        self.pin = kiosk.devices.factory.pin(kiosk.cfg.gpio.relay_pin)
        self.commits: list[tuple[int, bool]] = []
        kiosk.store.conn.set_trace_callback(self._trace)

    def _trace(self, sql: str) -> None:
        if sql.strip().upper() == "COMMIT":
            self.commits.append((len(self.pin.states), self.pin.state))


@pytest.fixture
def kiosk(cfg: Config, clock: FakeClock, timers: ManualTimers) -> Iterator[Kiosk]:
    with assembled(cfg, clock, timers) as k:
        k.timers = timers  # type: ignore[attr-defined]
        yield k


def green(token: str) -> CodeVerdict:
    return CodeVerdict(reason="ok", kind="dynamic", colour="green", token_hash=token, holder_ref="h" + token)


def pass_one(kiosk: Kiosk, clock: FakeClock, token: str, body_c: float = 36.6) -> None:
    kiosk.inbox.code_read(green(token))          # a green code, verified by the scan thread
    kiosk.pump()
    for _ in range(12):
        clock.advance(1 / 14)
        kiosk.inbox.sample_seen(body_c - kiosk.cfg.temperature.skin_offset_c, 21.0, None)
        kiosk.pump()
    clock.advance(kiosk.cfg.flow.result_hold_s)
    kiosk.pump()
    timers = getattr(kiosk, "timers", None)
    if timers is not None:
        timers.fire()            # the gate pulse ends


def test_relay_is_energised_only_after_the_row_is_committed(kiosk: Kiosk, clock: FakeClock) -> None:
    tape = Tape(kiosk)
    for i in range(3):
        pass_one(kiosk, clock, f"t{i}")
    pass_one(kiosk, clock, "hot", body_c=38.4)
    rows = [dict(r) for r in connect_readonly(kiosk.store.path).execute("SELECT * FROM records ORDER BY seq")]
    assert [r["decision"] for r in rows] == ["pass", "pass", "pass", "deny"]
    ons = [i for i, s in enumerate(tape.pin.states) if s.state is True]
    assert len(ons) == 3
    # each time the relay went on, a COMMIT had just happened with the relay still off
    pass_commits = tape.commits[:3]
    for on_index, (changes_at_commit, state_at_commit) in zip(ons, pass_commits, strict=True):
        assert state_at_commit is False
        assert on_index >= changes_at_commit


def test_no_relay_when_the_log_cannot_be_written(kiosk: Kiosk, clock: FakeClock) -> None:
    pass_one(kiosk, clock, "ok1")
    pages = kiosk.store.conn.execute("PRAGMA page_count").fetchone()[0]
    kiosk.store.conn.execute(f"PRAGMA max_page_count = {pages}")
    kiosk.store.conn.execute("PRAGMA secure_delete = OFF")
    # fill the last free pages so the next insert has nowhere to go
    rows_before = kiosk.store.last_seq
    relay_changes = len(kiosk.devices.factory.pin(kiosk.cfg.gpio.relay_pin).states)
    for i in range(30):
        pass_one(kiosk, clock, f"full{i}")
        if kiosk.flow.state is State.VOLUNTEER:
            break
    assert kiosk.flow.state is State.VOLUNTEER and kiosk.flow.case is not None
    assert kiosk.flow.case.cause == "log_failure"
    stored = connect_readonly(kiosk.store.path).execute("SELECT COUNT(*) FROM records").fetchone()[0]
    opened = sum(1 for s in kiosk.devices.factory.pin(kiosk.cfg.gpio.relay_pin).states[relay_changes:] if s.state)
    assert opened == stored - rows_before          # every opening has its row; the failed one did not open


def test_relay_off_after_close_and_journal_shows_it(cfg: Config, clock: FakeClock) -> None:
    with assembled(cfg, clock) as k:
        pass_one(k, clock, "x")
    lines = [json.loads(line) for line in Path(str(cfg.gpio.mock_journal)).read_text().splitlines()]
    relay = [line["state"] for line in lines if line["name"] == "relay"]
    assert relay[0] == 0 and relay[-1] == 0 and 1 in relay


def test_buttons_reach_the_flow_through_gpiozero(kiosk: Kiosk, clock: FakeClock) -> None:
    pin = kiosk.devices.buttons.pin("pass")
    pin.drive_low()
    clock.advance(0.2)
    pin.drive_high()
    kiosk.pump()
    row = connect_readonly(kiosk.store.path).execute("SELECT decision, cause FROM records").fetchone()
    assert tuple(row) == ("manual_pass", "no_code")


def test_emergency_hold_opens_and_releases_the_relay(kiosk: Kiosk, clock: FakeClock) -> None:
    pin = kiosk.devices.buttons.pin("emergency")
    relay = kiosk.devices.factory.pin(kiosk.cfg.gpio.relay_pin)
    pin.drive_low()
    kiosk.pump()
    clock.advance(kiosk.cfg.gpio.emergency_hold_s)
    kiosk.pump()
    assert relay.state is True and kiosk.flow.state is State.HOLD_OPEN
    pin.drive_high()
    clock.advance(kiosk.cfg.gpio.hold_open_max_s)
    kiosk.pump()
    assert relay.state is False and kiosk.flow.state is State.IDLE


def test_seq_continues_across_a_restart(cfg: Config, clock: FakeClock) -> None:
    with assembled(cfg, clock) as k:
        pass_one(k, clock, "a")
        epoch = k.store.db_epoch
    with assembled(cfg, clock) as k:
        pass_one(k, clock, "b")
        assert k.store.db_epoch == epoch
    seqs = [r[0] for r in connect_readonly(cfg.db_path).execute("SELECT seq FROM records ORDER BY seq")]
    assert seqs == [1, 2]


def test_without_trust_material_no_code_is_accepted(kiosk: Kiosk) -> None:
    kiosk.payload_seen(b"HC1:something")
    kiosk.pump()
    row = connect_readonly(kiosk.store.path).execute("SELECT decision, reason FROM records").fetchone()
    assert tuple(row) == ("deny", "unsupported_format")


def test_an_unwritable_state_dir_fails_at_start_with_the_relay_off(cfg: Config, clock: FakeClock,
                                                                   tmp_path: Path) -> None:
    bad = cfg.replace(store=dataclasses.replace(cfg.store, path=Path("/proc/forbidden/p.db")))
    from kiosk.errors import StoreError
    with pytest.raises(StoreError):
        with assembled(bad, clock):
            pass
    relay = [json.loads(line)["state"] for line in Path(str(cfg.gpio.mock_journal)).read_text().splitlines()
             if json.loads(line)["name"] == "relay"]
    assert relay == [0]


def relay_history(kiosk: Kiosk) -> list[bool]:
    """The relay pin's states, in order, from gpiozero's mock pin (its own record of every change)."""
    pin = kiosk.devices.factory.pin(kiosk.cfg.gpio.relay_pin)
    return [s.state for s in pin.states]


def test_a_deny_shuts_the_gate_still_open_from_the_previous_pass(kiosk: Kiosk, clock: FakeClock) -> None:
    timers = kiosk.timers  # type: ignore[attr-defined]
    kiosk.inbox.code_read(green("first"))
    kiosk.pump()
    for _ in range(12):
        clock.advance(1 / 14)
        kiosk.inbox.sample_seen(36.6 - kiosk.cfg.temperature.skin_offset_c, 21.0, None)
        kiosk.pump()
    assert relay_history(kiosk)[-1] is True              # the pass pulse is running (its timer has not fired)
    clock.advance(0.5)
    kiosk.inbox.code_read(CodeVerdict(reason="red", kind="dynamic", colour="red", token_hash="second"))
    kiosk.pump()
    assert relay_history(kiosk)[-2:] == [True, False]    # off at the deny, not when the pulse would end
    assert timers.fire() == 0                            # the pulse's own end was cancelled
    decisions = [r[0] for r in connect_readonly(kiosk.store.path).execute("SELECT decision FROM records")]
    assert decisions == ["pass", "deny"]


def test_a_deny_leaves_the_emergency_hold_open_alone(kiosk: Kiosk, clock: FakeClock) -> None:
    kiosk.inbox.button_edge("emergency", True)
    kiosk.pump()
    clock.advance(kiosk.cfg.gpio.emergency_hold_s)
    kiosk.pump()
    kiosk.inbox.button_edge("emergency", False)
    kiosk.inbox.code_read(CodeVerdict(reason="red", kind="dynamic", colour="red", token_hash="r"))
    kiosk.devices.relay.end_pulse()                      # even asked directly, the driver keeps it open
    kiosk.pump()
    assert relay_history(kiosk)[-1] is True and kiosk.flow.state is State.HOLD_OPEN
