"""Announcements as the kiosk sees them: a catalogue key in, speech out, never blocking.

:class:`VoiceAnnouncer` turns a key of kiosk/data/messages.toml into a driver
:class:`~drivers.voice.player.Utterance` (clip path, sentence, espeak-ng voice, module track) and
hands it to a :class:`~drivers.voice.player.Player`, whose worker thread plays it — the ALSA
speaker (backends ``aplay``/``espeak``) or a GPIO-triggered voice module (``gpio-voice``).
:class:`LogAnnouncer` only logs (backend ``none``).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Protocol

from gpiozero.pins import Factory

from drivers.voice.alsa import AlsaSpeaker, Switch
from drivers.voice.module import VoiceModule
from drivers.voice.player import Player, Utterance
from kiosk.config import Config
from kiosk.devices import DeviceSink, messages

log = logging.getLogger("kiosk.devices.voice")
DEVICE = "voice"

# espeak-ng voice per announcement language: `cmn` is Mandarin (docs/ecosystem.md §4.1).
ESPEAK_VOICES = {"zh": "cmn", "en": "en"}
SAID_KEPT = 64
"""Announcements an announcer remembers in ``said`` (for tests and the console): the last
``SAID_KEPT`` to ``2 * SAID_KEPT``. Kept whole, it grew by a couple of entries every pass for as
long as the kiosk ran (issue 17)."""


def remember(said: list[str], key: str) -> None:
    """Append ``key`` to ``said``, dropping the oldest half once it holds ``2 * SAID_KEPT``."""
    said.append(key)
    if len(said) > 2 * SAID_KEPT:
        del said[:-SAID_KEPT]


class Announcer(Protocol):
    def announce(self, key: str) -> None:
        """Start saying ``key``; return at once. A newer announcement pre-empts an older one."""

    def close(self) -> None: ...


def clip_path(clips_dir: Path, language: str, key: str) -> Path:
    """Where `kiosk voice build` puts the clip of ``key`` in ``language``."""
    return clips_dir / language / f"{key}.wav"


@functools.lru_cache(maxsize=512)
def utterance(key: str, language: str, clips_dir: Path | None) -> Utterance:
    """Everything a backend needs to say ``key``; KeyError for a key not in the catalogue.

    Made once per key (the catalogue is a few dozen messages in two languages; an Utterance is
    frozen): a clip's Path built for every announcement interned its file name anew (pathlib
    interns each part it parses) only for it to die a moment later — two insertions and
    deletions a pass in CPython's table of interned strings, which that table pays for by
    growing (issue 17, docs/benchmarks.md "Memory, issue 17")."""
    return Utterance(name=key, text=messages.text(key, language), voice=ESPEAK_VOICES[language],
                     clip=clip_path(clips_dir, language, key) if clips_dir is not None else None,
                     track=messages.track(key))


class LogAnnouncer:
    """Writes each announcement to the log (backend 'none', and the spine's default)."""

    def __init__(self, language: str = "zh") -> None:
        self.language = language
        self.said: list[str] = []

    def announce(self, key: str) -> None:
        try:
            sentence = messages.text(key, self.language)
        except KeyError:
            log.warning("announcement %r is not in the message catalogue", key)
            return
        remember(self.said, key)
        log.info("say %s: %s", key, sentence)

    def close(self) -> None:
        pass


class VoiceAnnouncer:
    """Says catalogue keys through a driver player; unknown keys and mute are logged, not raised."""

    def __init__(self, player: Player, *, language: str = "zh", clips_dir: Path | None = None,
                 mute: bool = False) -> None:
        self.player = player
        self.language, self.clips_dir, self.mute = language, clips_dir, mute
        self.said: list[str] = []

    def announce(self, key: str) -> None:
        try:
            u = utterance(key, self.language, self.clips_dir)
        except KeyError:
            log.warning("announcement %r is not in the message catalogue; nothing said", key)
            return
        remember(self.said, key)
        if self.mute:
            log.info("muted: %s", key)
            return
        log.debug("say %s: %s", key, u.text)
        self.player.say(u)

    def missing_clips(self) -> list[str]:
        """Catalogue keys without a rendered clip in this language (logged at start-up)."""
        if self.clips_dir is None:
            return []
        return [k for k in messages.keys() if not clip_path(self.clips_dir, self.language, k).is_file()]

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self.player.wait_idle(timeout)

    def close(self) -> None:
        self.player.close()


def start(cfg: Config, sink: DeviceSink | None = None, *, amp: Switch | None = None,
          pin_factory: Factory | None = None) -> Announcer:
    """The announcer ``[voice] backend`` asks for, its player thread running; the player's
    faults and recoveries go to ``sink`` as device ``voice``.

    ``amp`` is switched around each clip (aplay, espeak); ``pin_factory`` drives a gpio-voice
    module's trigger pins (both from :func:`kiosk.devices.gpio.start`).
    """
    v = cfg.voice
    on_fault = (lambda message: sink.device_fault(DEVICE, message)) if sink is not None else None
    on_recovered = (lambda: sink.device_recovered(DEVICE)) if sink is not None else None
    if v.backend == "none":
        return LogAnnouncer(cfg.kiosk.language)
    clips_dir = cfg.clips_dir
    if v.backend == "gpio-voice":
        if pin_factory is None:
            raise ValueError("the gpio-voice backend needs a GPIO pin factory")
        backend: VoiceModule | AlsaSpeaker = VoiceModule(
            v.pins(), mode=v.gpio_mode, pulse_s=v.gpio_pulse_s, active_low=v.gpio_active_low,
            pin_factory=pin_factory)
    else:
        backend = AlsaSpeaker(device=v.device, prefer_clips=v.backend == "aplay", volume=v.volume, amp=amp,
                              buffer_ms=v.buffer_ms)
    announcer = VoiceAnnouncer(Player(backend, on_fault=on_fault, on_recovered=on_recovered),
                               language=cfg.kiosk.language, clips_dir=clips_dir, mute=v.mute)
    if v.backend == "aplay":
        missing = announcer.missing_clips()
        if missing:
            log.warning("%d voice clips missing in %s (e.g. %s); espeak-ng speaks them instead. "
                        "Run `kiosk voice build`.", len(missing), clips_dir / cfg.kiosk.language, missing[0])
    return announcer
