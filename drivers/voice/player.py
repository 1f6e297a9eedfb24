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
    """

    name: str
    text: str
    voice: str
    clip: Path | None = None
    track: int | None = None


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
        self._closed = False
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
            self._pending = utterance
            busy = self._busy
            if busy:
                self._cancel.set()
            self._cv.notify_all()
        if busy:
            self.backend.interrupt()

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
            try:
                self._play(utterance, cancel)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _play(self, utterance: Utterance, cancel: threading.Event) -> None:
        self.last_error = None
        try:
            self.backend.play(utterance, cancel)
        except DeviceUnavailable as exc:
            self.last_error = str(exc)
            self.health.down(str(exc))
            return
        except SpeechUnavailable as exc:
            self.last_error = str(exc)
            log.warning("cannot say %s: %s", utterance.name, exc)
            return
        except Exception as exc:   # a broken backend must not kill the worker
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("playing %s failed", utterance.name)
            return
        if cancel.is_set():
            self.interrupted += 1
            return
        self.played += 1
        self.health.up()

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
