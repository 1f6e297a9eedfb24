"""Time faults (T-TIME-1, T-TIME-2): boot before the clock is synchronised, wall-clock steps of
−1 h and +1 day mid-stream. seq stays the order; records carry the clock facts; the retention
purge never runs on an untrusted clock and deletes nothing early after a step."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.service.assembly import assembled
from kiosk.service.housekeeping import CLOCK_CHECK_S, STEP_HOLDOFF_S, Housekeeper
from kiosk.service.runtime import Kiosk
from kiosk.service.sdnotify import Notifier
from tests.faults.support import check_log, decide_pass

DAY = 86400.0


@pytest.fixture
def unsynced() -> FakeClock:
    return FakeClock(synced=False, boot_id="boot-A")


@pytest.fixture
def kiosk(cfg: Config, clock: FakeClock) -> Iterator[Kiosk]:
    with assembled(cfg, clock) as k:
        yield k


def ack_all(cfg: Config, k: Kiosk) -> None:
    (cfg.kiosk.state_dir / "sync-state.json").write_text(json.dumps({"acked_through": {k.store.db_epoch: 10**9}}))


def purge_now(keeper: Housekeeper) -> None:
    keeper.request_purge()
    keeper.cycle()


def tokens(k: Kiosk) -> list[str]:
    return [r["token_hash"] for r in check_log(k.store.path).rows if r["kind"] == "pass"]


def test_records_before_sync_are_flagged_and_never_purged(cfg: Config, unsynced: FakeClock) -> None:
    with assembled(cfg, unsynced) as k:
        keeper = Housekeeper(k, Notifier(""))
        for i in range(5):
            decide_pass(k, f"pre{i}")
            unsynced.advance(1.0)
        ack_all(cfg, k)
        unsynced.advance(30 * DAY)                          # the (wrong) clock says everything is old
        purge_now(keeper)
        assert tokens(k) == [f"pre{i}" for i in range(5)]   # nothing purged on an unsynced clock
        unsynced.set_synced(True)
        decide_pass(k, "post")
        rows = check_log(k.store.path).rows
    pre = [r for r in rows if r["token_hash"] and r["token_hash"].startswith("pre")]
    assert {(r["clock_synced"], r["boot_id"]) for r in pre} == {(0, "boot-A")}
    assert [r["mono_ns"] for r in pre] == sorted(r["mono_ns"] for r in pre) and pre[0]["mono_ns"] > 0
    assert rows[-1]["clock_synced"] == 1 and rows[-1]["token_hash"] == "post"


def test_clock_steps_mid_stream_keep_seq_in_order_and_drop_nothing(kiosk: Kiosk, clock: FakeClock) -> None:
    keeper = Housekeeper(kiosk, Notifier(""))
    keeper.cycle()
    decided: list[str] = []
    for step in (0.0, -3600.0, +DAY):
        clock.jump_wall(step)
        keeper.cycle()
        for _ in range(10):
            token = f"s{len(decided):03d}"
            decide_pass(kiosk, token)
            decided.append(token)
            clock.advance(2.0)
    log = check_log(kiosk.store.path)
    assert log.gap_free and log.integrity == "ok"
    assert tokens(kiosk) == decided                          # nothing dropped, in decision order
    walls = [r["wall_ts"] for r in log.rows if r["kind"] == "pass"]
    assert walls != sorted(walls)                            # the wall clock went backwards ...
    assert log.seqs == sorted(log.seqs)                      # ... seq did not
    alarms = [r["detail"] for r in log.rows if r["kind"] == "alarm" and r["device"] == "clock"]
    assert [a.split(" s ")[0] for a in alarms] == ["wall clock stepped -3600", "wall clock stepped +86400"]


def test_the_clock_is_looked_at_once_a_second_and_a_step_still_raises_its_alarm(
        kiosk: Kiosk, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop cycles on every thermometer sample (14 a second at an empty gate); the wall clock's
    check (a stat and an adjtimex) runs about once a second, and a step is still alarmed within it."""
    keeper = Housekeeper(kiosk, Notifier(""))
    keeper.cycle()
    looks: list[float] = []
    synced = clock.synced

    def counted() -> bool:
        looks.append(clock.monotonic())
        return synced()
    monkeypatch.setattr(clock, "synced", counted)
    start = clock.monotonic()
    for _ in range(5 * 14):                                  # five seconds of samples at 14 Hz
        clock.advance(1 / 14)
        keeper.cycle()
    assert 4 <= len(looks) <= 5                              # not 70
    clock.jump_wall(-3600.0)
    stepped = clock.monotonic()
    alarms: list[str] = []
    while not alarms:
        assert clock.monotonic() - stepped <= CLOCK_CHECK_S + 1 / 14
        clock.advance(1 / 14)
        keeper.cycle()
        alarms = [r["detail"] for r in check_log(kiosk.store.path).rows
                  if r["kind"] == "alarm" and r["device"] == "clock"]
    assert alarms[0].startswith("wall clock stepped -3600 s") and looks[0] > start


def test_a_forward_step_deletes_nothing_early(cfg: Config, kiosk: Kiosk, clock: FakeClock) -> None:
    keeper = Housekeeper(kiosk, Notifier(""))
    keeper.cycle()
    decide_pass(kiosk, "A")                                  # day 0
    clock.advance(1.0 * DAY)
    decide_pass(kiosk, "C")                                  # day 1
    clock.advance(5.5 * DAY)                                 # now day 6.5: A and C are younger than 7 days
    ack_all(cfg, kiosk)
    clock.jump_wall(+DAY)                                    # the wall clock now says A is 7.5 days old
    purge_now(keeper)
    assert tokens(kiosk) == ["A", "C"]                       # the step paused the purge
    restarted = Housekeeper(kiosk, Notifier(""))             # a restart forgets the step ...
    purge_now(restarted)
    assert tokens(kiosk) == ["A", "C"]                       # ... but this boot's rows are young by mono_ns
    clock.advance(STEP_HOLDOFF_S)                            # day 7.5: A is old by both clocks, C is not
    purge_now(keeper)
    assert tokens(kiosk) == ["C"]


def test_a_backward_step_deletes_nothing_extra(cfg: Config, kiosk: Kiosk, clock: FakeClock) -> None:
    keeper = Housekeeper(kiosk, Notifier(""))
    keeper.cycle()
    decide_pass(kiosk, "A")
    clock.advance(7.5 * DAY)
    decide_pass(kiosk, "B")
    ack_all(cfg, kiosk)
    clock.jump_wall(-3600.0)
    keeper.cycle()                                           # the loop cycles all the time: step noticed
    clock.advance(STEP_HOLDOFF_S)
    purge_now(keeper)
    assert tokens(kiosk) == ["B"]                            # only the truly old row went


def test_an_earlier_boots_rows_follow_the_wall_clock(cfg: Config, clock: FakeClock) -> None:
    with assembled(cfg, clock) as k:
        decide_pass(k, "boot1")
    later = FakeClock(wall=clock.wall() + 8 * DAY, mono=5.0, boot_id="boot-2")   # rebooted 8 days later
    with assembled(cfg, later) as k:
        decide_pass(k, "boot2")
        ack_all(cfg, k)
        purge_now(Housekeeper(k, Notifier("")))
        assert tokens(k) == ["boot2"]
