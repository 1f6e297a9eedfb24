"""Simulated power cuts (T-DB-2), CI-sized: a few cuts per mode, each a real SIGKILL of a
child writing through the shipped pass-log code, files rebuilt as a power cut leaves them.
tests/faults/run_full.sh runs 200 cuts per mode."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.faults import powercut

CUTS = int(os.environ.get("KIOSK_FAULTS_CUTS", "4"))


def test_shipped_settings_lose_no_acknowledged_pass_when_unsynced_writes_are_dropped(tmp_path: Path) -> None:
    result = powercut.run(tmp_path, cuts=CUTS, mode="drop", seed=11)
    s = result.summary()
    assert s["integrity_failures"] == 0 and s["all_prefix"]
    assert s["total_lost"] == 0, [vars(c) for c in result.cuts]
    assert result.acked > 0


def test_shipped_settings_survive_a_random_torn_subset_of_unsynced_writes(tmp_path: Path) -> None:
    result = powercut.run(tmp_path, cuts=CUTS, mode="subset", seed=12)
    s = result.summary()
    assert s["integrity_failures"] == 0 and s["all_prefix"] and s["total_lost"] == 0


def test_control_synchronous_normal_loses_acknowledged_passes(tmp_path: Path) -> None:
    """The harness can see loss: WAL+NORMAL does not sync the WAL at commit."""
    result = powercut.run(tmp_path, cuts=3, mode="drop", synchronous="normal", seed=13)
    s = result.summary()
    assert s["cuts_with_loss"] >= 1 and s["max_lost"] > 0
    assert s["integrity_failures"] == 0 and s["all_prefix"]   # NORMAL stays consistent, only not durable


def test_restore_drops_exactly_the_unsynced_writes(tmp_path: Path) -> None:
    """The rebuild itself: synced image + none (drop) or some (subset) of the logged writes;
    a log entry cut short by the kill was never written and is ignored."""
    db = tmp_path / "passes.db"
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    db.write_bytes(b"live contents that the cut must discard")
    (shadow / "passes.db.synced").write_bytes(b"A" * 1024)
    entry = powercut._OP.pack(b"w", 0, 1024) + b"B" * 1024
    (shadow / "passes.db.unsynced").write_bytes(entry + entry[:10])
    (tmp_path / "passes.db-shm").write_bytes(b"shm")
    assert powercut.restore(db, shadow, "drop", random.Random(1)) == 1
    assert db.read_bytes() == b"A" * 1024 and not (tmp_path / "passes.db-shm").exists()
    powercut.restore(db, shadow, "subset", random.Random(3))
    got = db.read_bytes()
    assert len(got) == 1024 and set(got) <= {ord("A"), ord("B")}
    assert {got[i:i + 512] for i in (0, 512)} <= {b"A" * 512, b"B" * 512}    # whole sectors


@pytest.mark.parametrize("synchronous", ["shipped", "normal"])
def test_the_child_really_runs_the_shipped_settings(tmp_path: Path, synchronous: str) -> None:
    """Guard against a harness that silently tests something else: the child's connection
    reports the shipped pragmas (or NORMAL only in the control)."""
    import apsw

    from kiosk.passlog import store
    conn = apsw.Connection(str(tmp_path / "x.db"))
    store.apply_writer_pragmas(conn, 1000)
    if synchronous == "normal":
        conn.execute("PRAGMA synchronous = NORMAL")
    got = {p: conn.execute(f"PRAGMA {p}").fetchall()[0][0]
           for p in ("journal_mode", "synchronous", "wal_autocheckpoint", "secure_delete")}
    assert got == {"journal_mode": "wal", "synchronous": 2 if synchronous == "shipped" else 1,
                   "wal_autocheckpoint": 1000, "secure_delete": 1}
