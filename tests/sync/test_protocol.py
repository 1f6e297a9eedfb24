"""The wire protocol's pure parts: signing, digests, strict JSON, gzip caps, backoff, gap bookkeeping."""

from __future__ import annotations

import gzip
import random
import statistics
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from street.storage.gaps import Gap, Progress, advance
from sync import backoff, protocol
from sync.errors import BadRequest


def test_signature_covers_every_signed_part() -> None:
    secret = bytes(range(32))
    base: dict[str, Any] = dict(method="POST", path="/v1/records", kiosk_id="k1", ts="1780000000.000",
                                nonce="n" * 32, body=b"abc")
    sig = protocol.signature(secret, **base)
    for part, other in (("method", "PUT"), ("path", "/v1/heartbeat"), ("kiosk_id", "k2"),
                        ("ts", "1780000001.000"), ("nonce", "m" * 32), ("body", b"abd")):
        assert protocol.signature(secret, **{**base, part: other}) != sig, part
    assert protocol.signature(bytes(32), **base) != sig


def test_digest_ignores_null_columns_so_added_columns_do_not_conflict() -> None:
    old = {"seq": 1, "kind": "pass", "temp_c": 36.6}
    assert protocol.record_digest(old) == protocol.record_digest({**old, "chain": None})
    assert protocol.record_digest(old) != protocol.record_digest({**old, "temp_c": 36.7})


def test_blobs_travel_as_base64() -> None:
    assert protocol.wire_record({"seq": 1, "chain": b"\x00\xff"}) == {"seq": 1, "chain": {"b64": "AP8="}}


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * (protocol.MAX_DECOMPRESSED_BYTES + 1))
    assert len(bomb) < 10_000
    with pytest.raises(BadRequest) as err:
        protocol.gunzip_capped(bomb)
    assert err.value.status == 413


@pytest.mark.parametrize("body, why", [
    (b"not gzip", "not valid gzip"),
    (gzip.compress(b"{}", mtime=0)[:-4], "truncated"),
    (gzip.compress(b"{}", mtime=0) + b"junk", "trailing"),
], ids=["not-gzip", "truncated", "trailing"])
def test_bad_gzip_is_a_400_naming_the_problem(body: bytes, why: str) -> None:
    with pytest.raises(BadRequest) as err:
        protocol.gunzip_capped(body)
    assert err.value.status == 400 and why in str(err.value)


@pytest.mark.parametrize("raw, why", [
    (b'{"a": NaN}', "NaN"),
    (b'{"a": 1, "a": 2}', "duplicate"),
    (b'{"a": ' + b"9" * 5000 + b"}", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested"),
    (b"\xff\xfe", "UTF-8"),
    (b'{"a": ', "not valid JSON"),
])
def test_strict_json_refuses_what_python_would_accept_or_choke_on(raw: bytes, why: str) -> None:
    with pytest.raises(BadRequest) as err:
        protocol.loads_strict(raw)
    assert why in str(err.value)


def test_secret_parsing() -> None:
    s = protocol.new_secret()
    assert protocol.parse_secret(f"  {s}\n") == bytes.fromhex(s)
    for bad in ("", "abc", s[:-1], s + "00", "zz" * 32):
        with pytest.raises(ValueError):
            protocol.parse_secret(bad)


# ------------------------------------------------------------------ backoff (T-SYNC-7)

def test_full_jitter_delays_lie_within_the_bound_with_the_expected_mean() -> None:
    rng = random.Random(7)
    for attempt in (1, 2, 5, 9, 12, 40):
        top = min(backoff.CAP_S, 2 ** (attempt - 1))
        samples = [backoff.full_jitter(attempt, rng) for _ in range(10_000)]
        assert all(0 <= s <= top for s in samples)
        assert abs(statistics.fmean(samples) - top / 2) <= 0.05 * top / 2


def test_retry_after_seconds_and_http_date() -> None:
    assert backoff.parse_retry_after("7", 0.0) == 7.0
    assert backoff.parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0) == pytest.approx(10.0)
    assert backoff.parse_retry_after("99999", 0.0) == backoff.MAX_RETRY_AFTER_S
    assert backoff.parse_retry_after("soon", 0.0) is None
    assert backoff.parse_retry_after(None, 0.0) is None


# ------------------------------------------------------------------ gaps (T-SYNC-5 bookkeeping)

@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 60), data=st.data())
def test_progress_tracks_exactly_the_missing_seqs(n: int, data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(1, n + 1)))
    cut = data.draw(st.integers(0, n))
    chunks = data.draw(st.lists(st.integers(1, 10), min_size=1, max_size=20))
    p = Progress(0, 0, ())
    arrived: set[int] = set()
    i, t = 0, 0.0
    for size in chunks * (n // len(chunks) + 1):
        if i >= cut:
            break
        part = list(order[i:min(cut, i + size)])
        i += len(part)
        t += 1
        # re-deliver a few old ones too: duplicates must not disturb anything
        p = advance(p, part + sorted(arrived)[:2], t)
        arrived |= set(part)
        missing = sorted(set(range(1, max(arrived) + 1)) - arrived)
        assert [s for g in p.gaps for s in range(g.first, g.last + 1)] == missing
        assert p.acked_through == (missing[0] - 1 if missing else max(arrived))
        assert p.max_seq == max(arrived)
    if cut == n:
        assert p == Progress(n, n, ())


def test_a_split_gap_keeps_the_time_it_was_first_seen() -> None:
    p = advance(Progress(0, 0, ()), [1, 10], now=100.0)
    assert p.gaps == (Gap(2, 9, 100.0),)
    p = advance(p, [5], now=200.0)
    assert p.gaps == (Gap(2, 4, 100.0), Gap(6, 9, 100.0))
    assert p.acked_through == 1
