"""Per-kiosk request authentication on the server (docs/reliability.md §4.1, §4.2, T-SEC-1/2).

Order matters: the signature is checked before the time window and the nonce, so a request
nobody signed can neither fill the nonce cache nor learn anything but "401" (an unknown kiosk
and a bad signature get the same answer; only a correctly signed request learns it is revoked).
Ed25519 kiosks are checked against the public key the registry keeps, release-1 kiosks against
their HMAC secret (sync/signing.py). The signature
covers method, path, kiosk id, time, nonce and the body's SHA-256; ±300 s around the server's
clock; each nonce is accepted once (an in-memory cache for every request, and for writes also
a row in the same transaction as the write, so neither a restart nor another server process
reopens a replay; a replayed ``GET /v1/bundle`` that reaches another process is served again,
which tells nobody anything new). A revoked
kiosk is refused at its next request: on SQLite the registry is read on every request; on
PostgreSQL each process keeps a copy that every registry change drops at once through
LISTEN/NOTIFY (street/storage/registry_cache.py), and each write checks ``revoked`` again under
its kiosk's lock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kiosk.clock import Clock
from street.errors import Revoked
from street.storage.db import StreetDB
from sync import protocol, signing
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
    kind: str = signing.HMAC         # its credential kind: how answers to it are signed
    key: bytes = b""                 # its HMAC secret or Ed25519 public key


def _refuse(message: str, code: str = "unauthorized") -> BadRequest:
    return BadRequest(message, 401, code)


class Authenticator:
    def __init__(self, db: StreetDB, clock: Clock, window_s: float = protocol.WINDOW_S) -> None:
        self.db, self.clock, self.window_s = db, clock, window_s
        self._nonces: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._pruned = 0.0

    def verify(self, method: str, path: str, headers: HeaderSource, body: bytes,
               identified: Callable[[Caller], None] | None = None) -> Caller:
        """The authenticated kiosk, or BadRequest(401/…) saying what is wrong. ``identified`` is
        called as soon as the signature holds (before the time and nonce checks), so even a
        clock-skew refusal can be signed back to the kiosk."""
        kiosk_id = headers.get(protocol.H_KIOSK)
        ts = headers.get(protocol.H_TIME)
        nonce = headers.get(protocol.H_NONCE)
        auth = headers.get(protocol.H_AUTH)
        for name, value in ((protocol.H_KIOSK, kiosk_id), (protocol.H_TIME, ts), (protocol.H_NONCE, nonce),
                            (protocol.H_AUTH, auth)):
            if not value:
                raise _refuse(f"missing {name} header (requests must be signed)")
        assert kiosk_id and ts and nonce and auth
        if not protocol.KIOSK_ID_RE.fullmatch(kiosk_id) or len(ts) > 32 or not protocol.NONCE_RE.fullmatch(nonce):
            raise _refuse("malformed kiosk id, time or nonce")
        digest = headers.get(protocol.H_DIGEST)
        if digest is not None and digest != protocol.content_digest(body):
            raise _refuse("Content-Digest does not match the body", "bad_digest")
        entry = self.db.kiosk(kiosk_id)
        # an unknown kiosk and a bad signature get the same answer: the unsigned learn nothing
        if entry is None or not signing.request_ok(
                entry.kind, entry.secret,
                protocol.string_to_sign(method, path, kiosk_id, ts, nonce, body, signing.LABELS[entry.kind]), auth):
            raise _refuse("unknown kiosk or bad signature", "bad_signature")
        caller = Caller(kiosk_id, nonce, entry.street, entry.kind, entry.secret)
        if identified is not None:
            identified(caller)
        if entry.revoked is not None:
            raise Revoked(kiosk_id)
        try:
            when = float(ts)
        except ValueError:
            raise _refuse(f"{protocol.H_TIME} is not a number") from None
        now = self.clock.wall()
        if not math.isfinite(when) or abs(now - when) > self.window_s:
            raise _refuse(f"request time is {when - now:+.0f} s from the server's clock "
                          f"(allowed ±{self.window_s:.0f} s)", "clock_skew")
        self._remember(kiosk_id, nonce, now, when)
        return caller

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
