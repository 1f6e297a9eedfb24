"""Server-side checks of what kiosks send.

Two levels (docs/reliability.md §2.2, T-SYNC-4, T-FUZZ-2):

- the *envelope* (batch or heartbeat: its fields, types, sizes, record keys) — anything wrong
  is a 4xx naming the problem and nothing is stored;
- each *record* — one whose key ``(kiosk_id, db_epoch, seq)`` is sound but whose content is
  not is quarantined with its reason and acknowledged, so one poison record never blocks the
  kiosk's queue.

Known columns are checked against the kiosk's own schema (:data:`kiosk.schema.COLUMNS`); columns
added later (e.g. a hash chain) pass through as long as they are plain scalars.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from kiosk.schema import COLUMNS, DECISIONS, KINDS, NOT_NULL
from sync.errors import BadRequest
from sync.protocol import EPOCH_RE, MAX_BATCH_RECORDS, MAX_LOST_RANGES

INT64_MAX = 2**63 - 1
MAX_SEQ = 2**48            # ~9,000 years of a record a second: sums of seqs stay far inside SQL's int64
MAX_HEARTBEAT_BYTES = 16 * 1024
MAX_ERROR_TEXT = 1000      # sync/heartbeat.py cuts last_error to this
COLUMN_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_COLUMNS = 96
MAX_TEXT = 2048
MAX_BLOB_B64 = 8192
BATCH_FIELDS = {"kiosk_id", "db_epoch", "boot_id", "sent_wall", "sent_mono_ns", "clock_synced", "records"}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) and abs(v) <= INT64_MAX) or (isinstance(v, float) and math.isfinite(v))


def _text(where: str, v: Any, max_len: int = 64) -> str:
    if not isinstance(v, str) or not v or len(v) > max_len:
        raise BadRequest(f"{where} must be a non-empty string of at most {max_len} characters")
    if "\x00" in v:
        raise BadRequest(f"{where} contains a NUL character")
    return v


def _number(where: str, v: Any, lo: float, hi: float) -> float:
    if not _is_number(v) or not lo <= v <= hi:
        raise BadRequest(f"{where} must be a number between {lo:g} and {hi:g}")
    return float(v)


def _int(where: str, v: Any, lo: int, hi: int) -> int:
    if not _is_int(v) or not lo <= v <= hi:
        raise BadRequest(f"{where} must be an integer between {lo} and {hi}")
    return int(v)


def check_batch(body: Any, kiosk_id: str) -> dict[str, Any]:
    """The batch envelope and every record key, or BadRequest (400/403)."""
    if not isinstance(body, dict):
        raise BadRequest("batch must be a JSON object")
    unknown = set(body) - BATCH_FIELDS
    if unknown:
        raise BadRequest(f"unknown batch field(s): {', '.join(sorted(unknown))[:200]}")
    for name in BATCH_FIELDS:
        if name not in body:
            raise BadRequest(f"batch field {name!r} is missing")
    if body["kiosk_id"] != kiosk_id:
        raise BadRequest(f"batch is for kiosk {str(body['kiosk_id'])[:64]!r} but signed by {kiosk_id!r}",
                         403, "wrong_kiosk")
    epoch = _text("db_epoch", body["db_epoch"])
    if not EPOCH_RE.fullmatch(epoch):
        raise BadRequest("db_epoch has characters other than letters, digits and . _ : -")
    _text("boot_id", body["boot_id"], 64)
    _number("sent_wall", body["sent_wall"], 0, 2**33)
    _int("sent_mono_ns", body["sent_mono_ns"], 0, INT64_MAX)
    _int("clock_synced", body["clock_synced"], 0, 1)
    records = body["records"]
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_BATCH_RECORDS:
        raise BadRequest(f"records must be a list of 1 to {MAX_BATCH_RECORDS} records")
    prev = 0
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise BadRequest(f"records[{i}] is not an object")
        seq = _int(f"records[{i}].seq", rec.get("seq"), 1, MAX_SEQ)
        if seq <= prev:
            raise BadRequest(f"records[{i}].seq = {seq} is not above the previous seq {prev}")
        prev = seq
        if "kiosk_id" in rec and rec["kiosk_id"] is not None and rec["kiosk_id"] != kiosk_id:
            raise BadRequest(f"records[{i}] (seq {seq}) belongs to another kiosk", 403, "wrong_kiosk")
        if "db_epoch" in rec and rec["db_epoch"] is not None and rec["db_epoch"] != epoch:
            raise BadRequest(f"records[{i}] (seq {seq}) has db_epoch {str(rec['db_epoch'])[:64]!r}, "
                             f"not the batch's {epoch!r}")
    return body


def _value_problem(name: str, v: Any) -> str | None:
    if v is None:
        return None
    kind = COLUMNS.get(name)
    if isinstance(v, dict):
        if kind is None and set(v) == {"b64"} and isinstance(v["b64"], str) and len(v["b64"]) <= MAX_BLOB_B64:
            return None
        return f"{name} is an object"
    if isinstance(v, bool) or isinstance(v, list):
        return f"{name} has the wrong type ({type(v).__name__})"
    if _is_int(v) and abs(v) > INT64_MAX:
        return f"{name} is out of the 64-bit integer range"
    if isinstance(v, float) and not math.isfinite(v):
        return f"{name} is not a finite number"
    if isinstance(v, str) and len(v) > MAX_TEXT:
        return f"{name} is longer than {MAX_TEXT} characters"
    if isinstance(v, str) and "\x00" in v:
        return f"{name} contains a NUL character"     # PostgreSQL's text cannot hold one; neither engine keeps it
    if kind is int and not _is_int(v):
        return f"{name} must be an integer, not {type(v).__name__}"
    if kind is float and not _is_number(v):
        return f"{name} must be a number, not {type(v).__name__}"
    if kind is str and not isinstance(v, str):
        return f"{name} must be text, not {type(v).__name__}"
    return None


def record_problem(rec: Mapping[str, Any]) -> str | None:
    """Why this record cannot be stored as a pass-log record, or None if it can."""
    if len(rec) > MAX_COLUMNS:
        return f"record has {len(rec)} columns (at most {MAX_COLUMNS})"
    for name, value in rec.items():
        kind = COLUMNS.get(name)
        if kind is None and not COLUMN_RE.fullmatch(name):
            return f"column name {name[:40]!r} is not a lowercase identifier"
        t = type(value)      # fast paths for the plain types every record is made of
        if value is None or (t is str and len(value) <= MAX_TEXT and kind in (None, str) and "\x00" not in value) \
                or (t is int and kind is not str and -INT64_MAX <= value <= INT64_MAX) \
                or (t is float and kind in (None, float) and math.isfinite(value)):
            continue
        problem = _value_problem(name, value)
        if problem:
            return problem
    for name in sorted(NOT_NULL):
        if rec.get(name) is None:
            return f"{name} is missing"
    if rec["kind"] not in KINDS:
        return f"kind {str(rec['kind'])[:40]!r} is not a record kind"
    if rec["clock_synced"] not in (0, 1):
        return "clock_synced must be 0 or 1"
    if not 0 <= rec["wall_ts"] < 2**33:
        return "wall_ts is out of range"
    if rec["mono_ns"] < 0:
        return "mono_ns is negative"
    decision = rec.get("decision")
    if rec["kind"] == "pass" and decision not in DECISIONS:
        return f"pass record has decision {str(decision)[:40]!r}"
    if rec["kind"] != "pass" and decision is not None:
        return f"{rec['kind']} record must not carry a decision"
    temp = rec.get("temp_c")
    if temp is not None and not -50.0 <= temp <= 150.0:
        return f"temp_c = {temp} is not a temperature"
    return None


def check_heartbeat(body: Any, kiosk_id: str) -> dict[str, Any]:
    """A heartbeat: a JSON object for the authenticated kiosk with sane field types."""
    if not isinstance(body, dict):
        raise BadRequest("heartbeat must be a JSON object")
    if body.get("kiosk_id") != kiosk_id:
        raise BadRequest(f"heartbeat is for kiosk {str(body.get('kiosk_id'))[:64]!r} but signed by {kiosk_id!r}",
                         403, "wrong_kiosk")
    for name in ("backlog", "last_seq", "acked_through", "sync_failures"):
        if body.get(name) is not None:
            _int(name, body[name], 0, MAX_SEQ)
    for name in ("sent_wall",):
        _number(name, body.get(name), 0, 2**33)
    if body.get("clock_offset_s") is not None:
        _number("clock_offset_s", body["clock_offset_s"], -2**33, 2**33)
    if body.get("db_epoch") is not None:
        _text("db_epoch", body["db_epoch"])
    on_duty = body.get("on_duty")
    if on_duty is not None and not (isinstance(on_duty, dict) and (
            on_duty.get("volunteer_ref") is None or (isinstance(on_duty["volunteer_ref"], str)
                                                     and len(on_duty["volunteer_ref"]) <= 64))):
        raise BadRequest("on_duty must be null or an object with a volunteer_ref of at most 64 characters")
    faults = body.get("faults", [])
    if not isinstance(faults, list) or len(faults) > 64 or not all(
            isinstance(f, dict) and isinstance(f.get("device"), str) and len(f["device"]) <= 64
            and (f.get("detail") is None or (isinstance(f["detail"], str) and len(f["detail"]) <= MAX_TEXT))
            for f in faults):
        raise BadRequest(f"faults must be a list of at most 64 objects with a device name (64 characters) "
                         f"and a detail ({MAX_TEXT})")
    for name in ("gate", "software_version", "boot_id", "status_file"):
        if body.get(name) is not None:
            _text(name, body[name], 64)
    if body.get("bundle_etag") is not None:
        _text("bundle_etag", body["bundle_etag"], 128)
    if body.get("last_error") is not None:
        _text("last_error", body["last_error"], MAX_ERROR_TEXT)
    if body.get("kiosk_status") is not None and not isinstance(body["kiosk_status"], dict):
        raise BadRequest("kiosk_status must be null or an object")
    size = len(json.dumps(body, ensure_ascii=False).encode("utf-8"))
    if size > MAX_HEARTBEAT_BYTES:
        raise BadRequest(f"heartbeat is {size} bytes of JSON (at most {MAX_HEARTBEAT_BYTES})", 413, "too_large")
    return body


LOST_FIELDS = {"kiosk_id", "db_epoch", "ranges", "reason"}


def check_lost(body: Any, kiosk_id: str) -> dict[str, Any]:
    """A lost-seqs report (POST /v1/lost): the envelope, and ranges of positive 64-bit seqs."""
    if not isinstance(body, dict):
        raise BadRequest("lost report must be a JSON object")
    unknown = set(body) - LOST_FIELDS
    if unknown:
        raise BadRequest(f"unknown lost-report field(s): {', '.join(sorted(unknown))[:200]}")
    if body.get("kiosk_id") != kiosk_id:
        raise BadRequest(f"lost report is for kiosk {str(body.get('kiosk_id'))[:64]!r} but signed by {kiosk_id!r}",
                         403, "wrong_kiosk")
    epoch = _text("db_epoch", body.get("db_epoch"))
    if not EPOCH_RE.fullmatch(epoch):
        raise BadRequest("db_epoch has characters other than letters, digits and . _ : -")
    _text("reason", body.get("reason"), 200)
    ranges = body.get("ranges")
    if not isinstance(ranges, list) or not 1 <= len(ranges) <= MAX_LOST_RANGES:
        raise BadRequest(f"ranges must be a list of 1 to {MAX_LOST_RANGES} [first, last] pairs")
    for i, r in enumerate(ranges):
        if not (isinstance(r, list) and len(r) == 2):
            raise BadRequest(f"ranges[{i}] must be a [first, last] pair")
        first = _int(f"ranges[{i}][0]", r[0], 1, MAX_SEQ)
        _int(f"ranges[{i}][1]", r[1], first, MAX_SEQ)
    return body
