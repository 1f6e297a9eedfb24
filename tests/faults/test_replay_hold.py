"""A code cannot pass twice while the log is down under ``store.fail_policy = "hold"``.

The verifier used to mark a code used only when its pass record was committed. Under ``hold`` a
pass whose record is only held in memory still opens the gate, so during a disk outage a
screenshot of that code would have been "ok" again. Now the code is used up when the gate opens
for it (kiosk.service.runtime ``on_gate_open``), committed or held. Real GK1 codes, the real verifier.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from kiosk.codes.drill import Drill
from kiosk.config import Config
from kiosk.core.flow import State
from kiosk.service.assembly import assembled
from kiosk.service.runtime import Kiosk
from tests.conftest import ManualTimers
from tests.faults.support import check_log, fill_to_cap, relay_ons, space_returns, with_store


def show_and_measure(k: Kiosk, clock: FakeClock, payload: str, body_c: float = 36.6) -> None:
    k.payload_seen(payload.encode())
    k.pump()
    if k.flow.state is State.MEASURING:
        for _ in range(12):
            clock.advance(1 / 14)
            k.inbox.sample_seen(body_c - k.cfg.temperature.skin_offset_c, 21.0, None)
            k.pump()


@pytest.fixture
def drill(tmp_path: Path, clock: FakeClock) -> Drill:
    return Drill(tmp_path / "drill", "demo-compound", clock.wall())


@pytest.fixture
def hold_kiosk(cfg: Config, clock: FakeClock, timers: ManualTimers, drill: Drill) -> Iterator[Kiosk]:
    cfg = with_store(cfg, fail_policy="hold")
    cfg = cfg.replace(codes=dataclasses.replace(cfg.codes, root_key=drill.root_key_path, bundle=drill.bundle_path))
    with assembled(cfg, clock, timers) as k:
        yield k


@pytest.mark.parametrize("kind", ["green", "paper"])
def test_a_code_that_opened_the_gate_for_a_held_record_is_a_replay_at_once(
        hold_kiosk: Kiosk, clock: FakeClock, timers: ManualTimers, drill: Drill, kind: str) -> None:
    k = hold_kiosk
    fill_to_cap(k.store, clock)                                     # the disk is full from now on
    payload = drill.code(kind, b"\x11" * 16, clock.wall())
    show_and_measure(k, clock, payload)
    assert k.executor.writer.held and relay_ons(k) == 1             # held, and the gate opened (hold)
    timers.fire()
    clock.advance(k.cfg.flow.result_hold_s)
    k.pump()
    assert k.flow.state is State.IDLE

    assert k.verifier.verify(payload.encode()).reason == "replay"   # a screenshot of it, moments later
    show_and_measure(k, clock, payload)
    assert relay_ons(k) == 1 and k.flow.state is State.VOLUNTEER    # the gate stays shut: volunteer

    space_returns(k.store)
    clock.advance(2.0)
    k.pump()                                                        # the held pass is written now
    passes = [r for r in check_log(k.store.path).rows if r["kind"] == "pass"]
    assert [(r["decision"], r["reason"]) for r in passes] == [("pass", "ok")]


def test_a_refused_pass_under_deny_does_not_use_up_the_code(cfg: Config, clock: FakeClock,
                                                            timers: ManualTimers, drill: Drill) -> None:
    cfg = with_store(cfg, fail_policy="deny")
    cfg = cfg.replace(codes=dataclasses.replace(cfg.codes, root_key=drill.root_key_path, bundle=drill.bundle_path))
    with assembled(cfg, clock, timers) as k:
        fill_to_cap(k.store, clock)
        payload = drill.code("green", b"\x22" * 16, clock.wall())
        show_and_measure(k, clock, payload)
        assert relay_ons(k) == 0                                    # not committed: the gate stayed shut
        assert k.verifier.verify(payload.encode()).reason == "ok"   # so the code is still good
