"""GPIO devices on gpiozero's MockFactory: safe states, pin conflicts, the journal."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from drivers.errors import DeviceConfigError, DeviceUnavailable
from drivers.gpio import (
    GPIOZERO_FACTORIES,
    STATES_KEPT,
    ButtonPanel,
    GateRelay,
    Indicators,
    JournalMockFactory,
    PinJournal,
    make_pin_factory,
)
from tests.conftest import ManualTimers


def journal_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_relay_pulse_is_timed_by_its_own_timer_and_off_at_both_ends(tmp_path: Path, timers: ManualTimers) -> None:
    j = tmp_path / "gpio.jsonl"
    factory = make_pin_factory("mock", j)
    relay = GateRelay(17, active_high=True, pulse_s=2.5, pin_factory=factory, timer=timers)
    pin = factory.pin(17)
    assert pin.function == "output" and pin.state is False and not relay.is_open
    relay.pulse()
    assert relay.is_open and pin.state is True and timers.pending[0].delay_s == 2.5
    relay.pulse()                        # a second pass during the pulse extends it
    assert timers.fire() == 1 and not relay.is_open
    relay.hold()
    relay.pulse()                        # held open: pulses change nothing
    assert timers.fire() == 0 and relay.is_open
    relay.release()
    relay.pulse()
    relay.close()                        # closing mid-pulse switches off and cancels the timer
    assert timers.fire() == 0
    assert pin.state is False or pin.function == "input"
    factory.close()
    lines = journal_lines(j)
    assert [(line["pin"], line["name"]) for line in lines] == [(17, "relay")] * len(lines)
    assert [line["state"] for line in lines] == [0, 1, 0, 1, 0, 1, 0]
    assert all(isinstance(line["t"], float) for line in lines)


def test_active_low_relay_boards_are_driven_high_when_off(tmp_path: Path) -> None:
    factory = make_pin_factory("mock")
    relay = GateRelay(17, active_high=False, pin_factory=factory)
    assert factory.pin(17).state is True and not relay.is_open
    relay.hold()
    assert factory.pin(17).state is False and relay.is_open
    relay.release()
    assert factory.pin(17).state is True
    relay.close()


def test_a_pin_used_twice_is_a_clear_error() -> None:
    factory = make_pin_factory("mock")
    relay = GateRelay(17, pin_factory=factory)
    with pytest.raises(DeviceConfigError, match="GPIO17 is already in use"):
        Indicators(green=17, red=27, yellow=23, buzzer=24, pin_factory=factory)
    with pytest.raises(DeviceConfigError, match="not a valid pin"):
        GateRelay(99, pin_factory=factory)
    relay.close()


def test_unknown_and_unavailable_factories() -> None:
    with pytest.raises(DeviceConfigError, match="unknown GPIO pin factory"):
        make_pin_factory("wiringpi")
    with pytest.raises(DeviceConfigError, match="only available with the mock"):
        make_pin_factory("lgpio", Path("/tmp/j"))


def test_unavailable_real_factory_says_so() -> None:
    try:
        factory = make_pin_factory("native")      # needs /dev/gpiomem, absent on CI machines
    except DeviceUnavailable as exc:
        assert "not usable here" in str(exc)
    else:                                          # pragma: no cover - on a real Pi
        factory.close()


def test_indicator_states_light_the_right_leds() -> None:
    factory = make_pin_factory("mock")
    ind = Indicators(green=22, red=27, yellow=23, buzzer=24, pin_factory=factory)
    lit = lambda: {c for c, p in (("green", 22), ("red", 27), ("yellow", 23)) if factory.pin(p).state}  # noqa: E731
    ind.show("pass")
    assert lit() == {"green"}
    ind.show("volunteer")
    assert lit() == {"yellow", "red"}
    ind.show("idle")
    assert lit() == set()
    with pytest.raises(DeviceConfigError):
        ind.show("disco")
    ind.close()


def test_buttons_report_raw_edges_and_start_no_thread_of_their_own() -> None:
    """The panel needs edges only: no gpiozero ``Button`` hold thread waking ten times a second
    per button while the gate stands empty (docs/benchmarks.md "Idle CPU, issue 17")."""
    factory = make_pin_factory("mock")
    before = set(threading.enumerate())
    edges: list[tuple[str, bool]] = []
    panel = ButtonPanel({"override": 5, "deny": 6, "emergency": 13, "shift": 19},
                        lambda name, pressed: edges.append((name, pressed)), pin_factory=factory)
    try:
        assert set(threading.enumerate()) - before == set()
        factory.pin(6).drive_low()              # to ground: pressed (pull-up, active low)
        factory.pin(6).drive_high()
        factory.pin(13).drive_low()
        assert edges == [("deny", True), ("deny", False), ("emergency", True)]
    finally:
        panel.close()
        factory.close()


def test_journal_survives_other_writers_line_by_line(tmp_path: Path) -> None:
    j = PinJournal(tmp_path / "j.jsonl")
    factory = JournalMockFactory(j)
    j.name(5, "x")
    j.write(5, True)
    assert journal_lines(tmp_path / "j.jsonl")[-1] == {"t": pytest.approx(journal_lines(tmp_path / "j.jsonl")[-1]["t"]),
                                                      "pin": 5, "name": "x", "state": 1}
    factory.close()


def test_gpiozeros_own_factories_are_the_ones_its_entry_points_name() -> None:
    from importlib.metadata import entry_points
    named = {ep.name: ep.value for ep in entry_points(group="gpiozero_pin_factories")}
    assert {name: named.get(name) for name in GPIOZERO_FACTORIES} == GPIOZERO_FACTORIES


def test_gpiozeros_own_factories_are_found_without_reading_every_packages_metadata(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    def scanned(**kw: object) -> list[object]:
        raise AssertionError("entry points scanned")
    monkeypatch.setattr(importlib.metadata, "entry_points", scanned)
    try:
        make_pin_factory("native").close()         # pragma: no cover - on a real Pi
    except DeviceUnavailable as exc:               # needs /dev/gpiomem, absent on CI machines
        assert "not usable here" in str(exc)
    with pytest.raises(AssertionError, match="scanned"):
        make_pin_factory("wiringpi")               # anyone else's factory: still by entry point


def test_a_journalled_pin_keeps_only_its_recent_changes_and_the_journal_keeps_all(tmp_path: Path) -> None:
    # gpiozero's MockPin keeps every change in ``states``: a long `kiosk run` on the stand-ins grew
    # ~1 KB a pass with it (issue 17). The journal is the record; ``states`` stays bounded.
    factory = JournalMockFactory(PinJournal(tmp_path / "j.jsonl"))
    relay = GateRelay(17, pin_factory=factory)
    pin = factory.pin(17)
    changes = 10 * STATES_KEPT + 1
    for i in range(changes):
        pin.state = i % 2 == 0
    assert STATES_KEPT <= len(pin.states) <= 2 * STATES_KEPT + 1
    assert [s.state for s in pin.states[-3:]] == [True, False, True]     # the latest ones, in order
    states = [line["state"] for line in journal_lines(tmp_path / "j.jsonl") if line["pin"] == 17]
    assert states[-changes:] == [1 - i % 2 for i in range(changes)]
    relay.close()
    factory.close()
