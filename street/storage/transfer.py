"""`street-server db migrate-to postgresql://…`: move a street's SQLite database into the
district's PostgreSQL.

Everything is read from one snapshot of the street's file and written in one PostgreSQL
transaction, then counted on both sides before COMMIT: either the street arrives whole or the
district database is as it was. Kiosks keep their ids and credentials (they only change
``[sync] server_url``), records their keys, digests and times, streams their marks and gaps.
Records go through ``COPY`` (tens of thousands of rows a second). The street server must be
stopped first: a record acknowledged by it after the snapshot would be purged by its kiosk and
never reach the district (README "District deployment").

Refused, with nothing written: a street file of an older schema (upgrade it first), a kiosk id
the district already has, kiosks or street-less bundles with no street to go to (``--street``
places them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.clock import SystemClock
from street.errors import RegistryError, SchemaError, ServerStoreError
from street.registry.places import Place
from street.storage import migrate
from street.storage.db import StreetDB
from street.storage.sqlite import SQLiteEngine

# table → columns copied (identity ids are left to PostgreSQL; bundles keep their order)
TABLES: dict[str, tuple[str, ...]] = {
    "kiosks": ("kiosk_id", "secret", "created", "revoked", "last_contact", "online_since", "street_id", "compound_id",
               "gate_id", "gate_name", "credential_kind"),
    "streams": ("kiosk_id", "db_epoch", "acked_through", "max_seq", "stored", "quarantined", "redelivered",
                "first_seen", "last_seen"),
    "gaps": ("kiosk_id", "db_epoch", "first", "last", "since"),
    "records": ("kiosk_id", "db_epoch", "seq", "digest", "kind", "ts", "ts_source", "wall_ts", "clock_synced",
                "boot_id", "mono_ns", "decision", "cause", "device", "volunteer_ref", "temp_c", "body", "received"),
    "quarantine": ("kiosk_id", "db_epoch", "seq", "digest", "reason", "body", "received"),
    "heartbeats": ("kiosk_id", "received", "payload"),
    "alarms": ("kiosk_id", "at", "kind", "detail"),
    "nonces": ("kiosk_id", "nonce", "expires"),
    "lost": ("kiosk_id", "db_epoch", "first", "last", "reported", "reason"),
    "counts": ("kiosk_id", "hour", "passes", "fevers", "overrides", "denies", "manual_passes", "manual_denies",
               "emergency_opens"),
    "bundles": ("etag", "data", "published", "street_id"),
    "duty_hours": ("kiosk_id", "start_min", "end_min"),
    "offline_spells": ("kiosk_id", "began", "ended"),
}
# Not moved: the alert outbox (``alerts``, ``alert_deliveries``): what was sent was sent; what was
# pending is raised again by the district's own watch where it still holds.


@dataclass
class Moved:
    rows: dict[str, int] = field(default_factory=dict)
    streets: list[str] = field(default_factory=list)


def migrate_to(source: Path, url: str, place: Place | None = None) -> Moved:
    """Copy the street database ``source`` into the district database at ``url``."""
    if not source.is_file():
        raise ServerStoreError(f"street database {source} does not exist")
    src = SQLiteEngine(source)
    try:
        version = src.schema_version()
        if version != migrate.LATEST:
            raise SchemaError(f"street database {source} has schema {version}, not {migrate.LATEST}: run "
                              f"street-server db upgrade --db {source} first (back it up before)")
        district = StreetDB(url, SystemClock(assume_synced=True), pool_size=1)
        try:
            return src.read(lambda tx: _copy(tx, district, place or Place()))
        finally:
            district.close()
    finally:
        src.close()


def _copy(tx: Any, district: StreetDB, place: Place) -> Moved:
    data = {t: [tuple(r) for r in tx.all(f"SELECT {', '.join(cols)} FROM {t}"
                                         f"{' ORDER BY id' if t in ('bundles', 'alarms', 'records') else ''}")]
            for t, cols in TABLES.items()}
    places = {t: [tuple(r) for r in tx.all(f"SELECT {cols} FROM {t}")] for t, cols in
              (("districts", "district_id, name"), ("streets", "street_id, district_id, name, tz"),
               ("compounds", "street_id, compound_id, name"))}
    kiosk_cols = TABLES["kiosks"]
    street_of = kiosk_cols.index("street_id")
    streets = sorted({k[street_of] for k in data["kiosks"] if k[street_of]})
    unplaced = [k[0] for k in data["kiosks"] if not k[street_of]]
    target = place.street or (streets[0] if len(streets) == 1 else "")
    if (unplaced or any(b[3] is None for b in data["bundles"])) and not target:
        who = f"kiosks {', '.join(unplaced[:5])}" if unplaced else "its street-less trust bundles"
        raise RegistryError(f"{who} have no street in the district: pass --street CODE (and --street-name)")
    if unplaced:
        place.check()
        data["kiosks"] = [(*k[:street_of], target, *k[street_of + 1:]) if not k[street_of] else k
                          for k in data["kiosks"]]
    data["bundles"] = [(*b[:3], b[3] or target) for b in data["bundles"]]
    pg = district.engine

    def write(ptx: Any) -> Moved:
        ids = [k[0] for k in data["kiosks"]]
        clash = [r[0] for r in ptx.all("SELECT kiosk_id FROM kiosks WHERE kiosk_id = ANY(?)", (ids,))] if ids else []
        if clash:
            raise RegistryError(f"the district already has kiosk{'s' if len(clash) > 1 else ''} "
                                f"{', '.join(sorted(clash)[:10])}: nothing was moved")
        before = {t: int(ptx.one(f"SELECT COUNT(*) FROM {t}")[0]) for t in TABLES}
        ptx.many("INSERT INTO districts (district_id, name) VALUES (?, ?) ON CONFLICT (district_id) DO NOTHING",
                 places["districts"] + ([(place.district, place.district_name)] if place.district else []))
        ptx.many("INSERT INTO streets (street_id, district_id, name, tz) VALUES (?, ?, ?, ?) ON CONFLICT (street_id) "
                 "DO NOTHING", places["streets"] + ([(target, place.district or None, place.street_name, None)]
                                                    if target else []))
        ptx.many("INSERT INTO compounds (street_id, compound_id, name) VALUES (?, ?, ?) "
                 "ON CONFLICT (street_id, compound_id) DO NOTHING", places["compounds"])
        for table, cols in TABLES.items():
            _insert(ptx, table, cols, data[table])
        moved = Moved({t: len(data[t]) for t in TABLES}, sorted({*streets, target} - {""}))
        for t in TABLES:
            after = int(ptx.one(f"SELECT COUNT(*) FROM {t}")[0])
            if t != "nonces" and after - before[t] != len(data[t]):
                raise ServerStoreError(f"{t}: {len(data[t])} rows read but {after - before[t]} arrived; "
                                       "nothing was moved")
        return moved

    return pg.write(write)


def _insert(ptx: Any, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    if table == "records":
        with ptx.cur.copy(f"COPY records ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    conflict = " ON CONFLICT DO NOTHING" if table == "nonces" else ""
    ptx.many(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}){conflict}", rows)
