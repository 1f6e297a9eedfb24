"""What the office reads, in one snapshot, at a cost that does not grow with the day's records.

Today's decisions (each counted apart), fevers and overrides come from ``counts`` (per kiosk and UTC hour, kept on
ingest: street/storage/db.py), so a page sums at most 24–25 rows per kiosk in view whether
the day holds 10 records or 10 million. Everything else the page shows is per kiosk or per
stream (registry, last heartbeat, open gaps, quarantine and lost totals, conflict alarms).

The day is the hours whose start lies in [local midnight, next midnight). In a zone whose
offset from UTC is a whole number of hours (Asia/Shanghai, and nearly every other) that is
exactly the local day; in one offset by a fraction of an hour the day's counters start at the
first UTC hour after midnight (docs/street-server.md §4).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from street.registry.places import Scope
from street.storage.db import COUNTERS, HOUR_S, StreetDB
from street.storage.engine import Row, Tx


@dataclass
class StatusData:
    kiosks: list[Row]
    heartbeats: dict[str, tuple[float, str]]              # kiosk → (received, payload JSON)
    today: dict[str, dict[str, int]]                       # kiosk → counter (db.COUNTERS) → today's total
    hours: dict[str, list[int]]                            # counter → per hour of the day, whole scope
    gaps: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    conflicts: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    streets: list[tuple[str, str, str]] = field(default_factory=list)        # (street, name, district)
    compounds: list[tuple[str, str, str]] = field(default_factory=list)      # (street, compound, name)
    duty: dict[str, list[tuple[int, int]]] = field(default_factory=dict)      # kiosk → roster's local minutes
    inspections: list[Inspection] = field(default_factory=list)                # today's visits, in time order


@dataclass(frozen=True)
class Inspection:
    """An inspector's visit, from its ``inspection`` record (kiosk/schema.py)."""

    kiosk_id: str
    at: float
    inspector: str              # the badge's holder_ref (a pseudonym)
    staffed: bool
    volunteer: str | None
    check: str                  # "self-check ok" or "faults: …"

    @staticmethod
    def of(kiosk_id: str, ts: float, cause: str | None, volunteer: str | None, body: str) -> Inspection:
        try:
            fields = json.loads(body)
        except ValueError:
            fields = {}
        return Inspection(kiosk_id, ts, str(fields.get("holder_ref") or ""), cause == "staffed", volunteer,
                          str(fields.get("detail") or ""))


def day_hours(day_start: float, day_end: float) -> tuple[int, int]:
    """The UTC hours [h0, h1) counted as the day (see the module docstring)."""
    return math.ceil(day_start / HOUR_S), math.ceil(day_end / HOUR_S)


def status(db: StreetDB, scope: Scope, day_start: float, day_end: float) -> StatusData:
    h0, h1 = day_hours(day_start, day_end)
    cond, params = scope.where("k")

    def per_kiosk(tx: Tx, sql: str, extra: tuple[Any, ...] = ()) -> list[Row]:
        """``sql`` selects from a table aliased ``t`` with a kiosk_id; joined to the kiosks in scope."""
        return tx.all(sql.replace("{scope}", f"JOIN kiosks k ON k.kiosk_id = t.kiosk_id WHERE {cond}"),
                      (*params, *extra))

    def read(tx: Tx) -> StatusData:
        kiosks = db.kiosks_in(tx, scope)
        hb = {r[0]: (float(r[1]), r[2]) for r in per_kiosk(
            tx, "SELECT t.kiosk_id, t.received, t.payload FROM heartbeats t {scope}")}
        sums = ", ".join(f"SUM(t.{c})" for c in COUNTERS)
        today = {r[0]: {c: int(r[i + 1]) for i, c in enumerate(COUNTERS)} for r in per_kiosk(
            tx, f"SELECT t.kiosk_id, {sums} FROM counts t {{scope}} "
                "AND t.hour >= ? AND t.hour < ? GROUP BY t.kiosk_id", (h0, h1))}
        hours = {c: [0] * max(1, h1 - h0) for c in COUNTERS}
        for r in per_kiosk(tx, f"SELECT t.hour, {sums} FROM counts t {{scope}} AND t.hour >= ? AND t.hour < ? "
                               "GROUP BY t.hour", (h0, h1)):
            for i, c in enumerate(COUNTERS):
                hours[c][int(r[0]) - h0] = int(r[i + 1])
        out = StatusData(kiosks, hb, today, hours)
        for r in per_kiosk(tx, "SELECT t.kiosk_id, t.first, t.last, t.since FROM gaps t {scope} ORDER BY t.first"):
            out.gaps.setdefault(r[0], []).append((int(r[1]), int(r[2]), float(r[3])))
        for r in per_kiosk(tx, "SELECT t.kiosk_id, SUM(t.quarantined) FROM streams t {scope} GROUP BY t.kiosk_id"):
            out.quarantined[r[0]] = int(r[1] or 0)
        for r in per_kiosk(tx, "SELECT t.kiosk_id, COUNT(*) FROM alarms t {scope} AND t.kind = 'conflict' "
                               "GROUP BY t.kiosk_id"):
            out.conflicts[r[0]] = int(r[1])
        # summed as doubles: no kiosk's reports can overflow the page's sum (issue 14)
        for r in per_kiosk(tx, "SELECT t.kiosk_id, SUM(CAST(t.last - t.first + 1 AS DOUBLE PRECISION)) "
                               "FROM lost t {scope} GROUP BY t.kiosk_id"):
            out.lost[r[0]] = int(r[1] or 0)
        for r in per_kiosk(tx, "SELECT t.kiosk_id, t.start_min, t.end_min FROM duty_hours t {scope}"):
            out.duty.setdefault(r[0], []).append((int(r[1]), int(r[2])))
        out.inspections = [Inspection.of(r[0], float(r[1]), r[2], r[3], r[4]) for r in per_kiosk(
            tx, "SELECT t.kiosk_id, t.ts, t.cause, t.volunteer_ref, t.body FROM records t {scope} "
                "AND t.kind <> 'pass' AND t.kind = 'inspection' AND t.ts >= ? AND t.ts < ? ORDER BY t.ts",
            (day_start, day_end))]
        out.streets = [(r[0], r[1], r[2] or "") for r in tx.all(
            "SELECT street_id, name, district_id FROM streets ORDER BY street_id")]
        out.compounds = [(r[0], r[1], r[2]) for r in tx.all(
            "SELECT street_id, compound_id, name FROM compounds ORDER BY street_id, compound_id")]
        return out

    return db.read(read, snapshot=True)
