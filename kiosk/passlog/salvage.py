"""Read what survives of a damaged pass log, page by page, without trusting its b-tree.

SQLite's own ``.recover`` needs the ``sqlite_dbpage`` virtual table, which Debian 12's
``sqlite3`` CLI (3.40.1) and the ``apsw`` wheels are built without, so this does the same job
for our one table: take the database file, lay the WAL's committed frames over it (frames are
valid only with the header's salts and an unbroken checksum chain, and only up to the last
commit frame — sqlite.org/fileformat2.html §4), then decode every table-leaf page (flag 0x0D)
cell by cell. Interior pages, the schema and the indexes are not needed, so a damaged root
page or index costs nothing; a damaged leaf costs its own rows only.

A cell becomes a record only if it has the records table's shape: ``seq`` as the rowid, the
kiosk id expected, a db_epoch, a known kind (kiosk/core/records.py) and numbers where numbers
belong. Records are immutable, so a row found on two pages (a stale copy) is one record.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.passlog.store import PAGE_SIZE
from kiosk.schema import COLUMNS, KINDS

WAL_MAGIC = (0x377F0682, 0x377F0683)       # little- / big-endian checksums
HEADER = b"SQLite format 3\x00"


@dataclass
class Salvage:
    """Records found (by seq) and what was seen on the way."""

    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    pages: int = 0
    leaf_pages: int = 0
    bad_cells: int = 0
    conflicts: int = 0


def read_pages(db: Path, wal: Path | None) -> tuple[int, dict[int, bytes]]:
    """Page size and page images: the file's, with the WAL's committed frames on top."""
    data = db.read_bytes() if db.exists() else b""
    page_size = _page_size(data)
    frames: dict[int, bytes] = {}
    if wal is not None and wal.exists():
        page_size, frames = _wal_frames(wal.read_bytes(), page_size)
    pages = {n + 1: data[n * page_size:(n + 1) * page_size]
             for n in range(len(data) // page_size)}
    pages.update(frames)
    return page_size, pages


def salvage(db: Path, wal: Path | None, kiosk_id: str) -> Salvage:
    """Every records row that can still be read from ``db`` (+ ``wal``)."""
    page_size, pages = read_pages(db, wal)
    out = Salvage(pages=len(pages))
    for pgno, page in sorted(pages.items()):
        start = 100 if pgno == 1 else 0
        if len(page) < start + 8 or page[start] != 0x0D:
            continue
        out.leaf_pages += 1
        for rowid, values in _cells(page, start, page_size, pages, out):
            rec = _as_record(rowid, values, kiosk_id)
            if rec is not None:
                old = out.records.setdefault(rowid, rec)
                if old != rec:
                    out.conflicts += 1
            elif len(values) == 2 and all(isinstance(v, str) for v in values):
                out.meta.setdefault(values[0], values[1])
    return out


def _page_size(data: bytes) -> int:
    if data[:16] == HEADER:
        size = struct.unpack(">H", data[16:18])[0]
        return 65536 if size == 1 else size
    return PAGE_SIZE


def _wal_frames(wal: bytes, page_size: int) -> tuple[int, dict[int, bytes]]:
    if len(wal) < 32:
        return page_size, {}
    magic, _version, size, _ckpt, salt1, salt2, c1, c2 = struct.unpack(">8I", wal[:32])
    if magic not in WAL_MAGIC:
        return page_size, {}
    order = "<" if magic == WAL_MAGIC[0] else ">"
    s = _checksum(wal[:24], 0, 0, order)
    if s != (c1, c2):
        return page_size, {}
    page_size = 65536 if size == 1 else size
    frames: dict[int, bytes] = {}
    pending: dict[int, bytes] = {}
    off = 32
    while off + 24 + page_size <= len(wal):
        pgno, commit, f_salt1, f_salt2, f1, f2 = struct.unpack(">6I", wal[off:off + 24])
        body = wal[off + 24:off + 24 + page_size]
        if (f_salt1, f_salt2) != (salt1, salt2):
            break
        s = _checksum(wal[off:off + 8] + body, s[0], s[1], order)
        if s != (f1, f2):
            break
        pending[pgno] = body
        if commit:
            frames.update(pending)
            pending = {}
        off += 24 + page_size
    return page_size, frames


def _checksum(data: bytes, s0: int, s1: int, order: str) -> tuple[int, int]:
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    v = 0
    for n in range(9):
        b = buf[i + n]
        if n == 8:
            return (v << 8) | b, i + 9
        v = (v << 7) | (b & 0x7F)
        if b < 0x80:
            return v, i + n + 1
    raise ValueError("bad varint")   # pragma: no cover - the loop always returns


def _cells(page: bytes, start: int, page_size: int, pages: dict[int, bytes],
           out: Salvage) -> Iterator[tuple[int, list[Any]]]:
    ncells = struct.unpack(">H", page[start + 3:start + 5])[0]
    usable = page_size
    for k in range(ncells):
        try:
            ptr = struct.unpack(">H", page[start + 8 + 2 * k:start + 10 + 2 * k])[0]
            size, i = _varint(page, ptr)
            rowid, i = _varint(page, i)
            payload = _payload(page, i, size, usable, pages)
            yield rowid, _decode(payload)
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            out.bad_cells += 1


def _payload(page: bytes, i: int, size: int, usable: int, pages: dict[int, bytes]) -> bytes:
    x = usable - 35
    if size <= x:
        return page[i:i + size]
    m = ((usable - 12) * 32 // 255) - 23
    k = m + ((size - m) % (usable - 4))
    local = k if k <= x else m
    data = bytearray(page[i:i + local])
    nxt = struct.unpack(">I", page[i + local:i + local + 4])[0]
    seen: set[int] = set()
    while len(data) < size:
        if nxt in seen or nxt not in pages:
            raise ValueError("broken overflow chain")
        seen.add(nxt)
        ov = pages[nxt]
        nxt = struct.unpack(">I", ov[:4])[0]
        data += ov[4:usable][:size - len(data)]
    return bytes(data)


def _decode(payload: bytes) -> list[Any]:
    hsize, i = _varint(payload, 0)
    types = []
    while i < hsize:
        t, i = _varint(payload, i)
        types.append(t)
    values: list[Any] = []
    p = hsize
    for t in types:
        if t == 0:
            values.append(None)
        elif 1 <= t <= 6:
            n = (1, 2, 3, 4, 6, 8)[t - 1]
            values.append(int.from_bytes(payload[p:p + n], "big", signed=True))
            p += n
        elif t == 7:
            values.append(struct.unpack(">d", payload[p:p + 8])[0])
            p += 8
        elif t in (8, 9):
            values.append(t - 8)
        elif t >= 12:
            n = (t - 12) // 2 if t % 2 == 0 else (t - 13) // 2
            chunk = payload[p:p + n]
            values.append(bytes(chunk) if t % 2 == 0 else chunk.decode("utf-8"))
            p += n
        else:
            raise ValueError("reserved serial type")
        if p > len(payload):
            raise ValueError("record runs past its payload")
    return values


_NUMBERS = {"wall_ts", "clock_synced", "mono_ns", "temp_c", "temp_object_c", "temp_samples",
            "temp_spread_c", "ambient_c", "latency_ms"}


def _as_record(rowid: int, values: list[Any], kiosk_id: str) -> dict[str, Any] | None:
    names = list(COLUMNS)
    if not (len(names) - 8 <= len(values) <= len(names)) or rowid <= 0:
        return None
    rec = dict(zip(names, values + [None] * (len(names) - len(values)), strict=True))
    if rec["seq"] is not None and rec["seq"] != rowid:
        return None
    rec["seq"] = rowid
    if rec["kiosk_id"] != kiosk_id or not isinstance(rec["db_epoch"], str) or rec["kind"] not in KINDS:
        return None
    for name in _NUMBERS:
        if rec.get(name) is not None and not isinstance(rec[name], (int, float)):
            return None
    if rec["wall_ts"] is None or rec["mono_ns"] is None or not isinstance(rec["boot_id"], str):
        return None
    for name, kind in COLUMNS.items():      # REAL columns keep integral values as integers on disk
        if kind is float and isinstance(rec.get(name), int):
            rec[name] = float(rec[name])
    return rec
