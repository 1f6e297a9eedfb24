"""The pass-log record: its columns and vocabulary, defined once, standard library only.

This is the contract between the kiosk's writer (kiosk/passlog/store.py), its readers (the sync
client, `kiosk export`), the wire (every column travels, sync/protocol.py) and the street
server's validator (street/api/validate.py). The server imports this module and nothing else
of the kiosk (tests/test_architecture.py checks it), so it must stay free of I/O and of
third-party imports. docs/contracts.md §4 describes each column.

A record is keyed ``(kiosk_id, db_epoch, seq)``; ``seq`` is gap-free within a ``db_epoch``.
No column may ever hold a name, an ID number or a raw QR payload: codes appear as
``token_hash`` and ``holder_ref`` (a keyed pseudonym), volunteers as ``volunteer_ref``.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

# column → Python type of its values (None is always allowed unless the column is in NOT_NULL)
COLUMNS: dict[str, type] = {
    "seq": int, "kiosk_id": str, "db_epoch": str, "kind": str,
    "wall_ts": float, "clock_synced": int, "boot_id": str, "mono_ns": int,
    "gate": str, "direction": str,
    "code_format": str, "code_kind": str, "kid": str, "issuer": str,
    "token_hash": str, "holder_ref": str, "colour": str, "reason": str,
    "temp_c": float, "temp_object_c": float, "temp_samples": int, "temp_spread_c": float,
    "ambient_c": float, "temp_verdict": str,
    "decision": str, "cause": str, "volunteer_ref": str, "device": str, "detail": str,
    "latency_ms": float,
    "chain": str,          # audit link of override and shift records (kiosk/passlog/audit.py), else NULL
}
NOT_NULL: frozenset[str] = frozenset({"kiosk_id", "db_epoch", "kind", "wall_ts", "clock_synced", "boot_id",
                                      "mono_ns"})

# What a record is: a decision at the gate, an event the office must see, or a door node's event.
# A door-sensor node's records (kiosk/door/, docs/contracts.md §4.4): ``holder_ref`` holds the
# household's pseudonym (HOUSEHOLD_RE), ``device`` the door, ``cause`` what the node concluded.
DOOR_KINDS: tuple[str, ...] = ("door_watch", "door_open", "door_close", "door_held", "door_tamper", "door_visit")
KINDS: tuple[str, ...] = ("pass", "shift_start", "shift_end", "fault", "recovered", "alarm", "hold_end",
                          "inspection", "notice") + DOOR_KINDS
# A publicity notice the gate's loudspeaker played (kiosk/service/rounds.py): ``detail`` is the
# notice id, ``cause`` how it ended.
NOTICE_CAUSES: tuple[str, ...] = ("played", "cut", "failed")
# A household is known only by an office-issued keyed pseudonym: "hh-" and 32 hex digits, never a
# name, an address or a flat number.
HOUSEHOLD_RE = r"hh-[0-9a-f]{32}"
# Why a door record was written (its ``cause``).
DOOR_CAUSES: tuple[str, ...] = ("start", "stop", "in_window", "outside_window", "clock_unsynced", "closed",
                                "held_open", "loop_open", "loop_closed", "normal", "fever")
# What a decision was (kind "pass" only); the last three are volunteers' overrides, audited.
DECISIONS: tuple[str, ...] = ("pass", "deny", "manual_pass", "manual_deny", "emergency_open")
OVERRIDES: tuple[str, ...] = ("manual_pass", "manual_deny", "emergency_open")
# Why a scanned code was accepted or not: exactly one reason per verdict (docs/health-codes.md).
REASONS: tuple[str, ...] = (
    "ok", "bad_prefix", "decode_error", "unknown_kid", "bad_signature", "alg_not_allowed",
    "not_yet_valid", "expired", "wrong_scope", "revoked", "replay", "red", "yellow",
    "stale_bundle", "clock_untrusted", "unsupported_format",
)
