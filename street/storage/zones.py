"""Each street's time zone (schema 6, ``streets.tz``): the zone of its "today", hours and printed times.

A street without one (NULL) uses the server's ``serve --tz``. A page covers one street, a
compound of one, a district or everything: it takes the zone its streets share, and the server's
zone when they differ (a district spanning zones reads one clock; a street's own page its own).
A zone is checked against the IANA database before it is written, so a stored name always loads.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from street.errors import LanguageError, RegistryError
from street.registry.places import Scope
from street.storage.db import StreetDB
from street.storage.engine import Tx


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name`` (Asia/Shanghai); LanguageError in one line for anything else."""
    try:
        if name.strip() != name or not name:
            raise ValueError(name)
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise LanguageError(f"{name[:60]!r} is not a known time zone (an IANA name such as Asia/Shanghai)") from None


def set_street_zone(db: StreetDB, street: str, name: str | None) -> None:
    """Give ``street`` the zone ``name`` (None: back to the server's); checked first, nothing written
    for an unknown zone or street."""
    if name is not None:
        zone(name)

    def write(tx: Tx) -> None:
        if tx.one("SELECT 1 FROM streets WHERE street_id = ?", (street,)) is None:
            raise RegistryError(f"no street {street[:40]!r} is registered (street-server kiosk import adds streets)")
        tx.run("UPDATE streets SET tz = ? WHERE street_id = ?", (name, street))
    db.engine.write(write)


def street_zones(db: StreetDB) -> dict[str, str | None]:
    """Every street and its zone name (None: the server's)."""
    return {r[0]: r[1] for r in db.read(lambda tx: tx.all("SELECT street_id, tz FROM streets ORDER BY street_id"))}


def zone_of(db: StreetDB, scope: Scope, default: dt.tzinfo) -> dt.tzinfo:
    """The zone of a page over ``scope``: its streets' shared zone, else ``default``."""
    cond, params = scope.where("k")
    names = {r[0] for r in db.read(lambda tx: tx.all(
        f"SELECT DISTINCT s.tz FROM kiosks k JOIN streets s ON s.street_id = k.street_id WHERE {cond}", params))}
    if scope.street is not None and not names:          # a street with no kiosk yet still has its zone
        names = {r[0] for r in db.read(lambda tx: tx.all("SELECT tz FROM streets WHERE street_id = ?",
                                                         (scope.street,)))}
    if len(names) != 1 or None in names:
        return default
    try:
        return zone(str(names.pop()))
    except LanguageError:           # written around this module (by hand): the server's zone, not a 500
        return default
