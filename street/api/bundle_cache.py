"""The trust bundle each street's kiosks fetch, kept in memory for a few seconds per process.

Every kiosk asks ``GET /v1/bundle`` once a cycle (30 s) and nearly always hears ``304``: at a
district's 5,850 kiosks that is ~200 questions a second whose answer has not changed. Reading
the bundle (a blob) from the database for each cost a pooled connection and four round trips.
Here the newest bundle of a street (or "no bundle": 204) is remembered for ``TTL_S`` seconds of
the injected clock: a ``304`` needs no database at all, and a bundle published with
`street-server bundle publish` (another process) reaches the kiosks at most ``TTL_S`` later
than before — nothing next to their 30 s cycle. One published through this process's own
database handle (the demo, tests) changes ``published()`` and is served at once. The ETag
comes with the row (computed once, at publishing), never by hashing the bundle per request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from kiosk.clock import Clock

TTL_S = 10.0

Latest = tuple[str, bytes] | None          # (etag, bundle) or no bundle at all


class BundleCache:
    def __init__(self, fetch: Callable[[str | None], Latest], clock: Clock, published: Callable[[], int],
                 ttl_s: float = TTL_S) -> None:
        self.fetch, self.clock, self.published, self.ttl_s = fetch, clock, published, ttl_s
        self._held: dict[str | None, tuple[float, int, Latest]] = {}
        self._lock = threading.Lock()

    def latest(self, street: str | None) -> Latest:
        """The newest bundle for ``street``'s kiosks, read from the database at most every ``ttl_s``."""
        now, generation = self.clock.monotonic(), self.published()
        with self._lock:
            held = self._held.get(street)
        if held is not None and now - held[0] < self.ttl_s and held[1] == generation:
            return held[2]
        latest = self.fetch(street)          # outside the lock: a slow read holds up no other street
        with self._lock:
            self._held[street] = (now, generation, latest)
        return latest
