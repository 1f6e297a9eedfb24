"""One voice worker thread: callers hand it an utterance and return at once; the newest wins.

The gate must never wait on speech (docs/ecosystem.md §4.1), so :meth:`Player.say` only
stores the utterance and wakes the worker. If something is playing, it is interrupted: a
resident who has just been told "please measure" needs "normal, please pass" now, not after
the first sentence ends. Utterances that were never started are simply replaced.

Backends (ALSA speaker, GPIO-triggered voice module) implement :class:`Backend`. A backend
raises :class:`~drivers.errors.DeviceUnavailable` when the audio device is missing; the player
reports that once through ``on_fault`` and reports ``on_recovered`` after the next clip that
plays, so an unplugged sound card is a device fault, never a crash.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from drivers.errors import DeviceUnavailable, SpeechUnavailable
from drivers.health import Health

log = logging.getLogger("drivers.voice.player")

CLOSE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Utterance:
    """What to say, in every form a backend may need.

    :param name: the message's name (for log lines).
    :param text: the sentence, for espeak-ng.
    :param voice: espeak-ng voice for ``text`` (``cmn`` for Mandarin, ``en``).
    :param clip: pre-rendered WAV clip, if the backend plays clips.
    :param track: track number on a GPIO-triggered voice module.
    :param volume: 0-100 for this utterance alone (a publicity notice's own volume); None: the backend's.
    """

    name: str
    text: str
    voice: str
    clip: Path | None = None
    track: int | None = None
    volume: int | None = None


class Backend(Protocol):
    def play(self, utterance: Utterance, cancelled: threading.Event) -> None:
        """Play one utterance to the end, or until ``cancelled`` is set. Runs in the worker."""

    def interrupt(self) -> None:
        """Cut the current playback short (called from other threads)."""

    def close(self) -> None: ...


class Player:
    """The worker thread in front of one backend."""

    def __init__(self, backend: Backend, *, on_fault: Callable[[str], None] | None = None,
                 on_recovered: Callable[[], None] | None = None, name: str = "voice") -> None:
        self.backend = backend
        self.health = Health(name, on_fault, on_recovered, log)
        self._cv = threading.Condition()
        self._pending: Utterance | None = None
        self._cancel = threading.Event()
        self._busy = False
        self._current: str | None = None
        self._closed = False
        self.finished: Callable[[str, str], None] | None = None   # (name, "played"|"cut"|"failed"), worker thread
        self.last_error: str | None = None   # why the last utterance was not said (None: it was)
        self.played = 0           # utterances that ran to their end (tests, bench)
        self.interrupted = 0      # utterances cut short by a newer one
        self._thread = threading.Thread(target=self._run, name=f"{name}-player", daemon=True)
        self._thread.start()

    @property
    def faulted(self) -> bool:
        return self.health.faulted

    def say(self, utterance: Utterance) -> None:
        """Queue ``utterance`` in place of anything not yet started; interrupt what is playing."""
        with self._cv:
            if self._closed:
                return
            dropped, self._pending = self._pending, utterance
            busy = self._busy
            if busy:
                self._cancel.set()
            self._cv.notify_all()
        if busy:
            self.backend.interrupt()
        if dropped is not None:
            self._tell(dropped.name, "cut")         # replaced before it started

    def say_if_idle(self, utterance: Utterance) -> bool:
        """Start ``utterance`` only if nothing is playing or waiting; never cuts anything. For
        what may wait (a publicity notice); any later :meth:`say` cuts it at once."""
        with self._cv:
            if self._closed or self._busy or self._pending is not None:
                return False
            self._pending = utterance
            self._cv.notify_all()
            return True

    @property
    def current(self) -> str | None:
        """The name of the utterance playing or about to play, or None when idle."""
        with self._cv:
            if self._pending is not None:
                return self._pending.name
            return self._current if self._busy else None

    def cut(self, name_prefix: str) -> bool:
        """Cut what is playing (or waiting) if its name starts with ``name_prefix``; True if it did."""
        dropped: Utterance | None = None
        with self._cv:
            if self._pending is not None and self._pending.name.startswith(name_prefix):
                dropped, self._pending = self._pending, None
                self._cv.notify_all()
        if dropped is not None:
            self._tell(dropped.name, "cut")
            return True
        with self._cv:
            if not (self._busy and self._current is not None and self._current.startswith(name_prefix)):
                return False
            self._cancel.set()
        self.backend.interrupt()
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is playing or pending (`kiosk voice say`, tests, bench)."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._busy and self._pending is None, timeout)

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                utterance, self._pending = self._pending, None
                assert utterance is not None
                self._cancel = cancel = threading.Event()
                self._busy = True
                self._current = utterance.name
            outcome = "failed"
            try:
                outcome = self._play(utterance, cancel)
            finally:
                with self._cv:
                    self._busy = False
                    self._current = None
                    self._cv.notify_all()
                self._tell(utterance.name, outcome)

    def _tell(self, name: str, outcome: str) -> None:
        """Report how an utterance ended to ``finished`` (the caller's thread, no lock held)."""
        if self.finished is not None:
            try:
                self.finished(name, outcome)
            except Exception:
                log.exception("voice listener failed")      # a listener's bug must not kill the voice worker

    def _play(self, utterance: Utterance, cancel: threading.Event) -> str:
        self.last_error = None
        try:
            self.backend.play(utterance, cancel)
        except DeviceUnavailable as exc:
            self.last_error = str(exc)
            self.health.down(str(exc))
            return "failed"
        except SpeechUnavailable as exc:
            self.last_error = str(exc)
            log.warning("cannot say %s: %s", utterance.name, exc)
            return "failed"
        except Exception as exc:   # a broken backend must not kill the worker
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("playing %s failed", utterance.name)
            return "failed"
        if cancel.is_set():
            self.interrupted += 1
            return "cut"
        self.played += 1
        self.health.up()
        return "played"

    def close(self) -> None:
        """Stop the worker (cutting any playback short), then close the backend."""
        with self._cv:
            self._closed = True
            self._pending = None
            self._cancel.set()
            self._cv.notify_all()
        self.backend.interrupt()
        self._thread.join(CLOSE_TIMEOUT_S)
        self.backend.close()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
