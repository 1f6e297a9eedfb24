"""Versioned schema upgrades, in place, for both engines (`street-server db upgrade`).

``migrations/NNNN_name.<engine>.sql`` is version NNNN for that engine; every version exists for
both engines, so a database of either kind is described by one number (``meta.schema_version``).
A new database gets every script in order; an older one the scripts above its version, each in
one transaction with its version number (both engines' DDL is transactional: a script that
fails leaves the database as it was). A database newer than this server is refused: this
server would not know its tables. `serve` refuses an older one too, with the command that
upgrades it — an upgrade is one-way, and the README asks for a backup first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from street.errors import SchemaError
from street.storage.engine import Engine

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.(sqlite|postgresql)\.sql")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    script: str


def migrations(kind: str) -> list[Migration]:
    """Every migration for ``kind`` ("sqlite" | "postgresql"), in version order."""
    found = []
    for entry in resources.files("street.storage").joinpath("migrations").iterdir():
        m = _NAME.fullmatch(entry.name)
        if m and m.group(3) == kind:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    assert [mig.version for mig in found] == list(range(1, len(found) + 1)), "migrations must be numbered 1, 2, …"
    return found


LATEST = len(migrations("sqlite"))


def check(engine: Engine, *, allow_older: bool = False) -> int:
    """The database's version; SchemaError if this server cannot use it as it is."""
    version = engine.schema_version()
    if version > LATEST:
        raise SchemaError(f"street database {engine.where} has schema {version}, newer than this server's "
                          f"{LATEST}: run a newer street-server (nothing was changed)")
    if 0 < version < LATEST and not allow_older:
        raise SchemaError(f"street database {engine.where} has schema {version}, this server needs {LATEST}: "
                          f"back it up (street-server backup), then run street-server db upgrade")
    return version


def upgrade(engine: Engine) -> list[Migration]:
    """Bring the database to :data:`LATEST`; the migrations this call applied (none if current)."""
    check(engine, allow_older=True)
    applied = []
    for mig in migrations(engine.kind):
        if mig.version > engine.schema_version() and engine.apply(mig.version, mig.script):
            applied.append(mig)
    return applied
