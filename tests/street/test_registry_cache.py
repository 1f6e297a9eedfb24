"""The registry copy behind the signature check (street/storage/registry_cache.py): what it may
serve, and when it must serve nothing."""

from __future__ import annotations

from kiosk.clock import FakeClock
from street.storage.registry_cache import ALL, RegistryCache


def live_cache(clock: FakeClock) -> RegistryCache[str]:
    cache: RegistryCache[str] = RegistryCache(clock, ttl=30.0)
    cache.changed(None, True)                   # the feed starts listening
    return cache


def test_nothing_is_kept_or_served_while_the_feed_is_down() -> None:
    clock = FakeClock()
    cache: RegistryCache[str] = RegistryCache(clock)
    cache.put("k1", "old", cache.generation())
    assert cache.get("k1") is None              # never listened: nothing kept
    cache.changed(None, True)
    cache.put("k1", "entry", cache.generation())
    assert cache.get("k1") == "entry"
    cache.changed(None, False)                  # the feed's connection broke: a notice may be missed
    assert cache.get("k1") is None
    cache.changed(None, True)                   # back: starts empty
    assert cache.get("k1") is None


def test_an_entry_read_before_a_notice_is_not_kept_after_it() -> None:
    cache = live_cache(FakeClock())
    before = cache.generation()                 # a request starts its registry read …
    cache.changed("k1", True)                   # … the revocation's notice arrives meanwhile
    cache.put("k1", "read before the revocation", before)
    assert cache.get("k1") is None


def test_notices_drop_one_entry_or_all_and_entries_expire() -> None:
    clock = FakeClock()
    cache = live_cache(clock)
    for k in ("k1", "k2"):
        cache.put(k, k, cache.generation())
    cache.changed("k1", True)
    assert cache.get("k1") is None and cache.get("k2") == "k2"
    cache.changed(ALL, True)
    assert cache.get("k2") is None
    cache.put("k3", "k3", cache.generation())
    clock.advance(29.9)
    assert cache.get("k3") == "k3"
    clock.advance(0.1)
    assert cache.get("k3") is None
