"""Key files for GK1: root, street and issuer signing keys, and the street pseudonym key.

Private keys are PKCS#8 PEM written 0600; public keys are SubjectPublicKeyInfo PEM (the kid is
computed from their DER, docs/health-codes.md §2.3, §4.1). The pseudonym key is 32 random bytes
(hex) under which ID numbers become holder references, so no kiosk ever holds an ID number.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kiosk.codes import cose
from kiosk.codes.files import read_limited
from kiosk.core.digest import hmac_sha256
from kiosk.durable import write_atomic
from kiosk.errors import CodeError, CoseError

HOLDER_REF_BYTES = 16
PSEUDONYM_KEY_BYTES = 32
KEY_FILE_LIMIT = 16 * 1024


def generate(alg: str = "ES256") -> cose.PrivateKey:
    """A fresh signing key for ``ES256`` (P-256) or ``EdDSA`` (Ed25519)."""
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise CodeError(f"algorithm {alg!r} is not supported (ES256 or EdDSA)")


def private_pem(key: cose.PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key: cose.PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _save(path: Path, data: bytes, mode: int, overwrite: bool) -> None:
    try:
        write_atomic(path, data, mode=mode, overwrite=overwrite)
    except FileExistsError as exc:
        raise CodeError(str(exc)) from None
    except FileNotFoundError:
        raise CodeError(f"cannot write {path}: directory {path.parent} does not exist") from None


def save_private(path: Path, key: cose.PrivateKey, overwrite: bool = False) -> None:
    _save(path, private_pem(key), 0o600, overwrite)


def save_public(path: Path, key: cose.PublicKey, overwrite: bool = False) -> None:
    _save(path, public_pem(key), 0o644, overwrite)


def load_private(path: Path) -> cose.PrivateKey:
    """A PEM private key of a supported type, or CodeError naming the file."""
    data = read_limited(path, KEY_FILE_LIMIT, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise CodeError(f"private key {path} is not an unencrypted PEM private key ({exc})") from None
    try:
        cose.alg_of(key)  # type: ignore[arg-type]
    except CoseError as exc:
        raise CodeError(f"private key {path}: {exc}") from None
    return key  # type: ignore[return-value]


def load_public(path: Path) -> cose.PublicKey:
    """A PEM public key (or the public half of a PEM private key) of a supported type."""
    data = read_limited(path, KEY_FILE_LIMIT, "public key")
    try:
        if b"PRIVATE KEY" in data:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise CodeError(f"public key {path} is not a PEM public key ({exc})") from None
    try:
        cose.alg_of(key)  # type: ignore[arg-type]
    except CoseError as exc:
        raise CodeError(f"public key {path}: {exc}") from None
    return key  # type: ignore[return-value]


# ------------------------------------------------------------------ pseudonyms

def new_pseudonym_key() -> bytes:
    return os.urandom(PSEUDONYM_KEY_BYTES)


def save_pseudonym_key(path: Path, key: bytes, overwrite: bool = False) -> None:
    _save(path, key.hex().encode() + b"\n", 0o600, overwrite)


def load_pseudonym_key(path: Path) -> bytes:
    text = read_limited(path, 1024, "pseudonym key").decode("ascii", "replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise CodeError(f"pseudonym key {path} must be one line of hex") from None
    if len(key) < 16:
        raise CodeError(f"pseudonym key {path} is too short ({len(key)} bytes, need at least 16)")
    return key


def normalise_id(id_number: str) -> str:
    """One spelling per ID number: full-width → ASCII (NFKC), no spaces or hyphens, upper case
    (the check character of a PRC resident ID is written 'x' or 'X')."""
    text = unicodedata.normalize("NFKC", id_number)
    text = "".join(ch for ch in text if not ch.isspace() and ch != "-").upper()
    if not text:
        raise CodeError("the ID number is empty")
    return text


def holder_ref(pseudonym_key: bytes, id_number: str) -> bytes:
    """First 16 bytes of HMAC-SHA-256(street pseudonym key, normalised ID number)."""
    return hmac_sha256(pseudonym_key, normalise_id(id_number).encode("utf-8"))[:HOLDER_REF_BYTES]
