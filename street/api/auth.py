"""Per-kiosk request authentication on the server (docs/reliability.md §4.1, §4.2, T-SEC-1/2).

Order matters: the signature is checked before the time window and the nonce, so a request
nobody signed can neither fill the nonce cache nor learn anything but "401". The signature
covers method, path, kiosk id, time, nonce and the body's SHA-256; ±300 s around the server's
clock; each nonce is accepted once (an in-memory cache for every request, and for writes also
a row in the same transaction as the write, so neither a restart nor another server process
reopens a replay; a replayed ``GET /v1/bundle`` that reaches another process is served again,
which tells nobody anything new). A revoked
kiosk is refused at its next request: the registry is read on every request, not cached.
"""

from __future__ import annotations

import hmac
import math
import threading
from dataclasses import dataclass
from typing import Protocol

from kiosk.clock import Clock
from street.storage.db import StreetDB
from sync import protocol
from sync.errors import BadRequest

MAX_NONCES = 200_000
PRUNE_EVERY_S = 60.0


class HeaderSource(Protocol):
    """Anything with a case-insensitive ``get`` (werkzeug's Headers, requests' dict)."""

    def get(self, key: str) -> str | None: ...


@dataclass(frozen=True)
class Caller:
    kiosk_id: str
    nonce: str
    street: str | None = None        # the registry's street of this kiosk (its trust bundle)


def _refuse(message: str, code: str = "unauthorized") -> BadRequest:
    return BadRequest(message, 401, code)


class Authenticator:
    def __init__(self, db: StreetDB, clock: Clock, window_s: float = protocol.WINDOW_S) -> None:
        self.db, self.clock, self.window_s = db, clock, window_s
        self._nonces: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._pruned = 0.0

    def verify(self, method: str, path: str, headers: HeaderSource, body: bytes) -> Caller:
        """The authenticated kiosk, or BadRequest(401/…) saying what is wrong."""
        kiosk_id = headers.get(protocol.H_KIOSK)
        ts = headers.get(protocol.H_TIME)
        nonce = headers.get(protocol.H_NONCE)
        auth = headers.get(protocol.H_AUTH)
        for name, value in ((protocol.H_KIOSK, kiosk_id), (protocol.H_TIME, ts), (protocol.H_NONCE, nonce),
                            (protocol.H_AUTH, auth)):
            if not value:
                raise _refuse(f"missing {name} header (requests must be signed)")
        assert kiosk_id and ts and nonce and auth
        if not protocol.KIOSK_ID_RE.fullmatch(kiosk_id):
            raise _refuse("malformed kiosk id")
        entry = self.db.kiosk(kiosk_id)
        if entry is None:
            raise _refuse(f"unknown kiosk {kiosk_id!r}", "unknown_kiosk")
        if entry.revoked is not None:
            raise _refuse(f"kiosk {kiosk_id!r} credential is revoked", "revoked")
        digest = headers.get(protocol.H_DIGEST)
        if digest is not None and digest != protocol.content_digest(body):
            raise _refuse("Content-Digest does not match the body", "bad_digest")
        scheme, _, sig = auth.partition(" ")
        if scheme != protocol.AUTH_SCHEME or len(sig) != 64 or len(ts) > 32 or len(nonce) > 64:
            raise _refuse(f"Authorization must be '{protocol.AUTH_SCHEME} <64 hex digits>'")
        expected = protocol.signature(entry.secret, method, path, kiosk_id, ts, nonce, body)
        if not hmac.compare_digest(expected, sig.lower()):
            raise _refuse("bad signature", "bad_signature")
        try:
            when = float(ts)
        except ValueError:
            raise _refuse(f"{protocol.H_TIME} is not a number") from None
        now = self.clock.wall()
        if not math.isfinite(when) or abs(now - when) > self.window_s:
            raise _refuse(f"request time is {when - now:+.0f} s from the server's clock "
                          f"(allowed ±{self.window_s:.0f} s)", "clock_skew")
        if not protocol.NONCE_RE.fullmatch(nonce):
            raise _refuse("malformed nonce")
        self._remember(kiosk_id, nonce, now, when)
        return Caller(kiosk_id, nonce, entry.street)

    def _remember(self, kiosk_id: str, nonce: str, now: float, when: float) -> None:
        # kept until the signed time itself falls out of the window
        key = (kiosk_id, nonce)
        with self._lock:
            if key in self._nonces:
                raise _refuse("request nonce already used (replayed request)", "replay")
            if len(self._nonces) >= MAX_NONCES or now - self._pruned > PRUNE_EVERY_S:
                self._nonces = {k: t for k, t in self._nonces.items() if t >= now}
                self._pruned = now
            self._nonces[key] = max(now, when) + self.window_s
