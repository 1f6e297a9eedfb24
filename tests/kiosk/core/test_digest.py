"""kiosk.core.digest: the same SHA-256 and HMAC-SHA-256 as hashlib/hmac (RFC 4231's vectors),
from CPython's builtin hash module — never OpenSSL's libcrypto in the kiosk's memory."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from kiosk.core import digest

# RFC 4231 §4.2, 4.3, 4.7 (test cases 1, 2 and 6: a key longer than the block is hashed first)
RFC4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
]


@pytest.mark.parametrize(("key", "message", "tag"), RFC4231)
def test_hmac_matches_rfc_4231(key: bytes, message: bytes, tag: str) -> None:
    assert digest.hmac_sha256(key, message).hex() == tag


def test_same_digests_as_hashlib_and_hmac_for_any_length() -> None:
    rng = random.Random(7)
    for n in (0, 1, 55, 56, 63, 64, 65, 127, 128, 1000):
        key, message = rng.randbytes(rng.choice((0, 16, 64, 65, 200))), rng.randbytes(n)
        assert digest.sha256(message).digest() == hashlib.sha256(message).digest()
        assert digest.hmac_sha256(key, message) == hmac.new(key, message, hashlib.sha256).digest()
    h = digest.sha256(b"ab")
    h.update(b"c")
    assert h.hexdigest() == hashlib.sha256(b"abc").hexdigest()


def test_it_is_cpythons_builtin_not_openssls() -> None:
    assert digest.sha256.__module__ in ("_sha256", "_sha2")
