"""Alerts in the database: raised once per key, delivered once per channel.

``alerts`` holds what happened (unique ``key``: the same fever record, the same offline spell,
the same fault raise one alert however often they are seen). ``alert_deliveries`` holds one row
per alert and channel with its attempts and next try; a worker claims a row by moving its
``next_try`` (a compare-and-set, so two server processes never send the same one twice).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from street.alerts.settings import AlertSettings
from street.storage.engine import Row, Tx

RAISE = "INSERT INTO alerts (key, kind, kiosk_id, at, detail) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
MAX_AGE_S = 12 * 3600.0        # a record older than this (a late backlog) raises no alert
LEASE_S = 120.0                 # a claimed delivery is retried by anyone after this (a worker that died)
BACKOFF_S = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


def backoff(attempts: int) -> float:
    """The wait after the ``attempts``-th failure: 30 s doubling, at most an hour; never given up."""
    return BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1]


def from_records(tx: Tx, kiosk_id: str, rows: Sequence[tuple[Any, ...]], now: float,
                 max_age_s: float = MAX_AGE_S) -> None:
    """Raise the alerts the freshly stored rows call for (db.py's record rows: kiosk, epoch, seq,
    digest, kind, ts, …, decision 11, cause 12, device 13, volunteer 14, temp 15, body 16)."""
    out = []
    for r in rows:
        kind, ts, decision, cause, device, temp = r[4], r[5], r[11], r[12], r[13], r[15]
        if not now - ts <= max_age_s:
            continue
        key = f"{kiosk_id}:{r[1]}:{r[2]}"
        if kind == "pass" and decision == "deny" and cause == "fever":
            out.append((f"fever:{key}", "fever", kiosk_id, ts, json.dumps({"temp_c": temp})))
        elif kind in ("fault", "alarm"):
            detail = json.loads(r[16]).get("detail") or ""
            out.append((f"{kind}:{key}", kind, kiosk_id, ts, json.dumps({"device": device, "detail": detail[:200]},
                                                                          ensure_ascii=False)))
    if out:
        tx.many(RAISE, out)


def watch(tx: Tx, now: float, s: AlertSettings, day_start: float,
          street_day_start: Mapping[str, float] | None = None) -> None:
    """Raise the alerts of what is *not* happening: a kiosk silent, a post unstaffed (inside its
    duty hours, if it has a roster; counted from the later of coming online, the last shift's end
    and the duty stretch's start), and the faults heartbeats report (a fault record may sit in a
    backlog the kiosk cannot upload). ``day_start``: local midnight in the server's zone;
    ``street_day_start``: in their own zone, for streets that have one (street/storage/zones.py)."""
    starts = street_day_start or {}
    shift_end = {r[0]: float(r[1]) for r in tx.all(
        "SELECT kiosk_id, MAX(ts) FROM records WHERE kind <> 'pass' AND kind = 'shift_end' AND ts >= ? "
        "GROUP BY kiosk_id", (min([day_start, *starts.values()]),))}
    duty: dict[str, list[tuple[int, int]]] = {}
    for r in tx.all("SELECT kiosk_id, start_min, end_min FROM duty_hours"):
        duty.setdefault(r[0], []).append((int(r[1]), int(r[2])))
    out = []
    for k in tx.all("SELECT k.kiosk_id, k.last_contact, k.online_since, h.payload, k.street_id FROM kiosks k "
                    "LEFT JOIN heartbeats h ON h.kiosk_id = k.kiosk_id WHERE k.revoked IS NULL "
                    "AND k.last_contact IS NOT NULL"):
        kiosk_id, last, since = k[0], float(k[1]), float(k[2] or k[1])
        if now - last > s.offline_after_s:
            out.append((f"offline:{kiosk_id}:{last:.0f}", "offline", kiosk_id, now,
                        json.dumps({"last_contact": last})))
            continue
        payload: dict[str, Any] = json.loads(k[3]) if k[3] else {}
        opened = _duty_opened(duty.get(kiosk_id), now, starts.get(k[4] or "", day_start))
        if k[3] and not payload.get("on_duty") and opened is not None:
            alone = max(since, shift_end.get(kiosk_id, 0.0), opened)
            if now - alone > s.unstaffed_after_s:
                out.append((f"unstaffed:{kiosk_id}:{alone:.0f}", "unstaffed", kiosk_id, now,
                            json.dumps({"since": alone})))
        for f in payload.get("faults") or []:
            if isinstance(f, dict):
                key = f"fault:{kiosk_id}:{f.get('device')}:{float(f.get('since') or 0):.0f}"
                out.append((key, "fault", kiosk_id, now, json.dumps(
                    {"device": str(f.get("device"))[:40], "detail": str(f.get("detail") or "")[:200]},
                    ensure_ascii=False)))
    if out:
        tx.many(RAISE, out)


def _duty_opened(hours: list[tuple[int, int]] | None, now: float, day_start: float) -> float | None:
    """When the post's current duty stretch began (the roster's local minutes); None outside its
    hours. A post without a roster is open whenever it is online (-inf: no lower bound)."""
    if hours is None:
        return float("-inf")
    minute = (now - day_start) / 60
    return next((day_start + s * 60 for s, e in hours if s <= minute < e), None)


def enqueue(tx: Tx, now: float, s: AlertSettings) -> None:
    """A delivery row for every channel that takes the kind, for alerts raised since ``max_age_s``."""
    for ch in s.channels:
        marks = ", ".join("?" * len(ch.kinds))
        tx.run(f"INSERT INTO alert_deliveries (alert_id, channel, next_try) SELECT a.id, ?, ? FROM alerts a "
               f"WHERE a.at >= ? AND a.kind IN ({marks}) AND NOT EXISTS (SELECT 1 FROM alert_deliveries d "
               f"WHERE d.alert_id = a.id AND d.channel = ?) ON CONFLICT (alert_id, channel) DO NOTHING",
               (ch.name, now, now - s.max_age_s, *ch.kinds, ch.name))    # another process may enqueue at once


def due(tx: Tx, now: float, channels: Sequence[str], limit: int = 50) -> list[Row]:
    """Deliveries whose time has come: (alert_id, channel, attempts, next_try, key, kind, kiosk, at, detail)."""
    if not channels:
        return []
    marks = ", ".join("?" * len(channels))
    return tx.all(f"SELECT d.alert_id, d.channel, d.attempts, d.next_try, a.key, a.kind, a.kiosk_id, a.at, a.detail "
                  f"FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.done IS NULL "
                  f"AND d.next_try <= ? AND d.channel IN ({marks}) ORDER BY d.next_try, d.alert_id LIMIT ?",
                  (now, *channels, limit))


def claim(tx: Tx, alert_id: int, channel: str, seen_next_try: float, now: float) -> bool:
    """Take one delivery for this worker (False: another took it first)."""
    return tx.run("UPDATE alert_deliveries SET next_try = ?, attempts = attempts + 1 WHERE alert_id = ? "
                  "AND channel = ? AND done IS NULL AND next_try = ?",
                  (now + LEASE_S, alert_id, channel, seen_next_try)) == 1


def settle(tx: Tx, alert_id: int, channel: str, now: float, attempts: int, error: str | None) -> None:
    if error is None:
        tx.run("UPDATE alert_deliveries SET done = ?, error = '' WHERE alert_id = ? AND channel = ?",
               (now, alert_id, channel))
    else:
        tx.run("UPDATE alert_deliveries SET next_try = ?, error = ? WHERE alert_id = ? AND channel = ?",
               (now + backoff(attempts), error[:300], alert_id, channel))
