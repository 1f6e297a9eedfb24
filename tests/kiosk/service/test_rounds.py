"""Publicity rounds (kiosk/service/rounds.py) through the real voice path: espeak-ng, aplay, ALSA's
file plugin into a FIFO drained at the sample rate like a sound card (hardware_mocks/audio.py)."""

from __future__ import annotations

import shutil
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from drivers.voice.alsa import AlsaSpeaker, render
from drivers.voice.player import Player, Utterance
from hardware_mocks.audio import FifoSink
from kiosk.clock import FakeClock
from kiosk.codes.publicity import parse
from kiosk.core.flow import State
from kiosk.service.rounds import Rounds

pytestmark = pytest.mark.skipif(not (shutil.which("aplay") and shutil.which("espeak-ng")),
                                reason="alsa-utils and espeak-ng are installed by run.sh")
CN = timezone(timedelta(hours=8))
BPS = 22050 * 2                  # espeak-ng: 22,050 Hz, mono, 16-bit
LONG = "请佩戴口罩，保持一米距离，勤洗手，常通风。进出小区请主动出示健康码，配合测量体温。" * 2
SCHEDULE = parse({"quiet": ["22:00", "07:00"],
                  "notices": [{"id": "masks", "at": "09:00", "max_s": 60, "volume": 60, "text": LONG}]})


def at(hh: int, mm: int) -> float:
    return datetime(2026, 12, 5, hh, mm, tzinfo=CN).timestamp()


@pytest.fixture
def rig(tmp_path: Path):
    audible = threading.Event()
    with FifoSink(tmp_path, on_first_sample=audible.set, paced_bps=BPS, pipe_bytes=4096) as sink:
        player = Player(AlsaSpeaker(device=sink.device, prefer_clips=False))
        ended = threading.Event()
        clock = FakeClock(wall=at(9, 0))
        rounds = Rounds(player, clock)
        chained = player.finished

        def finished(name: str, outcome: str) -> None:
            assert chained is not None
            chained(name, outcome)
            ended.set()

        player.finished = finished
        yield rounds, player, sink, clock, ended, audible
        player.close()


def test_a_notice_plays_in_idle_time_and_a_resident_cuts_it_at_once(rig) -> None:
    rounds, player, sink, _clock, ended, audible = rig
    assert rounds.cycle(SCHEDULE, State.IDLE) == []
    assert player.current == "notice:masks"
    assert audible.wait(20)                                   # the notice is being heard
    player.say(Utterance("measuring", "请测量体温", "cmn"))    # a resident arrives: the flow's announcement
    assert ended.wait(10)
    records = rounds.cycle(SCHEDULE, State.MEASURING)
    assert [(r.kind, r.cause, r.detail) for r in records] == [("notice", "cut", "masks")]
    assert player.wait_idle(30) and (player.played, player.interrupted) == (1, 1)   # the resident was heard
    heard = sum(len(p.data) for p in sink.wait_for(1))
    whole = len(render(LONG, "cmn"))
    assert heard < whole / 2, (heard, whole)                  # the notice did not play on
    assert rounds.cycle(SCHEDULE, State.IDLE) == []            # played once a day: not again
    assert player.current is None


def test_never_over_an_announcement_never_with_someone_at_the_gate_never_in_quiet_hours(rig) -> None:
    rounds, player, _sink, clock, _ended, _audible = rig
    assert rounds.cycle(SCHEDULE, State.MEASURING) == [] and player.current is None
    player.say(Utterance("pass", "体温正常，请通行", "cmn"))
    assert rounds.cycle(SCHEDULE, State.IDLE) == [] and player.current == "pass"
    assert player.wait_idle(30)
    clock.jump_wall(at(23, 0) - clock.wall())                  # quiet hours (and past the notice's time)
    assert rounds.cycle(SCHEDULE, State.IDLE) == [] and player.current is None
    clock.jump_wall(at(9, 1) + 86400 - clock.wall())          # next day, a minute late: it plays
    clock.set_synced(False)
    assert rounds.cycle(SCHEDULE, State.IDLE) == [] and player.current is None   # no trusted time: no round
    clock.set_synced(True)
    rounds.cycle(SCHEDULE, State.IDLE)
    assert player.current == "notice:masks"


def test_a_notice_stops_at_its_limit_and_the_outcome_is_recorded(rig) -> None:
    rounds, _player, _sink, clock, ended, _audible = rig
    rounds.cycle(SCHEDULE, State.IDLE)
    clock.advance(61)                                        # past max_s
    rounds.cycle(SCHEDULE, State.IDLE)
    assert ended.wait(10)
    assert [(r.cause, r.detail) for r in rounds.cycle(SCHEDULE, State.IDLE)] == [("cut", "masks")]


def test_a_notice_replaced_before_it_started_is_recorded_as_cut(rig) -> None:
    rounds, player, _sink, _clock, _ended, _audible = rig
    player.say_if_idle(Utterance("notice:masks", LONG, "cmn"))
    rounds._playing = ("masks", float("inf"))
    player.say(Utterance("measuring", "请测量体温", "cmn"))    # before the worker took the notice, or while it plays
    assert player.wait_idle(30)
    assert [(r.cause, r.detail) for r in rounds.cycle(SCHEDULE, State.MEASURING)] == [("cut", "masks")]
