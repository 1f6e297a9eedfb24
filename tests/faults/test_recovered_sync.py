"""T-DB-7, the server side: what a damaged log still held reaches the street server exactly once.

A log is partly uploaded, written on, crashed (newest rows only in the WAL) and damaged on a page
that was already uploaded and on one that never was. The kiosk starts: quarantine, a new
db_epoch, salvage into ``recovered/<old epoch>.db``. The real sync client then uploads the new
log and drains the recovered one to the real street server, and tells it which seqs are gone:
the server holds every record once (original content), closes the lost seqs' gap instead of
alarming for ever, and marks lost only those it never received.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.passlog.reader import connect_readonly, iter_records
from kiosk.passlog.salvage import Salvage, _cells, read_pages
from kiosk.passlog.store import PAGE_SIZE
from kiosk.service.assembly import assembled
from kiosk.statefiles import recovered_root
from street.server import StreetServer
from sync.client import SyncClient
from tests.faults.support import check_log, decide_pass
from tests.synckit import log_digests, server_digests


@pytest.fixture
def street(tmp_path: Path, clock: FakeClock) -> Iterator[StreetServer]:
    with StreetServer(tmp_path / "street.db", clock=clock) as server:    # one clock: no skew to correct
        yield server


@pytest.fixture
def synced_cfg(cfg: Config, street: StreetServer, tmp_path: Path) -> Config:
    secret = tmp_path / "kiosk.secret"
    secret.write_text(street.db.add_kiosk(cfg.kiosk.id) + "\n")
    os.chmod(secret, 0o600)
    return cfg.replace(sync=dataclasses.replace(cfg.sync, server_url=street.url, secret_file=secret))


def sync_once(cfg: Config, clock: FakeClock) -> Any:
    with SyncClient(cfg, clock) as client:
        report = client.run_once(deadline_s=30)
    assert report.ok, report.error
    return report


def leaf_pages(db: Path) -> dict[int, list[int]]:
    """page number → seqs of the records on that table-leaf page (as the salvage reads them)."""
    page_size, pages = read_pages(db, None)
    out: dict[int, list[int]] = {}
    for pgno, page in pages.items():
        start = 100 if pgno == 1 else 0
        if len(page) > start and page[start] == 0x0D:
            seqs = [rowid for rowid, values in _cells(page, start, page_size, pages, Salvage()) if len(values) > 8]
            if seqs:
                out[pgno] = seqs
    return out


def damage(db: Path, page: int) -> None:
    data = bytearray(db.read_bytes())
    data[(page - 1) * PAGE_SIZE:page * PAGE_SIZE] = b"\x5a" * PAGE_SIZE
    db.write_bytes(bytes(data))


def test_recovered_rows_reach_the_server_once_and_lost_seqs_close_their_gap(
        synced_cfg: Config, clock: FakeClock, street: StreetServer) -> None:
    cfg = synced_cfg
    with assembled(cfg, clock) as k:
        for i in range(240):
            decide_pass(k, f"up{i:04d}")
            clock.advance(1.0)
        old_epoch = k.store.db_epoch
        sync_once(cfg, clock)                                       # 1..240 on the server
        for i in range(240):
            decide_pass(k, f"new{i:04d}")
            clock.advance(1.0)
        k.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for i in range(60):                                         # the newest rows only in the WAL
            decide_pass(k, f"wal{i:04d}")
            clock.advance(1.0)
        original = {r["seq"]: r for r in iter_records(connect_readonly(k.store.path))}
        image = {s: Path(f"{cfg.db_path}{s}").read_bytes() for s in ("", "-wal", "-shm")}
    for s, data in image.items():                                   # the files as a crash leaves them
        Path(f"{cfg.db_path}{s}").write_bytes(data)

    pages = leaf_pages(cfg.db_path)
    uploaded_page = next(p for p, seqs in sorted(pages.items()) if 60 < min(seqs) and max(seqs) < 200)
    fresh_page = next(p for p, seqs in sorted(pages.items()) if 300 < min(seqs) and max(seqs) < 460)
    gone_uploaded, gone_fresh = set(pages[uploaded_page]), set(pages[fresh_page])
    damage(cfg.db_path, uploaded_page)
    damage(cfg.db_path, fresh_page)

    with assembled(cfg, clock) as k:                                # quarantine, new epoch, salvage
        new_epoch = k.store.db_epoch
        assert new_epoch != old_epoch
        for _qdir, proc in k.recoveries:
            assert proc.wait(timeout=120) == 0
        for i in range(25):
            decide_pass(k, f"after{i:04d}")
            clock.advance(1.0)
    recovered = recovered_root(cfg.db_path) / f"{old_epoch}.db"
    got = {r["seq"] for r in iter_records(connect_readonly(recovered))}
    assert got == set(original) - gone_uploaded - gone_fresh        # exactly the damaged pages are missing

    report = sync_once(cfg, clock)
    [drained] = report.recovered
    assert drained["db_epoch"] == old_epoch and drained["acked_through"] == max(got)

    held = server_digests(street, cfg.kiosk.id)                     # asserts no key is held twice
    assert street.db.duplicate_keys(cfg.kiosk.id) == 0
    mine = log_digests(cfg.db_path)
    old = {key: d for key, d in log_digests(recovered).items()}
    assert {k: held[k] for k in mine} == mine                       # the new epoch, exactly
    assert {k: held[k] for k in old} == old                         # every recovered row, as it was
    server_old = {seq for (epoch, seq) in held if epoch == old_epoch}
    assert server_old == set(original) - gone_fresh                 # rows lost after upload are still there
    lost = street.db.rows("SELECT first, last FROM lost WHERE db_epoch = ?", (old_epoch,))
    assert {s for a, b in lost for s in range(a, b + 1)} == gone_fresh   # only what never arrived is lost
    streams = {r["db_epoch"]: r for r in street.db.stream_rows(cfg.kiosk.id)}
    assert streams[old_epoch]["acked_through"] == max(original)    # the lost gap is closed, not alarming
    assert streams[new_epoch]["acked_through"] == check_log(cfg.db_path).seqs[-1]
    assert street.db.rows("SELECT COUNT(*) FROM gaps")[0][0] == 0

    state = json.loads((cfg.kiosk.state_dir / "sync-state.json").read_text())
    assert state["acked_through"][old_epoch] == max(got)           # what the purge reads
    assert state["acked_through"][new_epoch] == check_log(cfg.db_path).seqs[-1]

    again = sync_once(cfg, clock)                                   # nothing new, nothing reported twice
    assert again.sent == 0 and again.recovered[0]["sent"] == 0
    kinds = [r[0] for r in street.db.rows("SELECT kind FROM alarms")]
    assert kinds == ["lost"]
