"""Publicity rounds on the gate's loudspeaker ("一喇叭"), in the kiosk's idle time.

The schedule comes signed in the trust bundle (kiosk/codes/publicity.py). Between events the
loop asks :meth:`Rounds.cycle` whether a notice is due; it starts one only when the flow is idle
(nobody at the gate), nothing else is being said, it is not quiet hours and the clock is
synchronised (an unsynchronised clock cannot tell nine o'clock). The notice goes to the same
voice player as the residents' announcements with :meth:`Player.say_if_idle`, so it never
talks over one; any announcement for a resident (the flow's first action when a code is read)
replaces it at once through :meth:`Player.say`, and a flow that leaves idle without saying
anything cuts it here. It also stops after its ``max_s``. How each notice ended — played to
the end, cut, failed — is committed as a ``notice`` record by the loop (the log's one writer).
"""

from __future__ import annotations

import logging
import queue
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.voice.player import Player, Utterance
from kiosk.clock import Clock
from kiosk.core.flow import State
from kiosk.core.records import Record
from kiosk.devices import messages
from kiosk.devices.voice import clip_path
from kiosk.service.runtime import Kiosk

if TYPE_CHECKING:   # the schedule comes with the trust bundle, after READY: not on the start path
    from kiosk.codes.publicity import Notice, Schedule

log = logging.getLogger("kiosk.rounds")
PREFIX = "notice:"
MANDARIN = "cmn"


class Rounds:
    """Plays the day's notices through ``player``; ``schedule`` returns the current bundle's schedule."""

    def __init__(self, player: Player, clock: Clock, *, language: str = "zh", clips_dir: Path | None = None) -> None:
        self.player, self.clock = player, clock
        self.language, self.clips_dir = language, clips_dir
        self.played: set[tuple[int, str]] = set()        # (local day, notice id) started; pruned to two days
        self.outcomes: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._playing: tuple[str, float] | None = None     # notice id, monotonic deadline
        previous = player.finished

        def finished(name: str, outcome: str) -> None:     # the voice worker's thread
            if previous is not None:
                previous(name, outcome)
            if name.startswith(PREFIX):
                self.outcomes.put((name[len(PREFIX):], outcome))

        player.finished = finished

    def utterance(self, notice: Notice) -> Utterance:
        if notice.clip is not None:
            text = messages.text(notice.clip, self.language)      # KeyError: not in this kiosk's catalogue
            clip = clip_path(self.clips_dir, self.language, notice.clip) if self.clips_dir else None
            return Utterance(PREFIX + notice.id, text, MANDARIN if self.language == "zh" else "en", clip=clip,
                             volume=notice.volume)
        return Utterance(PREFIX + notice.id, notice.text or "", MANDARIN, volume=notice.volume)

    def cycle(self, schedule: Schedule | None, flow_state: State) -> list[Record]:
        """One look between events; returns the records to commit (how notices ended)."""
        out: list[Record] = []
        while True:
            try:
                nid, outcome = self.outcomes.get_nowait()
            except queue.Empty:
                break
            if self._playing is not None and self._playing[0] == nid:
                self._playing = None
            out.append(Record(kind="notice", t=self.clock.monotonic(), cause=outcome, device="voice", detail=nid))
        if self._playing is not None:
            if flow_state is not State.IDLE or self.clock.monotonic() >= self._playing[1]:
                self.player.cut(PREFIX)           # a resident is at the gate, or the notice ran its time
            return out
        if schedule is None or flow_state is not State.IDLE or not self.clock.synced():
            return out
        due = schedule.due(self.clock.wall(), self.played)
        if due is None or self.player.current is not None:
            return out
        day, notice = due
        self.played = {p for p in self.played if p[0] >= day - 1}   # bounded: only yesterday's and today's
        try:
            utt = self.utterance(notice)
        except KeyError:
            self.played.add((day, notice.id))
            log.warning("publicity notice %s names clip %r, which this kiosk does not have", notice.id, notice.clip)
            out.append(Record(kind="notice", t=self.clock.monotonic(), cause="failed", device="voice",
                              detail=f"{notice.id} unknown clip"))
            return out
        if self.player.say_if_idle(utt):
            self.played.add((day, notice.id))
            self._playing = (notice.id, self.clock.monotonic() + notice.max_s)
            log.info("publicity notice %s started", notice.id)
        return out


def for_kiosk(kiosk: Kiosk) -> Rounds | None:
    """Rounds on the kiosk's own voice player; None when it has no loudspeaker (backend none or a
    voice module: a module plays numbered tracks, not the office's notices)."""
    player = getattr(kiosk.executor.announcer, "player", None)
    if not isinstance(player, Player) or getattr(player.backend, "audio", None) is None:
        return None
    return Rounds(player, kiosk.clock, language=kiosk.cfg.kiosk.language, clips_dir=kiosk.cfg.clips_dir)


def step(rounds: Rounds, kiosk: Kiosk) -> None:
    """Between events: the current bundle's schedule, the flow's state; commit what ended."""
    trust = getattr(kiosk.verifier, "trust", None)
    bundle = getattr(trust, "bundle", None)
    for record in rounds.cycle(getattr(bundle, "publicity", None), kiosk.flow.state):
        kiosk.record(record)
