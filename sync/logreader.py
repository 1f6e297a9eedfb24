"""Read-only access to the pass log for the sync process.

Opens the log with :func:`kiosk.passlog.reader.connect_readonly` (``mode=ro``: it can neither write nor
checkpoint) and keeps every read transaction short — a batch is fetched and the statement
finished before any network I/O, so the sync never pins the WAL (docs/reliability.md §1.6).
Heartbeat facts (who is on duty, which devices are faulted) are derived from the log itself,
since the sync is a separate process from the kiosk.
"""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.errors import StoreError
from kiosk.passlog.reader import connect_readonly, iter_records
from sync.errors import LogReadError
from sync.protocol import MAX_BATCH_BYTES, encode_json


@dataclass(frozen=True)
class Batch:
    """Records ready to send: their wire form, and each one's encoded JSON (joined once)."""

    db_epoch: str
    records: list[dict[str, Any]]
    encoded: list[bytes]

    @property
    def first(self) -> int:
        return int(self.records[0]["seq"])

    @property
    def last(self) -> int:
        return int(self.records[-1]["seq"])

    @property
    def size(self) -> int:
        return sum(len(e) for e in self.encoded)


class LogReader:
    """One read-only connection to one pass log file."""

    def __init__(self, path: Path, kiosk_id: str) -> None:
        self.path = Path(path)
        try:
            self.conn = connect_readonly(self.path)
        except (StoreError, sqlite3.Error) as exc:
            raise LogReadError(f"cannot open pass log {self.path}: {exc}") from None
        try:
            meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            self.conn.close()
            raise LogReadError(f"{self.path} is not a readable pass log: {exc}") from None
        owner = meta.get("kiosk_id")
        if owner != kiosk_id:
            self.conn.close()
            raise LogReadError(f"pass log {self.path} belongs to kiosk {owner!r}, not {kiosk_id!r}")
        self.kiosk_id = kiosk_id
        self.db_epoch: str = meta["db_epoch"]
        self.meta: dict[str, str] = meta

    def first_seq(self) -> int:
        return int(self._one("SELECT COALESCE(MIN(seq), 0) FROM records")[0])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        try:
            return self.conn.execute(sql, args).fetchone()
        except sqlite3.Error as exc:
            raise LogReadError(f"pass log {self.path} read failed: {exc}") from None

    def last_seq(self) -> int:
        return int(self._one("SELECT COALESCE(MAX(seq), 0) FROM records")[0])

    def backlog(self, acked_through: int) -> int:
        return int(self._one("SELECT COUNT(*) FROM records WHERE seq > ?", (acked_through,))[0])

    def batch(self, after_seq: int, max_records: int, max_bytes: int = MAX_BATCH_BYTES) -> Batch | None:
        """The next records after ``after_seq``: at most ``max_records`` and ``max_bytes`` of JSON."""
        try:
            rows = list(itertools.islice(iter_records(self.conn, after_seq=after_seq, batch=max_records),
                                         max_records))
        except sqlite3.Error as exc:
            raise LogReadError(f"pass log {self.path} read failed: {exc}") from None
        records: list[dict[str, Any]] = []
        encoded: list[bytes] = []
        size = 0
        for rec in rows:
            enc = encode_json(rec)      # BLOBs become {"b64": ...} on the way (protocol.wire_value)
            if records and size + len(enc) + 1 > max_bytes:
                break
            records.append(rec)
            encoded.append(enc)
            size += len(enc) + 1
        if not records:
            return None
        return Batch(self.db_epoch, records, encoded)

    def on_duty(self) -> dict[str, Any] | None:
        """The volunteer whose shift started last and has not ended, if any."""
        row = self._one("SELECT kind, volunteer_ref, wall_ts FROM records "
                        "WHERE kind IN ('shift_start', 'shift_end') ORDER BY seq DESC LIMIT 1")
        if row is None or row["kind"] != "shift_start":
            return None
        return {"volunteer_ref": row["volunteer_ref"], "since": row["wall_ts"]}

    def faults(self) -> list[dict[str, Any]]:
        """Devices whose latest fault/recovered record is a fault."""
        try:
            rows = self.conn.execute(
                "SELECT device, kind, detail, wall_ts FROM records WHERE seq IN ("
                " SELECT MAX(seq) FROM records WHERE kind IN ('fault', 'recovered') GROUP BY device)"
                " ORDER BY device").fetchall()
        except sqlite3.Error as exc:
            raise LogReadError(f"pass log {self.path} read failed: {exc}") from None
        return [{"device": r["device"], "detail": r["detail"], "since": r["wall_ts"]}
                for r in rows if r["kind"] == "fault"]
