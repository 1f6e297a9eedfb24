"""One PostgreSQL ``LISTEN`` channel followed from a thread of its own, reconnecting as needed.

Why LISTEN/NOTIFY (over a generation number polled per request): a poll is the same round trip
per request the registry copy is meant to save, while a notice costs nothing until a registry
change, and PostgreSQL delivers it to every listening session when the notifying transaction
commits — never for one that rolled back (manual: SQL Commands, NOTIFY). A notice sent while a
session is not listening is not kept for it, so the callback is told when listening starts
(``live=True``, a fresh start: forget everything) and when it stops (``live=False``); a dead
peer is noticed by TCP keepalives within seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

POLL_S = 0.1                # one wait for notices: how soon close() is obeyed (ten idle wake-ups a second)
RETRY_S = 1.0               # pause before reconnecting after the connection failed
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}

OnChange = Callable[[str | None, bool], None]


class Listener:
    """``on_change(payload, True)`` per notice on ``channel``; ``on_change(None, True)`` each time
    listening (re)starts, ``on_change(None, False)`` each time it stops."""

    def __init__(self, url: str, channel: str, on_change: OnChange, connect_timeout: int = 5) -> None:
        self.url, self.channel, self.on_change = url, channel, on_change
        self.connect_timeout = connect_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pg-listen:{channel}", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            live = False
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout,
                                     **KEEPALIVE) as conn:                         # type: ignore[arg-type]
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    live = True
                    self.on_change(None, True)
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=POLL_S):
                            self.on_change(notice.payload, True)
            except psycopg.Error:
                pass
            finally:
                if live:
                    self.on_change(None, False)
            self._stop.wait(RETRY_S)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=POLL_S * 8 + 1)
