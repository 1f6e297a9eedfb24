"""SHA-256 and HMAC-SHA-256 without OpenSSL's libcrypto in the kiosk's memory.

The kiosk hashes a few hundred bytes a pass: the audit chain's link, the replay cache's key, a
code's token id, the camera's deduper and the journal's keyed fingerprint. ``hashlib`` (and
``hmac``, which imports it) loads OpenSSL's libcrypto to do that — 3.7 MB of the resident
memory of ``kiosk run`` (3.3 MB of library pages, 0.4 MB written at load) on a device whose
budget is 80 MB, while the one crypto library the kiosk needs anyway (``cryptography``, for the
codes' signatures) carries its own OpenSSL inside its wheel.

CPython's own SHA-256 (the ``_sha256`` module in 3.11, ``_sha2`` from 3.12) is the one
``hashlib`` falls back to when it has no OpenSSL: the same digests (FIPS 180-4), a few
microseconds more for inputs this small. HMAC is RFC 2104 over it, checked against the RFC 4231
vectors and ``hmac`` in the tests. Where neither builtin module exists (a Python built without
them) this falls back to ``hashlib``: correct, only larger.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol


class Hash(Protocol):
    """The part of a hash object the kiosk uses."""

    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


def _builtin_sha256() -> Callable[[bytes], Hash]:
    for name in ("_sha2", "_sha256"):             # CPython 3.12+, CPython ≤ 3.11
        try:
            return importlib.import_module(name).sha256  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    import hashlib  # no builtin: OpenSSL's (correct, only larger)
    return hashlib.sha256


sha256: Callable[[bytes], Hash] = _builtin_sha256()

BLOCK = 64                                        # SHA-256's block size in bytes (RFC 2104's B)
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA-256 of ``message`` under ``key`` (RFC 2104): the 32-byte tag."""
    if len(key) > BLOCK:
        key = sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    inner = sha256(key.translate(_IPAD) + message).digest()
    return sha256(key.translate(_OPAD) + inner).digest()
