"""Disk full at the size cap (T-DB-6) under both fail policies, in the assembled kiosk on a fake clock.

The log is brought to SQLITE_FULL with real rows (``max_page_count`` at its current size), so
every failure here is SQLite's own. The real-filesystem and injected-I/O-error versions run in
child processes (test_storage_faults.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.core.flow import State
from kiosk.core.records import Record
from kiosk.passlog import audit
from kiosk.passlog.reader import connect_readonly
from kiosk.service.assembly import assembled
from kiosk.service.housekeeping import Housekeeper
from kiosk.service.runtime import Kiosk
from kiosk.service.sdnotify import Notifier
from tests.conftest import ManualTimers
from tests.faults.support import check_log, decide_pass, fill_to_cap, relay_ons, space_returns, with_store
from tests.kiosk.service.test_runtime import pass_one

ALARM_BUDGET_S = 5.0


@pytest.fixture
def deny_kiosk(cfg: Config, clock: FakeClock, timers: ManualTimers) -> Iterator[Kiosk]:
    with assembled(with_store(cfg, fail_policy="deny"), clock, timers) as k:
        k.timers = timers  # type: ignore[attr-defined]
        yield k


@pytest.fixture
def hold_kiosk(cfg: Config, clock: FakeClock, timers: ManualTimers) -> Iterator[Kiosk]:
    with assembled(with_store(cfg, fail_policy="hold", hold_max_records=20000), clock, timers) as k:
        k.timers = timers  # type: ignore[attr-defined]
        yield k


def committed_by_listener(kiosk: Kiosk) -> list[int]:
    seen: list[int] = []
    kiosk.on_commit(lambda seq, _rec: seen.append(seq))
    return seen


def not_filler(rows: list[dict]) -> list[int]:
    return [r["seq"] for r in rows if r["device"] != "filler"]


def test_default_policy_is_deny() -> None:
    assert Config().store.fail_policy == "deny"


def test_deny_keeps_the_gate_shut_raises_the_alarm_and_writes_everything_when_space_returns(
        deny_kiosk: Kiosk, clock: FakeClock) -> None:
    k = deny_kiosk
    reported = committed_by_listener(k)
    pass_one(k, clock, "before")
    opened = relay_ons(k)
    fill_to_cap(k.store, clock)
    stored_before = k.store.last_seq
    t_error = clock.monotonic()

    pass_one(k, clock, "while-full")
    assert relay_ons(k) == opened                           # the pass was not let through
    assert k.flow.state is State.VOLUNTEER and k.flow.case is not None and k.flow.case.cause == "log_failure"
    assert "store" in k.flow.faults                         # the alarm: fault lights, buzzer, a fault record
    buzzer = k.devices.factory.pin(k.cfg.gpio.buzzer_pin)
    assert any(s.state for s in buzzer.states)
    fault_row = next(row for row, rec in k.executor.writer.held if rec.kind == "fault")
    assert fault_row["mono_ns"] / 1e9 - t_error <= ALARM_BUDGET_S
    assert k.store.last_seq == stored_before                # nothing reported stored ...
    assert max(reported) < stored_before                    # ... and no listener heard of a commit

    k.devices.buttons.pin("pass").drive_low()               # manual pass: refused like an automatic one
    clock.advance(0.2)
    k.devices.buttons.pin("pass").drive_high()
    k.pump()
    assert relay_ons(k) == opened
    emergency = k.devices.buttons.pin("emergency")          # the one way through: emergency hold-open
    emergency.drive_low()
    k.pump()
    clock.advance(k.cfg.gpio.emergency_hold_s)
    k.pump()
    emergency.drive_high()
    assert k.devices.relay.is_open and relay_ons(k) == opened + 1
    held = [rec for _row, rec in k.executor.writer.held]

    space_returns(k.store)
    clock.advance(1.0)
    k.pump()                                                # the loop retries: everything is written
    assert not k.executor.writer.held and "store" not in k.flow.faults
    log = check_log(k.store.path)
    assert log.integrity == "ok" and log.gap_free
    written = [r for r in log.rows if r["seq"] > stored_before]
    assert [(r["kind"], r["decision"]) for r in written[:len(held)]] == [(h.kind, h.decision) for h in held]
    refused = [r for r in written if r["token_hash"] == "while-full"]
    assert [(r["decision"], r["cause"], r["detail"]) for r in refused] == [
        ("deny", "log_failure", "pass refused: pass log not writable"),           # the automatic pass
        ("deny", "log_failure", "manual_pass refused: pass log not writable"),    # the volunteer's
        ("deny", "abandoned", None)]                                              # then the emergency
    assert ("pass", "manual_pass") not in [(r["kind"], r["decision"]) for r in written]
    assert any(r["decision"] == "emergency_open" for r in written)
    assert written[-1]["kind"] == "recovered" and written[-1]["device"] == "store"
    assert reported == not_filler(log.rows)                 # listeners heard exactly what is on disk
    report = audit.verify(connect_readonly(k.store.path))   # held overrides joined the chain in seq order
    assert report.problem is None and report.checked >= 1


def test_hold_keeps_deciding_holds_10000_records_in_order_and_writes_them_gap_free(
        hold_kiosk: Kiosk, clock: FakeClock) -> None:
    k = hold_kiosk
    timers: ManualTimers = k.timers  # type: ignore[attr-defined]
    reported = committed_by_listener(k)
    fill_to_cap(k.store, clock)
    first = k.store.last_seq + 1
    opened = relay_ons(k)
    decided = []
    for i in range(10_000):
        clock.advance(0.01)
        decide_pass(k, f"t{i:05d}")
        decided.append((f"t{i:05d}", clock.wall(), int(clock.monotonic() * 1e9)))
        timers.fire()
        if i % 50 == 0:
            k.pump()                                        # the loop retries now and then: still full
    assert relay_ons(k) == opened + 10_000                 # decisions continued: every pass opened
    assert k.flow.state is not State.VOLUNTEER
    assert len(k.executor.writer.held) >= 10_000 and k.store.last_seq == first - 1
    assert not reported

    space_returns(k.store)
    clock.advance(1.0)
    k.pump()
    log = check_log(k.store.path)
    assert log.integrity == "ok" and log.gap_free and not k.executor.writer.held
    passes = [(r["token_hash"], r["wall_ts"], r["mono_ns"]) for r in log.rows if r["kind"] == "pass"]
    assert passes == decided                                # in decision order, with decision-time clocks
    assert reported == not_filler(log.rows)


def test_hold_beyond_its_limit_loses_records_counts_them_and_stops_opening(
        cfg: Config, clock: FakeClock, timers: ManualTimers) -> None:
    with assembled(with_store(cfg, fail_policy="hold", hold_max_records=100), clock, timers) as k:
        fill_to_cap(k.store, clock)
        opened = relay_ons(k)
        for i in range(110):
            decide_pass(k, f"x{i}")
            timers.fire()
            k.pump()
        # 100 held (the fault record is one of them), then the hold is full: no gate without a record
        assert len(k.executor.writer.held) == 100
        assert relay_ons(k) == opened + 99
        assert k.flow.state is State.VOLUNTEER
        space_returns(k.store)
        clock.advance(1.0)
        k.pump()
        log = check_log(k.store.path)
    assert log.integrity == "ok" and log.gap_free
    alarms = [r["detail"] for r in log.rows if r["kind"] == "alarm" and r["device"] == "store"]
    assert alarms == ["11 records lost: the log was not writable and the memory hold (100) was full"]
    assert sum(1 for r in log.rows if r["kind"] == "pass") == 99


def test_purging_acknowledged_rows_restores_writing_without_a_restart(
        hold_kiosk: Kiosk, clock: FakeClock, cfg: Config) -> None:
    k = hold_kiosk
    for i in range(300):
        decide_pass(k, f"old{i}")
    clock.advance(8 * 86400)
    fill_to_cap(k.store, clock)
    (cfg.kiosk.state_dir / "sync-state.json").write_text(json.dumps({"acked_through": {k.store.db_epoch: 300}}))
    for i in range(20):
        decide_pass(k, f"new{i}")
    k.pump()
    assert len(k.executor.writer.held) == 21               # 20 passes + the store fault
    keeper = Housekeeper(k, Notifier(""))
    keeper.request_purge()
    keeper.cycle()                                          # the purge frees pages under the same cap
    clock.advance(1.0)
    k.pump()
    assert not k.executor.writer.held
    rows = check_log(k.store.path).rows
    assert [r["token_hash"] for r in rows if r["kind"] == "pass"] == [f"new{i}" for i in range(20)]


def test_the_status_file_shows_held_records(hold_kiosk: Kiosk, clock: FakeClock, tmp_path: Path) -> None:
    fill_to_cap(hold_kiosk.store, clock)
    decide_pass(hold_kiosk, "s")
    hold_kiosk.pump()
    keeper = Housekeeper(hold_kiosk, Notifier(""), status_file=tmp_path / "status.json")
    keeper.cycle()
    keeper.close()
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["held_records"] == 2 and "store" in status["faults"]


def test_a_record_held_at_shutdown_is_reported_lost(cfg: Config, clock: FakeClock,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with assembled(with_store(cfg, fail_policy="hold"), clock) as k:
        fill_to_cap(k.store, clock)
        k.record(Record(kind="alarm", t=clock.monotonic(), device="x"))
    assert "held records could not be written before shutdown and are lost" in caplog.text
