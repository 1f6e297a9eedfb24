"""What one local day held, for the daily report and staffing: the duty roster, shift records,
overrides by volunteer pseudonym, faults and alarms. Reads the day's rows of a few kinds (shift,
fault, alarm, override records: a small share of a day's records) through the ``records_ts`` index.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kiosk.schema import OVERRIDES
from street.registry.duty import Hours
from street.registry.places import Scope
from street.storage.db import StreetDB
from street.storage.engine import Tx

SHIFT_LOOKBACK_S = 2 * 86400.0      # a shift begun up to two days before the day still counts
# word for word the predicate of the partial index records_overrides (migration 0004), so both
# planners use it; the decisions are kiosk/schema.py's OVERRIDES
OVERRIDES_PREDICATE = "t.decision IN ('manual_pass', 'manual_deny', 'emergency_open')"
assert OVERRIDES_PREDICATE == "t.decision IN (" + ", ".join(f"'{d}'" for d in OVERRIDES) + ")"


def save_duty(db: StreetDB, hours: Hours) -> None:
    """Replace the whole roster with ``hours``, in one transaction."""
    def write(tx: Tx) -> None:
        tx.run("DELETE FROM duty_hours")
        tx.many("INSERT INTO duty_hours (kiosk_id, start_min, end_min) VALUES (?, ?, ?)",
                [(k, s, e) for k, spans in sorted(hours.items()) for s, e in spans])
    db.engine.write(write)


@dataclass
class DayRecords:
    duty: Hours = field(default_factory=dict)
    # kiosk → (kind, volunteer) before the day; (ts, kind, volunteer) in it
    shifts_before: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    shifts: dict[str, list[tuple[float, str, str]]] = field(default_factory=dict)
    overrides: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)      # (kiosk, vol) → decision → n
    events: dict[str, list[tuple[float, str, str, str]]] = field(default_factory=dict)  # kiosk → (ts, kind, device, …)


def day_records(db: StreetDB, scope: Scope, start: float, end: float) -> DayRecords:
    cond, params = scope.where("k")
    join = f"JOIN kiosks k ON k.kiosk_id = t.kiosk_id WHERE {cond}"

    # The overrides are found by time first (records_overrides), then checked against the scope:
    # SQLite keeps a CROSS JOIN's order. Joined the other way its planner walks every record each
    # kiosk in scope ever sent (records_boot): 0.5-0.8 s for a street after a week of records,
    # 8 ms this way (bench/office_pages.py's street). PostgreSQL plans it as any inner join.
    by_time = f"CROSS JOIN kiosks k WHERE k.kiosk_id = t.kiosk_id AND {cond}"

    def rows(tx: Tx, sql: str, extra: Sequence[Any]) -> list[Any]:
        return tx.all(sql.replace("{scope}", join).replace("{scope_by_time}", by_time), (*params, *extra))

    def read(tx: Tx) -> DayRecords:
        out = DayRecords()
        for r in rows(tx, "SELECT t.kiosk_id, t.start_min, t.end_min FROM duty_hours t {scope} "
                          "ORDER BY t.kiosk_id, t.start_min", ()):
            out.duty.setdefault(r[0], []).append((int(r[1]), int(r[2])))
        for r in rows(tx, "SELECT t.kiosk_id, t.ts, t.kind, t.volunteer_ref FROM records t {scope} "
                          "AND t.kind <> 'pass' AND t.kind IN ('shift_start', 'shift_end') AND t.ts >= ? AND t.ts < ? "
                          "ORDER BY t.ts",
                      (start - SHIFT_LOOKBACK_S, end)):
            if float(r[1]) < start:
                out.shifts_before.setdefault(r[0], []).append((r[2], r[3] or ""))
            else:
                out.shifts.setdefault(r[0], []).append((float(r[1]), r[2], r[3] or ""))
        for r in rows(tx, f"SELECT t.kiosk_id, t.volunteer_ref, t.decision, COUNT(*) FROM records t {{scope_by_time}} "
                          f"AND {OVERRIDES_PREDICATE} AND t.ts >= ? AND t.ts < ? AND t.kind = 'pass' "
                          "GROUP BY t.kiosk_id, t.volunteer_ref, t.decision", (start, end)):
            out.overrides.setdefault((r[0], r[1] or ""), {})[r[2]] = int(r[3])
        for r in rows(tx, "SELECT t.kiosk_id, t.ts, t.kind, t.device, t.body FROM records t {scope} "
                          "AND t.kind <> 'pass' AND t.kind IN ('fault', 'recovered', 'alarm') "
                          "AND t.ts >= ? AND t.ts < ? ORDER BY t.ts",
                      (start, end)):
            out.events.setdefault(r[0], []).append((float(r[1]), r[2], r[3] or "", _detail(r[4])))
        return out

    return db.read(read, snapshot=True)


def _detail(body: str) -> str:
    try:
        return str(json.loads(body).get("detail") or "")[:200]
    except ValueError:
        return ""
