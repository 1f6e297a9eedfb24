"""The ``GK1:`` health code: CWT claims (RFC 8392) in a COSE_Sign1, Base45 text behind a prefix.

Layout (docs/health-codes.md §2.1, §2.4; docs/contracts.md §3.1): ``GK1:`` + Base45(COSE_Sign1), no zlib
(it grows a 170-byte token). Claims: 1 iss, 2 sub (16-byte holder reference), 4 exp, 5 nbf,
6 iat, 7 cti (token id), and the private claim -65537 = ``{"v": 1, "k": kind, "c": colour,
"s": [scope, ...], "a": colour computed at}``. Decoding checks shape and types only; time,
scope, trust and colour rules live in :mod:`kiosk.codes.verifier`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cbor2

from kiosk.codes import base45, cose
from kiosk.core.digest import sha256
from kiosk.errors import CoseError, TokenError

PREFIX = "GK1:"
PREFIX_BYTES = PREFIX.encode()
C_ISS, C_SUB, C_EXP, C_NBF, C_IAT, C_CTI = 1, 2, 4, 5, 6, 7
C_GK = -65537                       # private-use claim key (RFC 8392 §9.1: < -65536)
GK_VERSION = 1
KINDS: dict[str, int] = {"dynamic": 1, "paper": 2, "visitor": 3, "volunteer": 4, "inspector": 5}
KIND_NAMES: dict[int, str] = {v: k for k, v in KINDS.items()}
COLOURS: dict[str, int] = {"green": 0, "yellow": 1, "red": 2}
COLOUR_NAMES: dict[int, str] = {v: k for k, v in COLOURS.items()}
HOLDER_REF_BYTES = 16
CTI_MIN, CTI_MAX = 8, 16
MAX_SCOPES = 16
_NAME_MAX = 64



@dataclass(frozen=True)
class Claims:
    """What one GK1 code says, after decoding."""

    iss: str
    sub: bytes                      # holder reference (HMAC of the ID number), never the ID number
    iat: int
    exp: int
    cti: bytes
    kind: str
    colour: str
    scope: tuple[str, ...]
    nbf: int | None = None
    as_of: int | None = None        # when the issuer computed the colour

    def to_cbor(self) -> bytes:
        gk: dict[str, Any] = {"v": GK_VERSION, "k": KINDS[self.kind], "c": COLOURS[self.colour],
                              "s": list(self.scope)}
        if self.as_of is not None:
            gk["a"] = self.as_of
        claims: dict[int, Any] = {C_ISS: self.iss, C_SUB: self.sub, C_IAT: self.iat, C_EXP: self.exp}
        if self.nbf is not None:
            claims[C_NBF] = self.nbf
        claims[C_CTI] = self.cti
        claims[C_GK] = gk
        return cbor2.dumps(claims)


def new_cti() -> bytes:
    return os.urandom(CTI_MAX)


def token_hash(cti: bytes) -> bytes:
    """What logs and revocation lists carry instead of the token id: SHA-256(cti)[:16]."""
    return sha256(cti).digest()[:16]


def issue(claims: Claims, key: cose.PrivateKey) -> str:
    """Sign ``claims`` and return the QR text ``GK1:…``."""
    _check(claims)
    return PREFIX + base45.encode(cose.sign1(claims.to_cbor(), key))


def unwrap(text: str) -> bytes:
    """``GK1:…`` text → the COSE bytes (raises ValueError for a wrong prefix or bad Base45)."""
    if not text.startswith(PREFIX):
        raise TokenError(f"not a {PREFIX} code")
    return base45.decode(text[len(PREFIX):])


def _check(c: Claims) -> None:
    if c.kind not in KINDS or c.colour not in COLOURS:
        raise TokenError(f"unknown kind {c.kind!r} or colour {c.colour!r}")
    if len(c.sub) != HOLDER_REF_BYTES or not CTI_MIN <= len(c.cti) <= CTI_MAX:
        raise TokenError("holder reference must be 16 bytes and the token id 8–16 bytes")
    if not c.scope or len(c.scope) > MAX_SCOPES:
        raise TokenError(f"a code needs 1–{MAX_SCOPES} scopes")
    if not c.iss or len(c.iss) > _NAME_MAX or any(not s or len(s) > _NAME_MAX for s in c.scope):
        raise TokenError(f"issuer and scopes must be 1–{_NAME_MAX} characters")


def _int(m: Mapping[Any, Any], k: Any, what: str, optional: bool = False) -> int | None:
    v = m.get(k)
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**40:
        raise TokenError(f"claim {what} must be a NumericDate integer")
    return v


def decode_claims(payload: bytes) -> Claims:
    """Parse a signed claim set; TokenError names the first thing wrong."""
    try:
        m = cose.loads_exact(payload, "claims")   # no trailing bytes, no claim given twice
    except CoseError as exc:
        raise TokenError(str(exc)) from None
    if not isinstance(m, Mapping):
        raise TokenError("claims must be a CBOR map")
    iss, sub, cti, gk = m.get(C_ISS), m.get(C_SUB), m.get(C_CTI), m.get(C_GK)
    if not isinstance(iss, str) or not 0 < len(iss) <= _NAME_MAX:
        raise TokenError("claim iss must be a short text")
    if not isinstance(sub, bytes) or len(sub) != HOLDER_REF_BYTES:
        raise TokenError("claim sub must be a 16-byte holder reference")
    if not isinstance(cti, bytes) or not CTI_MIN <= len(cti) <= CTI_MAX:
        raise TokenError("claim cti must be 8–16 bytes")
    iat = _int(m, C_IAT, "iat")
    exp = _int(m, C_EXP, "exp")
    nbf = _int(m, C_NBF, "nbf", optional=True)
    if not isinstance(gk, Mapping) or gk.get("v") != GK_VERSION:
        raise TokenError(f"private claim {C_GK} must be a map with v = {GK_VERSION}")
    kind = KIND_NAMES.get(gk.get("k"))  # type: ignore[arg-type]
    colour = COLOUR_NAMES.get(gk.get("c"))  # type: ignore[arg-type]
    if kind is None or colour is None or isinstance(gk.get("k"), bool) or isinstance(gk.get("c"), bool):
        raise TokenError("private claim needs a known kind k and colour c")
    scope = gk.get("s")
    if (not isinstance(scope, Sequence) or isinstance(scope, (str, bytes)) or not 0 < len(scope) <= MAX_SCOPES
            or not all(isinstance(s, str) and 0 < len(s) <= _NAME_MAX for s in scope)):
        raise TokenError(f"private claim s must be a list of 1–{MAX_SCOPES} scope names")
    as_of = _int(gk, "a", "a", optional=True)
    assert iat is not None and exp is not None
    return Claims(iss=iss, sub=sub, iat=iat, exp=exp, cti=cti, kind=kind, colour=colour,
                  scope=tuple(scope), nbf=nbf, as_of=as_of)
