"""Announcements as the kiosk sees them: a catalogue key in, speech out, never blocking.

The spine ships the logging announcer; audio backends (aplay clips, espeak-ng, a
GPIO-triggered voice module) plug in behind the same :class:`Announcer` protocol.
"""

from __future__ import annotations

import logging
from typing import Protocol

from kiosk import messages

log = logging.getLogger("kiosk.voice")


class Announcer(Protocol):
    def announce(self, key: str) -> None:
        """Start saying ``key``; return at once. A newer announcement pre-empts an older one."""

    def close(self) -> None: ...


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
        self.said.append(key)
        log.info("say %s: %s", key, sentence)

    def close(self) -> None:
        pass
