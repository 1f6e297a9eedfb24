"""The server's tests run on both engines: SQLite (a file in tmp_path) and PostgreSQL (a database
of its own in a throwaway cluster, one cluster per test process; tests/pgcluster.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from street.server import StreetServer
from street.storage.db import StreetDB
from tests.pgcluster import PgCluster

ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg() -> Iterator[PgCluster]:
    cluster = PgCluster().start()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def pg_street(pg: PgCluster) -> str:
    """One PostgreSQL street database per test process, at the latest schema."""
    url = pg.create_db()
    StreetDB(url, FakeClock()).close()
    return url


@pytest.fixture(params=ENGINES)
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a test's street database lives: a new file, or the PostgreSQL street database emptied."""
    if request.param == "sqlite":
        return tmp_path / "street.db"
    cluster: PgCluster = request.getfixturevalue("pg")
    return cluster.empty(request.getfixturevalue("pg_street"))


@pytest.fixture
def street(db_target: str | Path) -> Iterator[StreetServer]:
    with StreetServer(db_target) as server:
        yield server
