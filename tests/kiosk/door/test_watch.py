"""kiosk/door/watch.py: debounce, windows, held open, tamper — on plain numbers."""

from __future__ import annotations

import random

import pytest

from kiosk.door.household import parse_windows
from kiosk.door.watch import DoorWatch
from kiosk.errors import ConfigError
from tests.kiosk.door.support import HH, at, quarantine


class Run:
    """A watch on a fake monotonic clock starting at a given local time."""

    def __init__(self, wall: float, synced: bool = True, held_s: float = 120.0) -> None:
        self.watch = DoorWatch(quarantine(), debounce_s=0.2, held_s=held_s)
        self.mono, self.wall, self.synced = 100.0, wall, synced
        self.out: list = []

    def advance(self, s: float) -> None:
        self.mono += s
        self.wall += s
        self.out += self.watch.tick(self.mono, self.wall, self.synced)

    def bounce(self, final: bool, edges: int = 40, span: float = 0.05, line: str = "contact") -> None:
        rng = random.Random(edges)
        level = final if edges % 2 else not final
        for _ in range(edges):
            self.advance(span / edges * rng.uniform(0.5, 1.5))
            getattr(self.watch, line)(level, self.mono)
            level = not level
        getattr(self.watch, line)(final, self.mono)

    def kinds(self) -> list[tuple[str, str]]:
        return [(r.kind, r.cause) for r in self.out]


def test_a_rattle_of_dozens_of_edges_in_50_ms_is_no_event_at_all() -> None:
    r = Run(at(3, 0))
    for _ in range(5):
        r.bounce(False, edges=48, span=0.05)     # chatter that ends shut
        r.advance(1.0)
    assert r.out == []


def test_a_bouncing_opening_is_one_event_stamped_at_its_first_edge() -> None:
    r = Run(at(3, 0))
    r.advance(1.0)
    first = r.mono
    r.bounce(True, edges=40)
    r.advance(0.1)
    assert r.out == []                            # not settled yet: still within debounce
    r.advance(0.2)
    assert r.kinds() == [("door_open", "outside_window")]
    assert r.out[0].t == pytest.approx(first, abs=0.01) and r.out[0].household_ref == HH
    r.bounce(False)
    r.advance(1.0)
    assert r.kinds()[-1] == ("door_close", "closed")


def test_inside_the_window_it_is_not_an_alert_and_outside_it_is() -> None:
    r = Run(at(8, 10))
    r.bounce(True)
    r.advance(0.5)
    assert r.out[-1].cause == "in_window" and r.out[-1].detail == "08:00-08:30"
    r.bounce(False)
    r.advance(60 * 30)                            # 08:40: outside
    r.bounce(True)
    r.advance(0.5)
    assert r.kinds()[-1] == ("door_open", "outside_window")


def test_an_unsynced_clock_cannot_vouch_for_a_window() -> None:
    r = Run(at(8, 10), synced=False)
    r.bounce(True)
    r.advance(0.5)
    assert r.kinds() == [("door_open", "clock_unsynced")]


def test_held_open_is_reported_once_per_opening() -> None:
    r = Run(at(8, 10), held_s=60)
    r.bounce(True)
    for _ in range(200):
        r.advance(1.0)
    assert r.kinds() == [("door_open", "in_window"), ("door_held", "held_open")]


def test_tamper_loop_open_and_closed() -> None:
    r = Run(at(12, 0))
    r.bounce(True, edges=7, line="tamper")
    r.advance(0.5)
    r.bounce(False, edges=7, line="tamper")
    r.advance(0.5)
    assert r.kinds() == [("door_tamper", "loop_open"), ("door_tamper", "loop_closed")]


def test_outside_the_quarantine_nothing_about_the_door_is_recorded() -> None:
    r = Run(at(9, 0, day=16))
    r.bounce(True)
    r.advance(200)
    assert r.out == []


@pytest.mark.parametrize("bad", ["08:00-07:00", "8:00-9:00", "08:00-08:30,08:15-09:00", "23:00-01:00", "lunch"])
def test_bad_windows_are_refused_with_a_clear_line(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"door\.windows"):
        parse_windows(bad)


@pytest.mark.parametrize("ref", ["Zhang San", "310101199001011234", "hh-XYZ", "hh-" + "0" * 31, "1-2-301"])
def test_a_household_that_is_not_a_pseudonym_is_refused_without_echoing_it(ref: str) -> None:
    from kiosk.door.household import check_household
    with pytest.raises(ConfigError) as err:
        check_household(ref)
    assert ref not in str(err.value)
