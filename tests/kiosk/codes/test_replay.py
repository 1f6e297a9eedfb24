"""kiosk.codes.replay: the replay cache is bounded by time (expired codes are forgotten as new
ones are marked) and by size, and a re-mark with a later expiry survives the earlier one."""

from __future__ import annotations

import os

from kiosk.codes.replay import ReplayCache


def test_expired_codes_are_forgotten_as_new_ones_are_marked() -> None:
    cache = ReplayCache(max_entries=1_000_000)
    for i in range(10_000):                      # a busy gate: one pass a second, codes good for 60 s
        now = float(i)
        cache.mark(os.urandom(16), now + 60.0, now)
        assert len(cache) <= 61                  # only the live ones, however many passes went by
    assert len(cache._expiry) <= 2 * 61 + 64


def test_seen_until_expiry_then_not() -> None:
    cache = ReplayCache()
    cache.mark(b"a", 100.0, 0.0)
    assert cache.seen(b"a", 100.0) and not cache.seen(b"a", 100.1) and not cache.seen(b"b", 1.0)


def test_a_later_mark_of_the_same_code_outlives_its_first_expiry() -> None:
    cache = ReplayCache()
    cache.mark(b"a", 10.0, 0.0)
    cache.mark(b"a", 50.0, 5.0)
    cache.mark(b"a", 20.0, 6.0)                  # an earlier expiry never shortens it
    cache.mark(b"other", 100.0, 30.0)            # past the first expiry: the stale heap pair goes
    assert cache.seen(b"a", 40.0) and len(cache) == 2
    cache.mark(b"x", 200.0, 60.0)
    assert not cache.seen(b"a", 60.0) and len(cache) == 2


def test_size_bound_forgets_the_soonest_to_expire() -> None:
    cache = ReplayCache(max_entries=3)
    for i, until in enumerate((40.0, 10.0, 30.0, 20.0)):
        cache.mark(bytes([i]), until, 0.0)
    assert len(cache) == 3
    assert not cache.seen(bytes([1]), 1.0)       # expiring at 10: the first to go
    assert all(cache.seen(bytes([i]), 1.0) for i in (0, 2, 3))
