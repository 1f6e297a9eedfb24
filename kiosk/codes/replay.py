"""The replay cache: token hashes that already let someone through, until their use expires.

Checking and marking are separate (issue #5): :meth:`seen` is asked while verifying, and a
token is only :meth:`mark`-ed once the pass record it opened the gate for is committed. So the
resident holding the same phone code up for several seconds is not flagged; the second
*person* showing it is. Times are monotonic, so a wall-clock step cannot revive an entry.

Bounded by time and by size: an entry is useless once its code's use expires, so every mark
first forgets the entries that expired (a heap ordered by expiry makes that O(log n) per entry,
whatever the cache holds), and the cache never holds more than ``max_entries`` live ones
(past that, those expiring soonest go first). A gate's memory therefore follows the codes
live right now — minutes' worth for dynamic codes — not every pass since start.
"""

from __future__ import annotations

import heapq
import threading

MAX_ENTRIES = 50_000     # ~10 MB when full (~206 B an entry, tracemalloc): far more codes than live in a window


class ReplayCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._until: dict[bytes, float] = {}
        self._expiry: list[tuple[float, bytes]] = []     # (until, hash); stale pairs are skipped
        self._lock = threading.Lock()
        self._max = max_entries

    def seen(self, token_hash: bytes, now_mono: float) -> bool:
        with self._lock:
            until = self._until.get(token_hash)
            return until is not None and now_mono <= until

    def mark(self, token_hash: bytes, until_mono: float, now_mono: float) -> None:
        with self._lock:
            self._expire(now_mono)
            if until_mono > self._until.get(token_hash, float("-inf")):
                self._until[token_hash] = until_mono
                heapq.heappush(self._expiry, (until_mono, token_hash))
            while len(self._until) > self._max:
                self._pop()
            if len(self._expiry) > 2 * len(self._until) + 64:   # many re-marks left stale pairs
                self._expiry = [(u, k) for k, u in self._until.items()]
                heapq.heapify(self._expiry)

    def _expire(self, now_mono: float) -> None:
        while self._expiry and self._expiry[0][0] < now_mono:
            self._pop()

    def _pop(self) -> None:
        until, key = heapq.heappop(self._expiry)
        if self._until.get(key) == until:         # not re-marked with a later expiry since
            del self._until[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._until)
