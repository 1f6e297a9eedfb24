"""The sync wire protocol (docs/contracts.md §5, docs/reliability.md §2, §4.2), shared by both ends.

- Records travel as JSON objects with every column of the kiosk's ``records`` table; BLOB
  values become ``{"b64": "..."}``. A record's identity is ``(kiosk_id, db_epoch, seq)``; its
  content is :func:`record_digest` of its non-null columns (so a column added later, NULL in
  old rows, does not change the digest of a record re-sent after an upgrade).
- Bodies are JSON, gzip-compressed when large (``Content-Encoding: gzip``); the server caps
  the decompressed size (gzip bombs) and rejects NaN, Infinity and duplicate keys.
- ``POST /v1/lost`` ``{"kiosk_id", "db_epoch", "ranges": [[first, last], ...], "reason"}``: seqs of
  one log that the kiosk can never send (rows a damaged log lost, docs/reliability.md §1.5; docs/contracts.md §5.7).
  The server closes those gaps (the ``acked_through`` mark may pass them) instead of alarming
  about them for ever, and raises one ``lost`` alarm for the seqs it did not hold; seqs it
  holds are not lost and stay as they are. Idempotent; answered like a batch's progress.
- Every request is signed with the kiosk's own credential (sync/signing.py: Ed25519, or HMAC-SHA256
  for kiosks enrolled before issue 14) over the method, path,
  kiosk id, time, nonce and the SHA-256 of the body as sent, in the spirit of RFC 9421 with an
  RFC 9530 ``Content-Digest``. The server allows ±300 s and remembers nonces (AWS SigV4 uses
  the same 5-minute window). Every answer to an identified kiosk is signed back
  (``X-Answer-Signature``, sync/signing.py); the client acts on no answer it cannot verify.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import math
import re
import secrets
import zlib
from collections.abc import Mapping
from typing import Any

from sync.errors import BadRequest

API = "/v1"
RECORDS_PATH = f"{API}/records"
HEARTBEAT_PATH = f"{API}/heartbeat"
BUNDLE_PATH = f"{API}/bundle"
LOST_PATH = f"{API}/lost"              # a kiosk reports seqs it lost for good (a damaged log)

H_KIOSK = "X-Kiosk-Id"
H_TIME = "X-Kiosk-Time"
H_NONCE = "X-Kiosk-Nonce"
H_DIGEST = "Content-Digest"
H_AUTH = "Authorization"
AUTH_SCHEME = "Kiosk-HMAC"
SIGNING_LABEL = "KIOSK-HMAC-SHA256"

WINDOW_S = 300.0                       # ±5 min, as AWS SigV4 (docs/reliability.md §4.2)
MAX_BATCH_RECORDS = 500                # Kinesis-style cap (docs/docs/reliability.md §2.4)
MAX_LOST_RANGES = 1000                 # seq ranges in one POST /v1/lost
MAX_BATCH_BYTES = 256 * 1024           # uncompressed JSON of one batch
MAX_BODY_BYTES = 1024 * 1024           # what the server accepts on the wire (compressed)
MAX_DECOMPRESSED_BYTES = 4 * 1024 * 1024   # gzip-bomb cap (docs/reliability.md §2.4)
MAX_BUNDLE_BYTES = 4 * 1024 * 1024
GZIP_LEVEL = 6

SECRET_BYTES = 32
KIOSK_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")   # as kiosk.config's kiosk.id
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
EPOCH_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


# --------------------------------------------------------------------------- records



def _blob(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"{type(value).__name__} cannot be sent")


# built once: json.dumps() with non-default options builds a new encoder on every call. The
# ``default`` hook turns BLOBs into {"b64": ...} while encoding, so rows need no second pass.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_blob)
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=True)

def wire_value(value: Any) -> Any:
    """A column value as JSON can carry it (BLOBs become ``{"b64": ...}``)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def wire_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A pass-log row (every column, whatever the schema version) as a wire record."""
    return {k: wire_value(v) for k, v in row.items()}


def canonical_record(record: Mapping[str, Any]) -> str:
    """The record's content in one canonical text: non-null columns, sorted, compact JSON."""
    return _CANONICAL.encode({k: v for k, v in record.items() if v is not None})


def record_digest(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of :func:`canonical_record`; the same key with another digest is a conflict."""
    return digest_of(canonical_record(record))


def digest_of(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- bodies

def encode_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON; BLOB values are written as ``{"b64": ...}`` (as :func:`wire_value`)."""
    return _COMPACT.encode(obj).encode("utf-8")


def gzip_body(raw: bytes) -> bytes:
    # mtime=0 keeps the bytes reproducible (handy when a test compares signatures)
    return gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)


def gunzip_capped(body: bytes, cap: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Decompress one gzip member, refusing anything that inflates beyond ``cap`` bytes."""
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, cap + 1)
    except zlib.error as exc:
        raise BadRequest(f"body is not valid gzip: {exc}", 400, "bad_gzip") from None
    if len(out) > cap or d.unconsumed_tail:
        size = f"{cap // (1024 * 1024)} MiB" if cap >= 1024 * 1024 else f"{cap // 1024} KiB"
        raise BadRequest(f"body inflates beyond {size}", 413, "too_large")
    if not d.eof:
        raise BadRequest("gzip body is truncated", 400, "bad_gzip")
    if d.unused_data:
        raise BadRequest("trailing bytes after the gzip body", 400, "bad_gzip")
    return out


def _reject_constant(name: str) -> Any:
    raise BadRequest(f"JSON constant {name} is not allowed", 400, "bad_json")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise BadRequest(f"duplicate JSON key {dup!r}", 400, "bad_json")
    return out


def _lone_surrogate(obj: Any) -> bool:
    """Whether a string anywhere in ``obj`` holds a ``\\uD800``-style half of a UTF-16 pair: JSON
    allows the escape, but the result is not Unicode text (it cannot be encoded, hashed or stored)."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(obj, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(_lone_surrogate(v) for v in obj)
    return False


def _non_finite_path(obj: Any, where: str = "") -> str | None:
    """Where in ``obj`` a float overflowed to infinity (``1e400``), as ``records[3].temp_c``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return where or "the body"
    if isinstance(obj, dict):
        items: Any = ((f"{where}.{k}" if where else str(k), v) for k, v in obj.items())
    elif isinstance(obj, list):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(obj))
    else:
        return None
    for path, v in items:
        found = _non_finite_path(v, path)
        if found:
            return found
    return None


def loads_strict(raw: bytes) -> Any:
    """Parse UTF-8 JSON; NaN/Infinity (also a number like ``1e400`` that overflows to it),
    duplicate keys, huge ints, deep nesting and escaped lone surrogates are 400s."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8", 400, "bad_json") from None
    overflowed: list[str] = []

    def finite_float(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            overflowed.append(literal[:40])
        return value

    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys,
                         parse_float=finite_float)
    except BadRequest:
        raise
    except RecursionError:
        raise BadRequest("JSON nested too deeply", 400, "bad_json") from None
    except ValueError as exc:   # JSONDecodeError, and int strings over the 4300-digit limit
        raise BadRequest(f"body is not valid JSON: {str(exc)[:120]}", 400, "bad_json") from None
    if overflowed:
        raise BadRequest(f"{_non_finite_path(obj)} = {overflowed[0]} is beyond the range of a number", 400,
                         "bad_number")
    if "\\u" in text and _lone_surrogate(obj):
        raise BadRequest("body holds an escaped lone surrogate (\\uD800-\\uDFFF): not Unicode text", 400,
                         "bad_json")
    return obj


# --------------------------------------------------------------------------- signing

def new_secret() -> str:
    """A fresh kiosk secret, as the 64 hex digits `street-server kiosk add` prints once."""
    return secrets.token_hex(SECRET_BYTES)


def parse_secret(text: str) -> bytes:
    """The secret file's content (64 hex digits, whitespace ignored) as bytes."""
    s = "".join(text.split())
    if not re.fullmatch(r"[0-9a-fA-F]{64}", s):
        raise ValueError("expected 64 hexadecimal digits (as printed by `street-server kiosk add`)")
    return bytes.fromhex(s)


def new_nonce() -> str:
    return secrets.token_hex(16)


def body_sha256(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def content_digest(body: bytes) -> str:
    """RFC 9530 ``Content-Digest`` value for the body as sent."""
    return "sha-256=:" + base64.b64encode(body_sha256(body)).decode("ascii") + ":"


def string_to_sign(method: str, path: str, kiosk_id: str, ts: str, nonce: str, body: bytes,
                   label: str = SIGNING_LABEL) -> bytes:
    """What a request's signature covers (the label names the credential kind, sync/signing.py)."""
    return "\n".join((label, method.upper(), path, kiosk_id, ts, nonce,
                      body_sha256(body).hex())).encode("utf-8")


def signature(secret: bytes, method: str, path: str, kiosk_id: str, ts: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret, string_to_sign(method, path, kiosk_id, ts, nonce, body), hashlib.sha256).hexdigest()


def sign_headers(secret: bytes, kiosk_id: str, method: str, path: str, body: bytes, now: float,
                 nonce: str | None = None) -> dict[str, str]:
    """The authentication headers of one request signed at time ``now`` (server-corrected)."""
    ts = f"{now:.3f}"
    nonce = nonce or new_nonce()
    sig = signature(secret, method, path, kiosk_id, ts, nonce, body)
    return {H_KIOSK: kiosk_id, H_TIME: ts, H_NONCE: nonce, H_DIGEST: content_digest(body),
            H_AUTH: f"{AUTH_SCHEME} {sig}"}
