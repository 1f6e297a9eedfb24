"""The GPIO-triggered voice module: trigger pins on gpiozero's MockFactory, per-pin and binary
track select, active-low pulses, and the player's newest-wins queue in front of it."""

from __future__ import annotations

import threading

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.errors import DeviceConfigError, SpeechUnavailable
from drivers.voice.module import VoiceModule
from drivers.voice.player import Player, Utterance

PINS = (20, 21, 26, 16)


@pytest.fixture
def factory() -> MockFactory:
    f = MockFactory()
    yield f
    f.reset()
    f.close()


def levels(factory: MockFactory, pin: int) -> list[bool]:
    return [s.state for s in factory.pin(pin).states]


def u(track: int | None, name: str = "m") -> Utterance:
    return Utterance(name=name, text="x", voice="cmn", track=track)


def test_binary_mode_pulls_the_track_number_low_for_one_pulse(factory: MockFactory) -> None:
    with VoiceModule(PINS, mode="binary", pulse_s=0.02, pin_factory=factory) as module:
        module.play(u(5), threading.Event())          # 5 = 0b0101: IO0 and IO2
    # active low: made outputs at idle (high); the selected inputs go low for the pulse and back
    assert levels(factory, 20) == levels(factory, 26) == [False, True, False, True]
    assert levels(factory, 21) == levels(factory, 16) == [False, True]


def test_per_pin_mode_uses_one_input_per_track(factory: MockFactory) -> None:
    module = VoiceModule(PINS, mode="per_pin", pulse_s=0.02, active_low=False, pin_factory=factory)
    try:
        assert module.lines_for(3) == (False, False, True, False)
        module.play(u(3), threading.Event())
        with pytest.raises(SpeechUnavailable, match="track 5 cannot be selected"):
            module.play(u(5), threading.Event())
        with pytest.raises(SpeechUnavailable, match="no track"):
            module.play(u(None), threading.Event())
    finally:
        module.close()
    assert levels(factory, 26) == [False, True, False]
    assert levels(factory, 20) == [False]


def test_binary_track_range_follows_the_pin_count(factory: MockFactory) -> None:
    module = VoiceModule((20, 21), mode="binary", pin_factory=factory)
    try:
        assert module.max_track == 3
        assert module.lines_for(3) == (True, True)
        with pytest.raises(SpeechUnavailable):
            module.lines_for(4)
    finally:
        module.close()


def test_bad_pin_lists_are_refused(factory: MockFactory) -> None:
    with pytest.raises(DeviceConfigError, match="twice"):
        VoiceModule((20, 20), pin_factory=factory)
    with pytest.raises(DeviceConfigError, match="mode"):
        VoiceModule((20,), mode="serial", pin_factory=factory)


class GatedBackend:
    """Plays nothing; each play waits until released or interrupted, and records what it got."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.playing = threading.Event()
        self.release = threading.Event()
        self.cv = threading.Condition()

    def play(self, utterance: Utterance, cancelled: threading.Event) -> None:
        with self.cv:
            self.started.append(utterance.name)
            self.cv.notify_all()
        self.playing.set()
        while not (cancelled.is_set() or self.release.is_set()):
            cancelled.wait(0.01)

    def interrupt(self) -> None:
        pass

    def close(self) -> None:
        self.release.set()


def test_newest_announcement_wins_and_waiting_ones_are_dropped() -> None:
    backend = GatedBackend()
    with Player(backend) as player:
        player.say(u(1, "please_measure"))
        assert backend.playing.wait(5)
        player.say(u(2, "temp_hold_still"))            # interrupts please_measure …
        player.say(u(3, "temp_normal_pass"))           # … and replaces temp_hold_still before it starts
        with backend.cv:
            assert backend.cv.wait_for(lambda: "temp_normal_pass" in backend.started, 5)
        backend.release.set()
        assert player.wait_idle(5)
    assert backend.started == ["please_measure", "temp_normal_pass"]
    assert (player.interrupted, player.played) == (1, 1)


def test_module_through_the_player_with_a_newer_track(factory: MockFactory) -> None:
    module = VoiceModule(PINS, mode="binary", pulse_s=0.05, pin_factory=factory)
    with Player(module) as player:
        player.say(u(1))
        player.say(u(2))
        assert player.wait_idle(5)
    # whatever was cut short, the newest track (2 = IO1) was triggered and every input is idle again
    assert levels(factory, 21) == [False, True, False, True]
    assert all(factory.pin(p).state for p in PINS)
