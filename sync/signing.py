"""Who signed what on the kiosk link, both ways (docs/contracts.md §5.2, docs/security.md).

Requests: the kiosk signs method, path, kiosk id, time, nonce and the body's SHA-256
(:func:`sync.protocol.string_to_sign`) with its credential, one of two kinds:

- ``ed25519`` (every kiosk enrolled since issue 14): the kiosk keeps a private key, the server
  only its public key, so a copy of the server's database cannot impersonate a kiosk.
  ``Authorization: Kiosk-Ed25519 <base64 signature>``.
- ``hmac-sha256`` (kiosks enrolled before): a 32-byte secret both ends hold.
  ``Authorization: Kiosk-HMAC <hex>``. Kept working until the kiosk is re-enrolled.

Answers: the server signs status, the request's kiosk id and nonce, its ``X-Server-Time`` and
the body's SHA-256 (:func:`answer_to_sign`) in ``X-Answer-Signature``: with the server's
Ed25519 key for an ``ed25519`` kiosk (the kiosk's credential file pins the server's public key),
with the kiosk's own secret for an ``hmac-sha256`` kiosk. The nonce ties the answer to one
request, so an answer cannot be replayed to another request or another kiosk.

Why not an RFC 9421 library: the scheme covers the same components (method, path, a body digest,
``created`` and ``nonce`` parameters) but the wire has existed since release 1 with its own
headers; both ends are ours, and a dozen lines over ``cryptography`` keep the HMAC kiosks and the
Ed25519 ones on one code path without a second dependency's parser on the request path.

Credential file (mode 0600): 64 hex digits (an HMAC secret), or::

    kiosk-key ed25519 <base64 of the 32-byte private key>
    server-key ed25519 <base64 of the server's 32-byte public key>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from sync import protocol

HMAC = "hmac-sha256"
ED25519 = "ed25519"
SCHEMES = {HMAC: protocol.AUTH_SCHEME, ED25519: "Kiosk-Ed25519"}
LABELS = {HMAC: protocol.SIGNING_LABEL, ED25519: "KIOSK-ED25519"}
H_ANSWER_SIG = "X-Answer-Signature"
ANSWER_LABEL = "STREET-ANSWER-V1"
MAX_SIG_CHARS = 128


def answer_to_sign(kiosk_id: str, nonce: str, status: int, server_time: str, body: bytes) -> bytes:
    """What an answer's signature covers: the request it answers, its status, time and body."""
    return "\n".join((ANSWER_LABEL, kiosk_id, nonce, str(status), server_time,
                      hashlib.sha256(body).hexdigest())).encode("utf-8")


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, size: int | None = None) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if size is not None and len(raw) != size:
        raise ValueError(f"expected {size} bytes, got {len(raw)}")
    return raw


def ed25519_ok(public: bytes, message: bytes, sig_b64: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(_unb64(sig_b64, 64), message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class KioskCredential:
    """What a kiosk proves itself with, and how it checks the server's answers."""

    kind: str
    key: bytes                       # the HMAC secret, or the Ed25519 private key (32 bytes)
    server_key: bytes | None = None  # the server's Ed25519 public key (ed25519 credentials)

    def sign(self, message: bytes) -> str:
        """The Authorization header's value for a request whose string to sign is ``message``."""
        if self.kind == HMAC:
            sig = hmac.new(self.key, message, hashlib.sha256).hexdigest()
        else:
            sig = b64(Ed25519PrivateKey.from_private_bytes(self.key).sign(message))
        return f"{SCHEMES[self.kind]} {sig}"

    def answer_ok(self, message: bytes, header: str | None) -> bool:
        """Whether ``header`` (X-Answer-Signature) is the server's signature over ``message``."""
        kind, _, sig = (header or "").partition(" ")
        if kind != self.kind or not sig or len(sig) > MAX_SIG_CHARS:
            return False
        if self.kind == HMAC:
            return hmac.compare_digest(hmac.new(self.key, message, hashlib.sha256).hexdigest(), sig)
        assert self.server_key is not None
        return ed25519_ok(self.server_key, message, sig)

    def sign_headers(self, kiosk_id: str, method: str, path: str, body: bytes, now: float,
                     nonce: str | None = None) -> dict[str, str]:
        """The authentication headers of one request signed at time ``now`` (server-corrected)."""
        ts = f"{now:.3f}"
        nonce = nonce or protocol.new_nonce()
        msg = protocol.string_to_sign(method, path, kiosk_id, ts, nonce, body, LABELS[self.kind])
        return {protocol.H_KIOSK: kiosk_id, protocol.H_TIME: ts, protocol.H_NONCE: nonce,
                protocol.H_DIGEST: protocol.content_digest(body), protocol.H_AUTH: self.sign(msg)}


def hmac_credential(secret: bytes) -> KioskCredential:
    return KioskCredential(HMAC, secret)


def new_ed25519(server_public: bytes) -> tuple[str, bytes]:
    """A fresh kiosk key pair: (the kiosk's credential file, the public key the server stores)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    text = f"kiosk-key {ED25519} {b64(private)}\nserver-key {ED25519} {b64(server_public)}\n"
    return text, public_bytes(key)


def parse_credential(text: str) -> KioskCredential:
    """A credential file's content; ValueError says what is wrong with it."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) == 1 and len(lines[0]) == 1:
        return hmac_credential(protocol.parse_secret(lines[0][0]))
    fields = {ln[0]: ln[1:] for ln in lines if ln}
    if set(fields) != {"kiosk-key", "server-key"} or len(lines) != 2 or \
            any(len(v) != 2 or v[0] != ED25519 for v in fields.values()):
        raise ValueError("expected 64 hexadecimal digits, or the two lines 'kiosk-key ed25519 …' and "
                         "'server-key ed25519 …' (as written by `street-server kiosk add`)")
    try:
        private = _unb64(fields["kiosk-key"][1], 32)
        server = _unb64(fields["server-key"][1], 32)
    except ValueError as exc:
        raise ValueError(f"a key is malformed ({exc})") from None
    return KioskCredential(ED25519, private, server)


def request_ok(kind: str, stored: bytes, message: bytes, auth: str) -> bool:
    """Server side: whether ``auth`` (Authorization) signs ``message`` with the kiosk's stored key."""
    scheme, _, sig = auth.partition(" ")
    if scheme != SCHEMES.get(kind) or not sig or len(sig) > MAX_SIG_CHARS:
        return False
    if kind == HMAC:
        return hmac.compare_digest(hmac.new(stored, message, hashlib.sha256).hexdigest(), sig.lower())
    return ed25519_ok(stored, message, sig)


def sign_answer(kind: str, stored: bytes, server_key: Ed25519PrivateKey | None, message: bytes) -> str | None:
    """Server side: X-Answer-Signature for an answer to a kiosk of credential ``kind``."""
    if kind == HMAC:
        return f"{HMAC} {hmac.new(stored, message, hashlib.sha256).hexdigest()}"
    if server_key is None:
        return None
    return f"{ED25519} {b64(server_key.sign(message))}"
