"""What the street database's logic needs from an engine, and nothing more.

:class:`street.storage.db.StreetDB` holds the rules (exactly once, gaps, counters, registry) and
speaks one small portable SQL dialect through this interface; ``sqlite.py`` and ``postgres.py``
each implement it for their driver. The dialect is what both engines accept unchanged: ``?``
placeholders (the PostgreSQL engine rewrites them to ``%s``), ``INSERT … ON CONFLICT … DO
NOTHING / DO UPDATE SET x = excluded.x``, ``CASE`` instead of summing booleans, integer sums
read through ``int()`` (PostgreSQL's ``SUM(bigint)`` is ``numeric``).

Writes run as a function so the engine can retry it: ``engine.write(fn, lock=kiosk_id)`` calls
``fn(tx)`` inside one transaction holding a per-kiosk lock — on SQLite the one writer lock, on
PostgreSQL the kiosk's registry row (``SELECT … FOR UPDATE``), so two server processes
receiving the same kiosk's retries take turns while other kiosks write in parallel. A
transaction the database aborted on its own (deadlock, serialization) is rolled back and run
again; one whose connection broke is never re-run (its COMMIT may have landed) — the request
answers 503 and the kiosk retries with a new nonce, and the unique key absorbs the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Row(Protocol):
    """A result row: by position and by column name (sqlite3.Row, or the PostgreSQL engine's)."""

    def __getitem__(self, key: int | str) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> list[str]: ...


class Tx(Protocol):
    """One transaction's statements, in the portable dialect."""

    # In a write holding a kiosk's lock: that kiosk's ``(revoked, last_contact)`` as read with the
    # lock (None without a lock, or for a kiosk not registered)
    locked: Row | None

    def notify(self, channel: str, payload: str) -> None:
        """Tell every other server process, once this transaction commits (PostgreSQL NOTIFY;
        nothing on SQLite, whose one server process keeps no copy)."""
        ...

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; the number of rows it changed."""
        ...

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Execute one statement for each parameter row."""
        ...

    def insert(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]], tail: str = "") -> None:
        """``INSERT INTO table (cols) … tail`` of many rows, the fastest way the engine has."""
        ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class Engine(Protocol):
    kind: str            # "sqlite" | "postgresql"
    where: str           # for messages: the file, or the URL without its password

    def write(self, fn: Callable[[Tx], T], lock: str | None = None, durable: bool = True) -> T:
        """``fn(tx)`` in one write transaction (holding kiosk ``lock``'s row when given).
        ``durable=False`` lets the engine answer before the commit is on disk, where it can (a
        heartbeat: losing the last one in a crash is harmless); acknowledged records never."""
        ...

    def watch(self, channel: str, on_change: Callable[[str | None, bool], None]) -> bool:
        """Call ``on_change(payload, live)`` for each notice on ``channel`` from now on, and
        ``(None, live)`` whenever listening starts or stops; False if the engine has no such
        feed (SQLite)."""
        ...

    def read(self, fn: Callable[[Tx], T], snapshot: bool = False) -> T:
        """``fn(tx)`` in one read transaction; with ``snapshot`` every statement sees the same state
        (PostgreSQL's REPEATABLE READ; SQLite's reads always do)."""
        ...

    def schema_version(self) -> int:
        """The version in ``meta`` (0: an empty database)."""
        ...

    def apply(self, version: int, script: str) -> bool:
        """Run one migration script and record ``version``, atomically; False if another process
        already brought the database to ``version`` or beyond."""
        ...

    def close(self) -> None: ...
