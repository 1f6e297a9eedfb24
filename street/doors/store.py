"""The quarantine board's state, kept from the door nodes' records (docs/street-server.md §9).

:func:`note_records` runs inside the ingest transaction, on the records that transaction
actually stores: a record redelivered by a node is already held and never reaches it, so an
opening or an alert counts exactly once. The household's period and windows come from the
node's ``door_watch`` record (the node's [door] section). :func:`sweep` ends quarantines at
their end, raises ``node_lost`` for a node that stopped sending heartbeats, and applies the
retention rule: :data:`RETENTION_DAYS` after a quarantine ends, its household's door events,
alerts and door records are deleted from the server (the kiosks' own rule, store.retention_days,
whose default is the same 21 days).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.schema import DOOR_KINDS, HOUSEHOLD_RE
from street.alerts import outbox
from street.doors.alerts import DoorAlert
from street.errors import DoorError
from street.storage.engine import Tx
from sync.protocol import canonical_record

RETENTION_DAYS = 21
LOST_AFTER_S = 900.0          # a node's sync runs every minute; 15 minutes of silence is a lost node
DOOR_SET = frozenset(DOOR_KINDS)
STAFF_RE = re.compile(r"[^\x00-\x1f<>]{1,64}")
NOTE_MAX = 500
_DETAIL = re.compile(r"starts=(\S+) ends=(\S+) windows=(\S+)")


def _iso(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _alert(tx: Tx, household: str, kiosk_id: str, kind: str, at: float, detail: str = "") -> DoorAlert:
    row = tx.one("INSERT INTO door_alerts (household_ref, kiosk_id, kind, at, detail) VALUES (?, ?, ?, ?, ?) "
                 "RETURNING id", (household, kiosk_id, kind, at, detail))
    assert row is not None
    # the office's alert channels: one outbox alert per door alert, in this same transaction
    tx.run(outbox.RAISE, (f"door:{int(row[0])}", "door", kiosk_id, at,
                          json.dumps({"what": kind, "household": household, "detail": detail[:200]})))
    return DoorAlert(int(row[0]), household, kiosk_id, kind, at, detail)


def _ensure_household(tx: Tx, household: str, kiosk_id: str, door: str) -> None:
    tx.run("INSERT INTO households (household_ref, kiosk_id, door) VALUES (?, ?, ?) "
           "ON CONFLICT (household_ref) DO NOTHING", (household, kiosk_id, door))


def note_records(tx: Tx, kiosk_id: str, epoch: str, stored: Sequence[tuple[dict[str, Any], float]]) -> list[DoorAlert]:
    """The door records among ``stored`` (record, best-known time), into the board; the alerts raised."""
    alerts: list[DoorAlert] = []
    events = []
    for rec, ts in stored:
        kind = rec["kind"]
        household = rec.get("holder_ref")
        if kind not in DOOR_SET or not isinstance(household, str) or not re.fullmatch(HOUSEHOLD_RE, household):
            continue
        cause, door = rec.get("cause"), str(rec.get("device") or "")
        events.append((kiosk_id, epoch, rec["seq"], household, kind, cause, ts, rec.get("temp_c"),
                       rec.get("volunteer_ref")))
        _ensure_household(tx, household, kiosk_id, door)
        tx.run("UPDATE households SET kiosk_id = ?, last_event = ? WHERE household_ref = ? "
               "AND (last_event IS NULL OR last_event <= ?)", (kiosk_id, ts, household, ts))
        if kind == "door_watch" and cause == "start":
            detail = str(rec.get("detail") or "")
            if detail.endswith("after=unclean_stop"):
                alerts.append(_alert(tx, household, kiosk_id, "power_lost", ts))
            m = _DETAIL.match(detail)
            if m:
                starts, ends = _iso(m.group(1)), _iso(m.group(2))
                tx.run("UPDATE households SET door = ?, starts = ?, ends = ?, windows = ?, "
                       "state = CASE WHEN ? > ? THEN 'watching' ELSE state END WHERE household_ref = ?",
                       (door, starts, ends, m.group(3), ends or 0.0, ts, household))
        elif kind == "door_open":
            tx.run("UPDATE households SET door_open = 1, last_open = ? WHERE household_ref = ? "
                   "AND (last_open IS NULL OR last_open <= ?)", (ts, household, ts))
            if cause in ("outside_window", "clock_unsynced"):
                alerts.append(_alert(tx, household, kiosk_id, "opened_outside_window" if cause == "outside_window"
                                     else "clock_unsynced", ts))
        elif kind == "door_close":
            tx.run("UPDATE households SET door_open = 0 WHERE household_ref = ? AND (last_open IS NULL "
                   "OR last_open <= ?)", (household, ts))
        elif kind == "door_held":
            alerts.append(_alert(tx, household, kiosk_id, "held_open", ts, str(rec.get("detail") or "")))
        elif kind == "door_tamper" and cause == "loop_open":
            alerts.append(_alert(tx, household, kiosk_id, "tamper", ts))
        elif kind == "door_visit" and cause == "fever":
            alerts.append(_alert(tx, household, kiosk_id, "fever", ts, f"{rec.get('temp_c')} °C"))
    if events:
        tx.insert("door_events", ("kiosk_id", "db_epoch", "seq", "household_ref", "kind", "cause", "ts", "temp_c",
                                  "staff_ref"), events, "ON CONFLICT (kiosk_id, db_epoch, seq) DO NOTHING")
    return alerts


def redacted(rec: dict[str, Any], text: str) -> str:
    """The body kept for a quarantined record: a door record loses its holder_ref and detail
    (a record refused for its household reference may carry a name or an ID number typed in
    its place, and nothing may store one); every other record is kept as sent."""
    kind = rec.get("kind")
    if not isinstance(kind, str) or kind not in DOOR_SET:     # a quarantined record's kind may be any JSON value
        return text
    return canonical_record({k: (None if k in ("holder_ref", "detail") else v) for k, v in rec.items()})


def has_door_records(kinds: Sequence[str]) -> bool:
    return any(k in DOOR_SET for k in kinds)


@dataclass(frozen=True)
class SweepResult:
    ended: int
    removed: int
    alerts: list[DoorAlert]


def sweep(tx: Tx, now: float, lost_after: float = LOST_AFTER_S) -> SweepResult:
    """End quarantines past their end, raise node_lost once per silence, apply retention."""
    ended = tx.run("UPDATE households SET state = 'ended', ended = ? WHERE state = 'watching' AND ends IS NOT NULL "
                   "AND ends <= ?", (now, now))
    alerts = []
    for row in tx.all("SELECT h.household_ref, h.kiosk_id, k.last_contact, hb.payload FROM households h "
                      "LEFT JOIN kiosks k ON k.kiosk_id = h.kiosk_id "
                      "LEFT JOIN heartbeats hb ON hb.kiosk_id = h.kiosk_id WHERE h.state = 'watching'"):
        household, kiosk_id, contact, payload = row[0], row[1], row[2], row[3]
        silent = contact is None or now - float(contact) > lost_after
        stopped = False
        if not silent and payload:
            try:
                stopped = json.loads(payload).get("kiosk_running") is False
            except (ValueError, AttributeError):
                stopped = False
        if not (silent or stopped):
            continue
        since = float(contact) if contact is not None else 0.0
        if tx.one("SELECT 1 FROM door_alerts WHERE household_ref = ? AND kind = 'node_lost' AND at >= ?",
                  (household, since)) is None:
            why = "no heartbeat" if silent else "the node's service is not running"
            alerts.append(_alert(tx, household, kiosk_id, "node_lost", now, why))
    cutoff = now - RETENTION_DAYS * 86400
    removed = 0
    for (household,) in tx.all("SELECT household_ref FROM households WHERE state = 'ended' AND ends < ?",
                               (cutoff,)):
        tx.run("DELETE FROM records WHERE (kiosk_id, db_epoch, seq) IN (SELECT kiosk_id, db_epoch, seq "
               "FROM door_events WHERE household_ref = ?)", (household,))
        tx.run("DELETE FROM door_events WHERE household_ref = ?", (household,))
        tx.run("DELETE FROM door_alerts WHERE household_ref = ?", (household,))
        tx.run("DELETE FROM households WHERE household_ref = ?", (household,))
        removed += 1
    return SweepResult(ended, removed, alerts)


def acknowledge(tx: Tx, alert_id: int, staff: str, note: str, now: float) -> None:
    """A named staff member takes an alert, with a note; DoorError if that cannot be done."""
    staff, note = staff.strip(), note.strip()
    if not STAFF_RE.fullmatch(staff):
        raise DoorError("an acknowledgement needs the staff member's name (1-64 characters, no markup)")
    if not note or len(note) > NOTE_MAX or "\x00" in note:
        raise DoorError(f"an acknowledgement needs a note of 1 to {NOTE_MAX} characters")
    row = tx.one("SELECT acked_by FROM door_alerts WHERE id = ?", (alert_id,))
    if row is None:
        raise DoorError(f"there is no door alert {alert_id}")
    if row[0] is not None:
        raise DoorError(f"door alert {alert_id} was already acknowledged by {row[0]}")
    tx.run("UPDATE door_alerts SET acked_by = ?, acked_at = ?, note = ? WHERE id = ? AND acked_by IS NULL",
           (staff, now, note, alert_id))
