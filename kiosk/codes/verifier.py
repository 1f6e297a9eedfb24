"""Offline verification of a scanned payload into one :class:`CodeVerdict` (docs/health-codes.md §3.1).

The checks run in a fixed order and the first failure names the verdict, so every verdict has
exactly one reason:

1. size and prefix — cheap, before any parsing: ``unsupported_format`` / ``bad_prefix``
2. Base45, COSE envelope, header — ``decode_error``
3. trust — no bundle held: ``stale_bundle``; revoked kid: ``revoked``; kid not in the bundle (or
   another issuer name): ``unknown_kid``; ``alg`` not the one the bundle lists for that kid:
   ``alg_not_allowed``; signature: ``bad_signature``; then the signed claims: ``decode_error``
4. revoked token id — ``revoked``
5. time, against ``now = max(wall clock, high-water mark)`` — past the code's (or its key's)
   end: ``expired``; wall clock behind the mark, or a code issued in the future on an
   unsynchronised clock: ``clock_untrusted``; ``nbf`` ahead: ``not_yet_valid``
6. scope against [kiosk] compound/gate (and the issuer key's scopes) — ``wrong_scope``
7. colour — ``red``; bundle older than its ``max_age`` under the stale policy: ``stale_bundle``;
   ``yellow``. Paper codes take the colour from the status list, never from the paper; phone
   codes take the worse of their own and the status list's.
8. replay cache — ``replay``; otherwise ``ok``.

Nothing here raises for any payload. Only signature-checked codes carry claims (kind, issuer,
holder reference, expiry) in their verdict; for the rest ``token_hash`` hashes the payload so
the log can still tell one forged code from another.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kiosk.clock import Clock
from kiosk.codes import base45, cose
from kiosk.codes.bundle import Bundle, IssuerKey
from kiosk.codes.replay import ReplayCache
from kiosk.codes.timemark import TimeMark
from kiosk.codes.token import PREFIX_BYTES, Claims, decode_claims, token_hash
from kiosk.codes.trust import TrustStore
from kiosk.core.digest import sha256
from kiosk.core.verdict import CodeVerdict
from kiosk.errors import TokenError
from kiosk.statefiles import CODES_TIME

log = logging.getLogger("kiosk.codes.verifier")
_RANK = {"green": 0, "yellow": 1, "red": 2}
REPLAY_KINDS = ("dynamic", "paper", "visitor")   # a volunteer badge is shown to start *and* end a shift
REFRESH_EVERY_S = 1.0                            # how often verify() looks at the bundle file


class CodeVerifier:
    """The kiosk's :class:`kiosk.service.runtime.Verifier` for ``GK1:`` codes."""

    def __init__(self, trust: TrustStore, clock: Clock, *, compound: str, gate: str,
                 skew_s: float = 30.0, max_payload_bytes: int = 4096,
                 time_mark: TimeMark | None = None, replay: ReplayCache | None = None,
                 refresh_every_s: float = REFRESH_EVERY_S) -> None:
        self.trust, self.clock = trust, clock
        self.compound, self.gate = compound, gate
        self.skew = float(skew_s)
        self.max_payload = max_payload_bytes
        self.mark = time_mark or TimeMark(None)
        self.replay = replay or ReplayCache()
        self.refresh_every = refresh_every_s
        self._next_refresh = float("-inf")
        trust.on_accept = lambda b: self.mark.observe(b.iat)
        if trust.bundle is not None:
            self.mark.observe(trust.bundle.iat)

    # ------------------------------------------------------------------ the Verifier protocol

    def verify(self, payload: bytes) -> CodeVerdict:
        """Any byte string in, one verdict out."""
        try:
            return self._verify(payload)
        except Exception:   # a bug must not take the camera thread down; the gate stays shut
            log.exception("verifier failed on a %d-byte payload", len(payload) if hasattr(payload, "__len__") else -1)
            return CodeVerdict(reason="decode_error", code_format="GK1")

    def mark_used(self, verdict: CodeVerdict) -> None:
        """Record that ``verdict``'s code let someone through: the executor calls this for the flow's
        UseCode action, when the gate opens for it (kiosk/core/actions.py)."""
        if verdict.token_hash is None or verdict.kind not in REPLAY_KINDS or verdict.expires_at is None:
            return
        bundle = self.trust.bundle
        now_mono, wall = self.clock.monotonic(), self.clock.wall()
        if verdict.kind == "dynamic":
            left = verdict.expires_at + self.skew - max(wall, self.mark.value)
        else:
            left = float(bundle.policy.reuse_window_s if bundle else 60)
        if left > 0:
            self.replay.mark(bytes.fromhex(verdict.token_hash), now_mono + left, now_mono)

    def refresh(self) -> None:
        """Look for a new bundle file now (the sync process may call this after writing one)."""
        self._next_refresh = self.clock.monotonic() + self.refresh_every
        self.trust.refresh()

    # ------------------------------------------------------------------ the checks

    def _verify(self, payload: bytes) -> CodeVerdict:
        if isinstance(payload, str):
            payload = payload.encode("utf-8", "surrogatepass")
        payload = bytes(payload)
        ours = payload.startswith(PREFIX_BYTES)
        if len(payload) > self.max_payload:
            return CodeVerdict(reason="decode_error" if ours else "unsupported_format",
                               code_format="GK1" if ours else "other")
        if not ours:
            if payload[:2].upper() == b"GK":
                return CodeVerdict(reason="bad_prefix", code_format="GK1")
            fmt = "HC1" if payload.startswith(b"HC1:") else "other"
            return CodeVerdict(reason="unsupported_format", code_format=fmt)
        seen_hash = sha256(payload).digest()[:16].hex()

        def fail(reason: str, **extra: Any) -> CodeVerdict:
            return CodeVerdict(reason=reason, code_format="GK1", token_hash=seen_hash, **extra)

        try:
            msg = cose.parse(base45.decode(payload[len(PREFIX_BYTES):].decode("ascii")))
        except (UnicodeDecodeError, ValueError):
            return fail("decode_error")
        alg, kid = msg.alg, msg.kid
        if not isinstance(kid, bytes) or not 0 < len(kid) <= 16 or isinstance(alg, bool) or not isinstance(alg, int):
            return fail("decode_error")
        kid_hex = kid.hex()

        if self.clock.monotonic() >= self._next_refresh:
            self.refresh()
        bundle = self.trust.bundle
        if bundle is None:
            return fail("stale_bundle", kid=kid_hex)
        if kid in bundle.revoked_kids:
            return fail("revoked", kid=kid_hex)
        keys = bundle.issuers.get(kid)
        if not keys:
            return fail("unknown_kid", kid=kid_hex)
        keys = tuple(k for k in keys if k.alg == alg)
        if not keys:
            return fail("alg_not_allowed", kid=kid_hex)
        key = next((k for k in keys if cose.verify(msg, k.key)), None)
        if key is None:
            return fail("bad_signature", kid=kid_hex)
        try:
            claims = decode_claims(msg.payload)
        except TokenError:
            return fail("decode_error", kid=kid_hex)
        if key.iss is not None and claims.iss != key.iss:
            return fail("unknown_kid", kid=kid_hex, issuer=claims.iss)
        return self._check_claims(claims, key, bundle, kid_hex)

    def _check_claims(self, c: Claims, key: IssuerKey, bundle: Bundle, kid_hex: str) -> CodeVerdict:
        th = token_hash(c.cti)
        policy = bundle.policy
        expires = min(c.exp, c.iat + policy.max_validity(c.kind))
        if key.not_after is not None:
            expires = min(expires, key.not_after)

        def verdict(reason: str, colour: str | None = None) -> CodeVerdict:
            return CodeVerdict(reason=reason, code_format="GK1", kind=c.kind, colour=colour, kid=kid_hex,
                               issuer=c.iss, token_hash=th.hex(), holder_ref=c.sub.hex(),
                               expires_at=float(expires))

        if th in bundle.revoked_cti:
            return verdict("revoked")

        wall, skew = self.clock.wall(), self.skew
        if self.clock.synced():
            self.mark.observe(wall)
        mark = self.mark.value
        now = max(wall, mark)
        if expires + skew < now:
            return verdict("expired")
        if wall + skew < mark:
            return verdict("clock_untrusted")
        if c.iat > wall + skew:
            # a code cannot be issued in the future: either its issuer or our clock is wrong
            return verdict("not_yet_valid" if self.clock.synced() else "clock_untrusted")
        if ((c.nbf is not None and c.nbf > wall + skew)
                or (key.not_before is not None and (key.not_before > wall + skew or c.iat + skew < key.not_before))):
            return verdict("not_yet_valid")      # the code, or its key, is not valid yet

        if not self._in_scope(c.scope) or (key.scopes is not None and not self._in_scope(key.scopes)):
            return verdict("wrong_scope")

        colour = self._colour(c, bundle)
        if c.kind not in ("volunteer", "inspector"):    # badges: no colour, shown again and again
            if colour == "red":
                return verdict("red", colour)
            if bundle.stale(now) and (policy.stale_action == "volunteer" or c.kind != "dynamic"):
                return verdict("stale_bundle", colour)
            if colour == "yellow":
                return verdict("yellow", colour)
            if self.replay.seen(th, self.clock.monotonic()):
                return verdict("replay", colour)
        self.mark.observe(float(c.iat))
        return verdict("ok", colour)

    def _in_scope(self, scopes: tuple[str, ...]) -> bool:
        here = (self.compound, f"{self.compound}/{self.gate}", "*")
        return any(s in here for s in scopes)

    def _colour(self, c: Claims, bundle: Bundle) -> str:
        listed = bundle.status.get(c.sub)
        if c.kind == "paper":
            return listed[0] if listed else bundle.policy.paper_default
        if listed is None:
            return c.colour
        return max(c.colour, listed[0], key=_RANK.__getitem__)


def build(trust: TrustStore, clock: Clock, *, compound: str, gate: str, skew_s: float,
          max_payload_bytes: int, state_dir: Path | None, persist: bool = True) -> CodeVerifier:
    """A verifier whose time mark lives in ``state_dir`` (if given)."""
    mark = TimeMark(state_dir / CODES_TIME if state_dir is not None else None, persist=persist)
    return CodeVerifier(trust, clock, compound=compound, gate=gate, skew_s=skew_s,
                        max_payload_bytes=max_payload_bytes, time_mark=mark)
