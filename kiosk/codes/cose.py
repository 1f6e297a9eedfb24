"""COSE_Sign1 (RFC 9052 §4.2) on cbor2 + cryptography: the signed envelope of GK1 codes, key
endorsements and trust bundles.

About forty lines of COSE do the job (docs/health-codes.md §2.2), so no COSE library: the
candidates are thinly maintained and we need only Sign1 with ES256 and EdDSA.

Parsing is strict so that one envelope has exactly one encoding: CBOR tag 18 around
``[protected bstr, {} , payload bstr, signature bstr]``, an *empty* unprotected header (nothing
unsigned can ride along), and the bytes must re-encode identically (no trailing data, no
non-minimal lengths). The signed parts are held to the same rule (:func:`loads_exact`): a
protected header or payload with trailing bytes or a map key given twice is refused — cbor2
itself ignores the first and keeps the last, so two readers could see two different claim sets
under one signature. A ``crit`` header (RFC 9052 §3.1) naming any parameter the caller does not
process is refused, as the RFC requires. ES256 signatures must be low-S: (r, n−s) verifies as
well as (r, s), so accepting both would give every code a second, different encoding that
verifies (docs/health-codes.md §2.2). Anything else is a :class:`CoseError`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from kiosk.core.digest import sha256
from kiosk.errors import CoseError

ES256 = -7          # ECDSA P-256 / SHA-256 (RFC 9053 §2.1)
EDDSA = -8          # EdDSA, here Ed25519 (RFC 9053 §2.2)
ALG_NAMES: dict[int, str] = {ES256: "ES256", EDDSA: "EdDSA"}
ALG_BY_NAME: dict[str, int] = {v: k for k, v in ALG_NAMES.items()}
H_ALG, H_CRIT, H_KID = 1, 2, 4
TAG_SIGN1 = 18
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey



@dataclass(frozen=True)
class Sign1:
    """A parsed, not yet verified COSE_Sign1."""

    protected_raw: bytes
    protected: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    @property
    def alg(self) -> object:
        return self.protected.get(H_ALG)

    @property
    def kid(self) -> object:
        return self.protected.get(H_KID)

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected_raw, self.payload)


def sig_structure(protected_raw: bytes, payload: bytes) -> bytes:
    """Sig_structure for Sign1 with empty external AAD (RFC 9052 §4.4)."""
    return cbor2.dumps(["Signature1", protected_raw, b"", payload])


def spki_der(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def kid_of(key: PublicKey) -> bytes:
    """First 8 bytes of SHA-256 over the SubjectPublicKeyInfo DER (docs/health-codes.md §2.3)."""
    return sha256(spki_der(key)).digest()[:8]


def alg_of(key: PublicKey | PrivateKey) -> int:
    """The one COSE algorithm a key type is used with; other key types are refused."""
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return EDDSA
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        if isinstance(key.curve, ec.SECP256R1):
            return ES256
        raise CoseError(f"EC curve {key.curve.name} is not supported (ES256 needs P-256)")
    raise CoseError(f"{type(key).__name__} keys are not supported (use P-256 or Ed25519)")


def sign1(payload: bytes, key: PrivateKey, extra_protected: Mapping[int, Any] | None = None) -> bytes:
    """A tagged COSE_Sign1 over ``payload`` with ``{alg, kid}`` (and extras) protected."""
    alg = alg_of(key)
    header: dict[int, Any] = {H_ALG: alg, H_KID: kid_of(key.public_key())}
    header.update(extra_protected or {})
    protected_raw = cbor2.dumps(header)
    tbs = sig_structure(protected_raw, payload)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(tbs)
    else:
        r, s = decode_dss_signature(key.sign(tbs, ec.ECDSA(hashes.SHA256())))
        s = min(s, _P256_ORDER - s)          # low-S: one signature per message from our issuers
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return cbor2.dumps(cbor2.CBORTag(TAG_SIGN1, [protected_raw, {}, payload, signature]))


def loads_exact(data: bytes, what: str) -> Any:
    """Decode ``data`` as exactly one CBOR item in its one encoding: no trailing bytes, no map
    key twice, no padded lengths (re-encoding must give back the same bytes). CoseError names
    ``what`` and the fault."""
    stream = io.BytesIO(data)
    try:
        obj = cbor2.CBORDecoder(stream).decode()
    except Exception as exc:  # noqa: BLE001 - untrusted bytes: cbor2 raises many types on junk
        raise CoseError(f"{what} is not CBOR: {exc}") from None
    if stream.tell() != len(data):
        raise CoseError(f"{what} has {len(data) - stream.tell()} trailing bytes after its CBOR item")
    try:
        same = cbor2.dumps(obj) == data
    except Exception:  # noqa: BLE001 - a decoded value cbor2 cannot encode again is not canonical either
        same = False
    if not same:
        raise CoseError(f"{what} is not in its one encoding (a map key given twice, or padded lengths)")
    return obj


def parse(raw: bytes, understood: frozenset[Any] = frozenset()) -> Sign1:
    """Decode the envelope strictly (see module doc); does not check the signature.

    ``understood``: the protected header labels, beyond alg and kid, the caller processes; a
    ``crit`` list naming anything else makes the message one we must not accept (RFC 9052 §3.1).
    """
    try:
        obj = cbor2.loads(raw)
    except Exception as exc:  # noqa: BLE001 - cbor2 raises several types (and RecursionError/MemoryError-ish) on junk
        raise CoseError(f"not CBOR: {exc}") from None
    if not isinstance(obj, cbor2.CBORTag) or obj.tag != TAG_SIGN1:
        raise CoseError("not a COSE_Sign1 (CBOR tag 18)")
    body = obj.value
    if not isinstance(body, Sequence) or isinstance(body, (bytes, str)) or len(body) != 4:
        raise CoseError("COSE_Sign1 must be an array of four items")
    protected_raw, unprotected, payload, signature = body
    if not (isinstance(protected_raw, bytes) and isinstance(payload, bytes) and isinstance(signature, bytes)):
        raise CoseError("COSE_Sign1 protected header, payload and signature must be byte strings")
    if not isinstance(unprotected, Mapping) or len(unprotected) != 0:
        raise CoseError("COSE_Sign1 unprotected header must be empty")
    if cbor2.dumps(cbor2.CBORTag(TAG_SIGN1, [protected_raw, {}, payload, signature])) != raw:
        raise CoseError("COSE_Sign1 is not in its one canonical encoding (trailing or padded bytes)")
    protected = loads_exact(protected_raw, "protected header")
    if not isinstance(protected, Mapping):
        raise CoseError("protected header must be a map")
    if H_CRIT in protected:
        crit = protected[H_CRIT]
        if (not isinstance(crit, Sequence) or isinstance(crit, (bytes, str)) or not crit
                or any(isinstance(c, bool) or not isinstance(c, (int, str)) for c in crit)):
            raise CoseError("protected header crit must be a non-empty array of labels")
        unknown = [c for c in crit if c not in understood or c not in protected]
        if unknown:
            raise CoseError(f"protected header marks parameters {unknown!r} critical that this verifier "
                            "does not process (RFC 9052 §3.1)")
    return Sign1(protected_raw, protected, payload, signature)


def verify(msg: Sign1, key: PublicKey) -> bool:
    """True only if ``msg`` carries a valid signature by ``key`` under the key's algorithm."""
    if len(msg.signature) != 64:
        return False
    tbs = msg.to_be_signed()
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(msg.signature, tbs)
        else:
            r = int.from_bytes(msg.signature[:32], "big")
            s = int.from_bytes(msg.signature[32:], "big")
            if s > _P256_ORDER // 2:
                return False    # the high-S twin of a valid signature: one signature per message
            key.verify(encode_dss_signature(r, s), tbs, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):   # ValueError: r or s out of range
        return False
    return True


def load_public_der(der: bytes) -> PublicKey:
    """An SPKI DER public key of a supported type; CoseError otherwise."""
    try:
        key = serialization.load_der_public_key(der)
    except Exception as exc:  # noqa: BLE001 - untrusted key bytes: cryptography raises several types
        raise CoseError(f"not a public key: {exc}") from None
    alg_of(key)  # type: ignore[arg-type]
    return key  # type: ignore[return-value]
