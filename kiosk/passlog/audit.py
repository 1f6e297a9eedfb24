"""The override audit trail: override and shift records are append-only and hash-chained.

Which records: every ``pass`` record whose decision is an override (``manual_pass``,
``manual_deny``, ``emergency_open``), and every ``shift_start``, ``shift_end`` and ``hold_end``
(the end of an emergency hold-open is the second half of that override). They live in the
pass log like every other record and sync the same way (docs/reliability.md §5.5).

The chain. Each audited row carries ``chain = sha256(prev ‖ canonical(row))`` as hex, where
``prev`` is the 32 raw bytes of the previous audited row's ``chain`` — or, for the first
audited row after the anchor, of the anchor's. ``canonical(row)`` is the UTF-8 JSON object of
the row's non-NULL columns except ``chain``, keys sorted, separators ``,`` and ``:``, no ASCII
escaping — so a record read back from SQLite, or received by the street server as JSON,
hashes the same, and a column added later (NULL in old rows) does not change old hashes.
The genesis anchor of a log is ``sha256("kiosk-audit-genesis\\n" ‖ db_epoch)`` at seq 0.

Purge and the anchor (the decision): retention deletes old acknowledged records, audited ones
included (privacy: nothing is kept past ``retention_days``). So the chain starts at an anchor
kept in ``meta`` as ``audit_anchor = "<seq>:<chain>"`` — the last audited record already
purged. A purge first moves the anchor forward with :func:`advance_anchor` (in the same
transaction), then deletes; verification starts at the anchor, so an old prefix can go
without breaking anything after it. Triggers enforce the rest: an audited row cannot be
updated, nor deleted unless it lies at or before the anchor; an audited row cannot be
inserted without a chain; the anchor can only move forward, onto an existing audited row,
and cannot be deleted. Removing a record in the middle, or changing any byte of one, breaks
the link of that record (or of the next audited one), which :func:`verify` names.

What this cannot see on its own: someone with the file can drop the triggers and cut off the
newest audited rows. The street server holds every acknowledged record and checks the chain
per (kiosk, epoch); that copy is the reference.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from kiosk.core.digest import sha256
from kiosk.core.value import Value
from kiosk.schema import OVERRIDES

AUDITED_KINDS: tuple[str, ...] = ("shift_start", "shift_end", "hold_end")
GENESIS_PREFIX = b"kiosk-audit-genesis\n"
ANCHOR_KEY = "audit_anchor"
TRIGGERS: tuple[str, ...] = ("audit_insert_chained", "audit_no_update", "audit_no_delete",
                             "audit_anchor_forward", "audit_anchor_kept")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _audited_sql(alias: str) -> str:
    return (f"({alias}.kind IN ({_sql_list(AUDITED_KINDS)}) "
            f"OR {alias}.decision IN ({_sql_list(OVERRIDES)}))")


_ANCHOR_SEQ = "CAST(substr({v}, 1, instr({v}, ':') - 1) AS INTEGER)"

_TRIGGER_SQL = (
    f"""CREATE TRIGGER IF NOT EXISTS audit_insert_chained BEFORE INSERT ON records
    WHEN {_audited_sql('NEW')} AND NEW.chain IS NULL
    BEGIN SELECT RAISE(ABORT, 'audit: override and shift records must be written with their chain link'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON records
    WHEN OLD.chain IS NOT NULL OR NEW.chain IS NOT NULL OR {_audited_sql('OLD')} OR {_audited_sql('NEW')}
    BEGIN SELECT RAISE(ABORT, 'audit: override and shift records are append-only'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON records
    WHEN (OLD.chain IS NOT NULL OR {_audited_sql('OLD')})
     AND OLD.seq > COALESCE((SELECT {_ANCHOR_SEQ.format(v='value')} FROM meta WHERE key = '{ANCHOR_KEY}'), 0)
    BEGIN SELECT RAISE(ABORT, 'audit: override and shift records are append-only; a purge must advance the audit anchor first'); END""",  # noqa: E501 - stored in the log's schema as written
    f"""CREATE TRIGGER IF NOT EXISTS audit_anchor_forward BEFORE UPDATE ON meta
    WHEN OLD.key = '{ANCHOR_KEY}' AND NOT COALESCE(
        NEW.key = '{ANCHOR_KEY}'
        AND {_ANCHOR_SEQ.format(v='NEW.value')} > {_ANCHOR_SEQ.format(v='OLD.value')}
        AND NEW.value IS (SELECT seq || ':' || chain FROM records
                          WHERE seq = {_ANCHOR_SEQ.format(v='NEW.value')} AND chain IS NOT NULL), 0)
    BEGIN SELECT RAISE(ABORT, 'audit: the anchor only moves forward, onto an audited record'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_anchor_kept BEFORE DELETE ON meta
    WHEN OLD.key = '{ANCHOR_KEY}'
    BEGIN SELECT RAISE(ABORT, 'audit: the anchor cannot be deleted'); END""",
)


# --------------------------------------------------------------------------- the chain

def is_audited(row: Mapping[str, Any]) -> bool:
    """Whether a record (as columns) belongs to the audit trail."""
    return row.get("kind") in AUDITED_KINDS or row.get("decision") in OVERRIDES


def canonical(row: Mapping[str, Any]) -> bytes:
    """The bytes a row's link hashes: its non-NULL columns except ``chain``, as sorted JSON."""
    content = {k: v for k, v in row.items() if k != "chain" and v is not None}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def link(prev: str, row: Mapping[str, Any]) -> str:
    """The chain value of ``row`` following ``prev``."""
    return sha256(bytes.fromhex(prev) + canonical(row)).hexdigest()


def genesis(db_epoch: str) -> str:
    return sha256(GENESIS_PREFIX + db_epoch.encode("utf-8")).hexdigest()


def parse_anchor(value: str | None) -> tuple[int, str]:
    """``"<seq>:<chain>"`` → (seq, chain); ValueError if malformed."""
    if not value or ":" not in value:
        raise ValueError(f"audit anchor {value!r} is not '<seq>:<chain>'")
    seq_s, chain = value.split(":", 1)
    bytes.fromhex(chain)
    if len(chain) != 64:
        raise ValueError(f"audit anchor chain {chain!r} is not a sha256 hex digest")
    return int(seq_s), chain


# --------------------------------------------------------------------------- schema

def ensure_schema(conn: sqlite3.Connection, db_epoch: str) -> None:
    """Add the ``chain`` column, the triggers and the genesis anchor where missing (idempotent).

    Runs inside the caller's write transaction.
    """
    cols = {r[1] for r in conn.execute("PRAGMA table_info(records)")}
    if "chain" not in cols:
        conn.execute("ALTER TABLE records ADD COLUMN chain TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS records_chain ON records (seq) WHERE chain IS NOT NULL")
    if conn.execute("SELECT 1 FROM meta WHERE key = ?", (ANCHOR_KEY,)).fetchone() is None:
        # only a new log hashes its genesis
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (ANCHOR_KEY, f"0:{genesis(db_epoch)}"))
    for sql in _TRIGGER_SQL:
        conn.execute(sql)


def anchor(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (ANCHOR_KEY,)).fetchone()
    return parse_anchor(row[0] if row else None)


def head(conn: sqlite3.Connection) -> str:
    """The chain value the next audited record links to."""
    row = conn.execute("SELECT chain FROM records WHERE chain IS NOT NULL ORDER BY seq DESC LIMIT 1").fetchone()
    return str(row[0]) if row else anchor(conn)[1]


def advance_anchor(conn: sqlite3.Connection, through_seq: int) -> int | None:
    """Before purging records up to ``through_seq``: move the anchor to the last audited record
    at or before it. Call inside the purge's transaction. Returns the new anchor seq (None if
    no audited record lies in the range, in which case nothing changes)."""
    current, _ = anchor(conn)
    row = conn.execute("SELECT seq, chain FROM records WHERE chain IS NOT NULL AND seq <= ? AND seq > ? "
                       "ORDER BY seq DESC LIMIT 1", (through_seq, current)).fetchone()
    if row is None:
        return None
    conn.execute("UPDATE meta SET value = ? WHERE key = ?", (f"{row[0]}:{row[1]}", ANCHOR_KEY))
    return int(row[0])


# --------------------------------------------------------------------------- verification

class Problem(Value):
    """The first record where the trail breaks."""

    seq: int | None
    message: str


class Report(Value):
    checked: int
    first_seq: int | None
    last_seq: int | None
    anchor_seq: int
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(conn: sqlite3.Connection) -> Report:
    """Walk the audited records from the anchor and name the first one whose link is wrong."""
    conn.row_factory = sqlite3.Row
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    cols = {r[1] for r in conn.execute("PRAGMA table_info(records)")}
    if "chain" not in cols:
        return Report(0, None, None, 0, Problem(None, "the pass log has no audit chain column"))
    try:
        anchor_seq, prev = anchor(conn)
    except ValueError as exc:
        return Report(0, None, None, 0, Problem(None, f"the audit anchor in meta is damaged: {exc}"))
    checked, first, last = 0, None, None
    missing = [t for t in TRIGGERS if t not in names]
    sql = (f"SELECT * FROM records WHERE seq > ? AND (chain IS NOT NULL OR kind IN ({_sql_list(AUDITED_KINDS)}) "
           f"OR decision IN ({_sql_list(OVERRIDES)})) ORDER BY seq")
    for r in conn.execute(sql, (anchor_seq,)):
        row = dict(r)
        seq = int(row["seq"])
        where = _describe(row)
        if not is_audited(row):
            return Report(checked, first, last, anchor_seq, Problem(
                seq, f"record {where} carries a chain link but is not an override or shift record "
                     "(its kind or decision was changed)"))
        if row["chain"] is None:
            return Report(checked, first, last, anchor_seq, Problem(
                seq, f"record {where} is an override or shift record without a chain link"))
        if row["chain"] != link(prev, row):
            return Report(checked, first, last, anchor_seq, Problem(
                seq, f"record {where} does not match the chain: it was changed, or an audited "
                     "record before it was removed"))
        prev = row["chain"]
        checked += 1
        first = seq if first is None else first
        last = seq
    if missing:
        return Report(checked, first, last, anchor_seq, Problem(
            None, f"append-only triggers missing: {', '.join(missing)}"))
    return Report(checked, first, last, anchor_seq, None)


def _describe(row: Mapping[str, Any]) -> str:
    what = row.get("decision") or row.get("kind")
    return f"seq {row['seq']} ({what}, wall_ts {row.get('wall_ts')})"
