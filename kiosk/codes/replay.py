"""The replay cache: token hashes that already let someone through, until their use expires.

Checking and marking are separate (issue #5): :meth:`seen` is asked while verifying, and a
token is only :meth:`mark`-ed once the pass record it opened the gate for is committed. So the
resident holding the same phone code up for several seconds is not flagged; the second
*person* showing it is. Times are monotonic, so a wall-clock step cannot revive an entry.
"""

from __future__ import annotations

import threading

MAX_ENTRIES = 200_000     # ~20 MB worst case; a gate sees a few thousand passes a day


class ReplayCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._until: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def seen(self, token_hash: bytes, now_mono: float) -> bool:
        with self._lock:
            until = self._until.get(token_hash)
            return until is not None and now_mono <= until

    def mark(self, token_hash: bytes, until_mono: float, now_mono: float) -> None:
        with self._lock:
            if until_mono > self._until.get(token_hash, float("-inf")):
                self._until[token_hash] = until_mono
            if len(self._until) > self._max:
                self._prune(now_mono)

    def _prune(self, now_mono: float) -> None:
        live = {k: u for k, u in self._until.items() if u >= now_mono}
        if len(live) > self._max:   # still full: forget the entries that expire soonest
            live = dict(sorted(live.items(), key=lambda kv: kv[1])[len(live) - self._max:])
        self._until = live

    def __len__(self) -> int:
        with self._lock:
            return len(self._until)
