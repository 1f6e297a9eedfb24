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


def test_in_the_running_kiosk_a_resident_cuts_the_notice_passes_and_both_are_in_the_log(cfg, tmp_path: Path) -> None:
    """The assembled kiosk (real flow, pass log, verifier with a signed bundle carrying the
    schedule, espeak-ng and aplay): the round starts in idle time, a resident's code cuts it, the
    resident passes, and the log holds the pass and how the notice ended."""
    import dataclasses

    from kiosk.codes.drill import Drill
    from kiosk.passlog.reader import connect_readonly
    from kiosk.service import rounds as rounds_mod
    from kiosk.service.assembly import assembled
    from tests.codes_support import HOLDER

    clock = FakeClock(wall=at(9, 0), synced=True)
    drill = Drill(tmp_path / "trust", cfg.kiosk.compound, clock.wall(), gate=cfg.kiosk.gate)
    drill.publish(2, publicity=SCHEDULE)
    audible = threading.Event()
    with FifoSink(tmp_path, on_first_sample=audible.set, paced_bps=BPS, pipe_bytes=4096) as sink:
        live = cfg.replace(codes=dataclasses.replace(cfg.codes, root_key=drill.root_key_path, bundle=drill.bundle_path),
                           voice=dataclasses.replace(cfg.voice, backend="espeak", device=sink.device))
        with assembled(live, clock) as kiosk:
            r = rounds_mod.for_kiosk(kiosk)
            assert r is not None
            rounds_mod.step(r, kiosk)
            assert r.player.current == "notice:masks" and audible.wait(20)
            kiosk.payload_seen(drill.code("green", HOLDER, clock.wall()).encode())
            kiosk.pump()                                     # the code: measure, and say so — the notice is cut
            assert kiosk.flow.state is State.MEASURING and r.player.current != "notice:masks"
            for _ in range(30):
                if kiosk.flow.state is not State.MEASURING:
                    break
                clock.advance(0.07)
                kiosk.inbox.sample_seen(36.6 - live.temperature.skin_offset_c, 22.0, None)
                kiosk.pump()
            assert r.player.wait_idle(30)
            rounds_mod.step(r, kiosk)                        # how the notice ended goes into the log
    conn = connect_readonly(live.db_path)
    rows = [tuple(x) for x in conn.execute("SELECT kind, decision, cause, detail FROM records ORDER BY seq")]
    conn.close()
    assert ("pass", "pass", "ok", None) in rows and ("notice", None, "cut", "masks") in rows
