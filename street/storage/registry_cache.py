"""A process's copy of kiosks' registry entries, trusted only while a change feed is live.

Why: every kiosk request's signature check needs the kiosk's secret (or public key), street and
revocation; read from PostgreSQL it was a round trip per request (a quarter of a bundle check's
CPU, most of PostgreSQL's share of it). Entries change only when a kiosk is registered again or
revoked, so each server process keeps them — but only while PostgreSQL's ``LISTEN`` feed
(street/storage/pg_listen.py) is connected: every registry change sends ``NOTIFY`` in its own
transaction, delivered to every process when it commits, and the entry is dropped here. While
the feed is down (PostgreSQL restarting, the listener reconnecting) nothing is served from the
copy, and when it comes back the copy starts empty: a change made meanwhile cannot be missed.
SQLite has no feed (one server process, a registry read costs microseconds): nothing is kept.

The race every read-through cache has — a request reads the old entry, the change commits and
its notice arrives, then the request stores what it read — is closed by a generation number:
an entry read before a notice is never stored after it. ``ttl`` bounds what a notice lost some
other way (a change made outside `street-server` commands, e.g. by hand in SQL) could cost.

Writes do not rely on this copy for revocation: each write reads ``revoked`` under its kiosk's
lock in its own transaction (street/storage/db.py), so a revoked kiosk's upload or heartbeat is
refused even in the milliseconds before the notice arrives.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

from kiosk.clock import Clock

T = TypeVar("T")
TTL_S = 300.0              # a backstop only (see above); kiosks call every 30 s: ~1 read in 10 cycles
MAX_ENTRIES = 50_000         # a district's kiosks with room to spare; beyond it the copy starts over
ALL = "*"                    # a notice's payload meaning "every entry"


class RegistryCache(Generic[T]):
    def __init__(self, clock: Clock, ttl: float = TTL_S) -> None:
        self.clock, self.ttl = clock, ttl
        self.live = False                          # the change feed is connected and listening
        self._entries: dict[str, tuple[float, T]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> T | None:
        """The kept entry, if the feed is live and it is younger than ``ttl``."""
        if not self.live:
            return None
        hit = self._entries.get(key)
        if hit is None or self.clock.monotonic() - hit[0] >= self.ttl:
            return None
        return hit[1]

    def generation(self) -> int:
        """Take before reading the database; hand to :meth:`put` with what was read."""
        return self._generation

    def put(self, key: str, value: T, generation: int) -> None:
        """Keep ``value`` unless a change was noticed since ``generation`` (it may be older)."""
        with self._lock:
            if not self.live or generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (self.clock.monotonic(), value)

    def changed(self, key: str | None, live: bool) -> None:
        """The feed's callback: ``key`` changed (None or :data:`ALL`: anything may have); ``live``
        whether the feed is listening now."""
        with self._lock:
            self._generation += 1
            if key is None or key == ALL or not live:
                self._entries.clear()
            else:
                self._entries.pop(key, None)
            self.live = live
