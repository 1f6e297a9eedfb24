"""kiosk/door/node.py on gpiozero's MockFactory: real pins, the real pass log, a fake clock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from hardware_mocks.door import ScriptedDoor
from kiosk.clock import FakeClock
from kiosk.door.node import DoorNode
from kiosk.errors import StoreFull
from tests.kiosk.door.support import HH, at, door_config


@pytest.fixture
def rig(tmp_path: Path):
    factory = MockFactory()
    clock = FakeClock(wall=at(3, 0))
    cfg = door_config(tmp_path)
    node = DoorNode(cfg, clock, factory)
    door = ScriptedDoor(factory.pin(cfg.door.contact_pin), clock.advance, factory.pin(cfg.door.tamper_pin))
    node.start()
    yield node, door, clock, factory, cfg
    node.close()
    factory.close()


def settle(node: DoorNode, clock: FakeClock, seconds: float = 1.0) -> None:
    for _ in range(int(seconds / 0.1)):
        clock.advance(0.1)
        node.step(0)


def rows(cfg) -> list[tuple]:
    with sqlite3.connect(cfg.db_path) as conn:
        return conn.execute("SELECT kind, cause, holder_ref, device FROM records ORDER BY seq").fetchall()


def test_bounce_opening_outside_window_tamper_reach_the_log_and_the_buzzer(rig) -> None:
    node, door, clock, factory, cfg = rig
    buzzer = factory.pin(cfg.door.buzzer_pin)
    door.rattle(edges=48)                 # dozens of edges in 50 ms, the door never opened
    settle(node, clock)
    assert [r[0] for r in rows(cfg)] == ["door_watch"]
    assert buzzer.state == 0
    door.open()
    settle(node, clock)
    assert rows(cfg)[-1] == ("door_open", "outside_window", HH, "front")
    assert any(s for _, s in buzzer.states[1:]), "the buzzer sounds after an alert is committed"
    door.close()
    door.cut_loop()
    settle(node, clock)
    assert [r[:2] for r in rows(cfg)[-2:]] == [("door_tamper", "loop_open"), ("door_close", "closed")]
    from kiosk.cli.status import render
    from kiosk.statefiles import read_status
    node.write_status()
    shown = render(read_status(cfg.status_path, now=clock.wall()))
    assert "kiosk door-0001 (gate front): running" in shown and "door shut" in shown
    node.stop()
    assert rows(cfg)[-1][:2] == ("door_watch", "stop")
    assert not node.mark_path.exists()


def test_held_open_after_the_configured_time(rig) -> None:
    node, door, clock, _factory, cfg = rig
    door.open()
    settle(node, clock, cfg.door.held_open_s + 2)
    assert [r[:2] for r in rows(cfg)[-2:]] == [("door_open", "outside_window"), ("door_held", "held_open")]


def test_a_full_disk_holds_events_in_order_until_they_can_be_written(rig, monkeypatch) -> None:
    node, door, clock, _factory, cfg = rig
    real = node.log.append
    monkeypatch.setattr(node.log, "append", lambda rec: (_ for _ in ()).throw(StoreFull("disk full")))
    door.open()
    settle(node, clock)
    door.close()
    settle(node, clock)
    assert len(node.held) == 2 and [r[0] for r in rows(cfg)] == ["door_watch"]
    monkeypatch.setattr(node.log, "append", real)
    settle(node, clock, 0.2)
    assert [r[0] for r in rows(cfg)] == ["door_watch", "door_open", "door_close"] and not node.held


def test_a_start_after_an_unclean_stop_says_so(tmp_path: Path) -> None:
    factory = MockFactory()
    clock = FakeClock(wall=at(3, 0))
    cfg = door_config(tmp_path, tamper=False, buzzer=False)
    node = DoorNode(cfg, clock, factory)
    node.start()
    node.close()                          # no stop record: a power cut
    factory.close()
    factory = MockFactory()
    node = DoorNode(cfg, clock, factory)
    node.start()
    node.close()
    factory.close()
    with sqlite3.connect(cfg.db_path) as conn:
        details = [d for (d,) in conn.execute("SELECT detail FROM records WHERE kind = 'door_watch' ORDER BY seq")]
    assert "after=unclean_stop" not in details[0] and details[1].endswith("after=unclean_stop")


def test_a_temperature_visit_is_committed_once_even_while_the_disk_fails(rig, monkeypatch) -> None:
    from kiosk.door.visits import Visit, pending, queue_visit
    node, _door, clock, _factory, cfg = rig
    real = node.log.append
    monkeypatch.setattr(node.log, "append", lambda rec: (_ for _ in ()).throw(StoreFull("disk full")))
    queue_visit(cfg.kiosk.state_dir, Visit(37.6, "grid3-07", ("mask", "leaflet"), clock.wall()))
    queue_visit(cfg.kiosk.state_dir, Visit(36.5, "grid3-07", (), clock.wall() + 1))
    settle(node, clock, 3)
    assert len(pending(cfg.kiosk.state_dir)) == 2          # still spooled while nothing is on disk
    monkeypatch.setattr(node.log, "append", real)
    settle(node, clock, 3)
    with sqlite3.connect(cfg.db_path) as conn:
        visits = conn.execute("SELECT cause, temp_c, volunteer_ref, detail FROM records WHERE kind = 'door_visit' "
                              "ORDER BY seq").fetchall()
    assert visits == [("fever", 37.6, "grid3-07", "handed=mask,leaflet"), ("normal", 36.5, "grid3-07", "handed=none")]
    assert pending(cfg.kiosk.state_dir) == []


@pytest.mark.parametrize(("temp", "staff", "why"), [(30.0, "s1", "body temperature"), (36.6, "Wang Wu", "not a name")])
def test_a_bad_visit_is_refused(temp: float, staff: str, why: str) -> None:
    from kiosk.door.visits import Visit
    from kiosk.errors import ConfigError
    with pytest.raises(ConfigError, match=why):
        Visit(temp, staff, (), 0.0)


def test_a_clock_far_off_the_servers_cannot_vouch_for_a_window(rig) -> None:
    import json
    node, door, clock, _factory, cfg = rig
    clock.jump_wall(at(8, 10) - clock.wall())              # inside the window by this node's clock
    (cfg.kiosk.state_dir / "sync-state.json").write_text(json.dumps({"clock": {"offset_s": -3600.0}}))
    settle(node, clock, 1.5)                                 # the node reads the sync's measure each second
    door.open()
    settle(node, clock)
    assert rows(cfg)[-1][:2] == ("door_open", "clock_unsynced")


def test_a_household_with_two_doors_has_each_watched_and_named(tmp_path: Path) -> None:
    import dataclasses
    factory = MockFactory()
    clock = FakeClock(wall=at(3, 0))
    cfg = door_config(tmp_path, tamper=False, buzzer=False)
    cfg = cfg.replace(door=dataclasses.replace(cfg.door, more_doors="balcony:26"))
    node = DoorNode(cfg, clock, factory)
    front = ScriptedDoor(factory.pin(cfg.door.contact_pin), clock.advance)
    balcony = ScriptedDoor(factory.pin(26), clock.advance)
    node.start()
    balcony.open()
    settle(node, clock)
    front.rattle()
    settle(node, clock)
    node.close()
    factory.close()
    assert [r[0::3] for r in rows(cfg)] == [("door_watch", "front"), ("door_open", "balcony")]


@pytest.mark.parametrize("bad", ["balcony", "balcony:99", "door:26", "balcony:20", "bal cony:26"])
def test_bad_more_doors_are_refused(bad: str) -> None:
    from kiosk import config as config_mod
    from kiosk.errors import ConfigError
    with pytest.raises(ConfigError, match=r"door\."):
        config_mod.from_dict({"door": {"more_doors": bad}})


def test_acknowledged_events_past_retention_are_purged_and_nothing_else(rig) -> None:
    import json
    node, door, clock, _factory, cfg = rig
    door.open()
    settle(node, clock)
    door.close()
    settle(node, clock)
    assert node.purge() == 0                                 # nothing acknowledged yet
    (cfg.kiosk.state_dir / "sync-state.json").write_text(json.dumps({"acked_through": {node.log.db_epoch: 2}}))
    assert node.purge() == 0                                 # acknowledged, but not old
    clock.advance(cfg.store.keep_acked_days * 86400 + 60)
    assert node.purge() == 2                                 # the start and the opening; the closing is unacked
    assert [r[0] for r in rows(cfg)] == ["door_close"]


def test_a_door_open_when_the_node_starts_is_an_opening_and_can_be_held_open(tmp_path: Path) -> None:
    factory = MockFactory()
    clock = FakeClock(wall=at(3, 0))
    cfg = door_config(tmp_path, tamper=False, buzzer=False)
    node = DoorNode(cfg, clock, factory)          # nobody drives the pin: the pull-up reads open
    node.start()
    settle(node, clock, cfg.door.held_open_s + 1)
    node.close()
    factory.close()
    assert [r[:2] for r in rows(cfg)] == [("door_watch", "start"), ("door_open", "outside_window"),
                                          ("door_held", "held_open")]
