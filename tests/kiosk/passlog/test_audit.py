"""T-AUD-1: override and shift records are append-only and hash-chained; `kiosk audit verify`
names the first bad record of an offline copy; a retention purge of an old prefix, done through
the anchor, keeps the chain verifiable."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from kiosk.core.records import Reading, Record
from kiosk.core.verdict import CodeVerdict
from kiosk.passlog import audit
from kiosk.passlog.reader import connect_readonly
from kiosk.passlog.store import PassLog

VOL = "5eed" * 8


def volunteer_ref(i: int) -> str:
    return f"{i:02d}" * 16


def fill(path: Path, clock: FakeClock) -> dict[str, int]:
    """A morning at the gate: normal passes between shifts and overrides. Returns seq by label."""
    seqs: dict[str, int] = {}
    with PassLog(path, kiosk_id="k1", gate="main", direction="in", clock=clock) as log:
        def add(label: str, rec: Record) -> None:
            clock.advance(7.5)
            seqs[label] = log.append(rec)

        v = CodeVerdict(reason="ok", kind="dynamic", colour="green", token_hash="t" * 32, holder_ref="h" * 32)
        r = Reading(value_c=36.5, samples=5, spread_c=0.1, ambient_c=21, band="normal", object_c=36)
        add("pass1", Record(kind="pass", t=clock.monotonic(), decision="pass", cause="ok", verdict=v, reading=r))
        add("shift", Record(kind="shift_start", t=clock.monotonic(), volunteer_ref=volunteer_ref(1)))
        add("pass2", Record(kind="pass", t=clock.monotonic(), decision="pass", cause="ok", verdict=v, reading=r))
        add("manual1", Record(kind="pass", t=clock.monotonic(), decision="manual_pass", cause="no_code",
                              volunteer_ref=volunteer_ref(1)))
        add("deny", Record(kind="pass", t=clock.monotonic(), decision="deny", cause="code", verdict=v))
        add("manual2", Record(kind="pass", t=clock.monotonic(), decision="manual_deny", cause="yellow",
                              verdict=v, volunteer_ref=volunteer_ref(1)))
        add("emergency", Record(kind="pass", t=clock.monotonic(), decision="emergency_open", cause="emergency",
                                volunteer_ref=volunteer_ref(1)))
        add("hold_end", Record(kind="hold_end", t=clock.monotonic(), cause="timeout"))
        add("shift_end", Record(kind="shift_end", t=clock.monotonic(), volunteer_ref=volunteer_ref(1)))
    return seqs


@pytest.fixture
def db(tmp_path: Path, clock: FakeClock) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "passes.db"
    return path, fill(path, clock)


def verify(path: Path) -> audit.Report:
    conn = connect_readonly(path)
    try:
        return audit.verify(conn)
    finally:
        conn.close()


def kiosk_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=60)


def test_a_clean_log_verifies(db: tuple[Path, dict[str, int]]) -> None:
    path, seqs = db
    report = verify(path)
    assert report.ok and report.checked == 6
    assert (report.first_seq, report.last_seq) == (seqs["shift"], seqs["shift_end"])
    out = kiosk_cli("audit", "verify", "--db", str(path))
    assert out.returncode == 0, out.stderr
    assert "6 override and shift records" in out.stdout


def test_only_overrides_and_shifts_are_chained(db: tuple[Path, dict[str, int]]) -> None:
    path, seqs = db
    conn = connect_readonly(path)
    chained = {r[0] for r in conn.execute("SELECT seq FROM records WHERE chain IS NOT NULL")}
    conn.close()
    assert chained == {seqs[k] for k in ("shift", "manual1", "manual2", "emergency", "hold_end", "shift_end")}


@pytest.mark.parametrize("sql", [
    "UPDATE records SET volunteer_ref = NULL WHERE decision = 'manual_pass'",
    "UPDATE records SET decision = 'pass' WHERE decision = 'manual_deny'",
    "UPDATE records SET decision = 'manual_pass' WHERE decision = 'deny'",
    "DELETE FROM records WHERE kind = 'shift_start'",
    "DELETE FROM records",
    "DELETE FROM meta WHERE key = 'audit_anchor'",
    "UPDATE meta SET value = '1:' || substr(value, 3) WHERE key = 'audit_anchor'",
])
def test_changes_to_audited_records_abort(db: tuple[Path, dict[str, int]], sql: str) -> None:
    path, _ = db
    conn = sqlite3.connect(path)
    before = conn.execute("SELECT * FROM records ORDER BY seq").fetchall()
    with pytest.raises(sqlite3.IntegrityError, match="audit"):
        conn.execute(sql)
    conn.rollback()
    assert conn.execute("SELECT * FROM records ORDER BY seq").fetchall() == before
    conn.close()


def test_ordinary_passes_stay_outside_the_trail(db: tuple[Path, dict[str, int]]) -> None:
    path, seqs = db
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM records WHERE seq = ?", (seqs["pass2"],))    # not audited: allowed
    conn.commit()
    conn.close()
    assert verify(path).ok


def flip_byte_of(path: Path, needle: bytes) -> None:
    data = bytearray(path.read_bytes())
    at = data.find(needle)
    assert at >= 0 and data.find(needle, at + 1) < 0, "needle must occur exactly once"
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_one_flipped_byte_in_an_offline_copy_names_the_first_bad_record(
        db: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    path, seqs = db
    conn = sqlite3.connect(path)
    conn.execute("UPDATE records SET detail = 'desk-7' WHERE seq = ?", (seqs["deny"],))   # unaudited row
    conn.commit()
    conn.close()
    copy = tmp_path / "copy.db"
    shutil.copyfile(path, copy)
    # the manual deny's cause 'yellow' is the only such text in the file: flip one bit of it
    flip_byte_of(copy, b"yellow")
    report = verify(copy)
    assert not report.ok and report.problem is not None
    assert report.problem.seq == seqs["manual2"]
    out = kiosk_cli("audit", "verify", "--db", str(copy))
    assert out.returncode == 1
    assert f"seq {seqs['manual2']} (manual_deny" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    js = kiosk_cli("audit", "verify", "--db", str(copy), "--json")
    assert json.loads(js.stdout)["bad_seq"] == seqs["manual2"]


def test_a_flipped_chain_value_is_caught_at_that_record(db: tuple[Path, dict[str, int]]) -> None:
    path, seqs = db
    conn = connect_readonly(path)
    chain = conn.execute("SELECT chain FROM records WHERE seq = ?", (seqs["emergency"],)).fetchone()[0]
    conn.close()
    flip_byte_of(path, chain.encode())
    assert verify(path).problem.seq == seqs["emergency"]  # type: ignore[union-attr]


def test_removing_an_audited_record_offline_names_the_next_one(db: tuple[Path, dict[str, int]]) -> None:
    path, seqs = db
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_no_delete")                   # someone with the file, not SQL rules
    conn.execute("DELETE FROM records WHERE seq = ?", (seqs["manual1"],))
    conn.commit()
    conn.close()
    report = verify(path)
    assert report.problem is not None and report.problem.seq == seqs["manual2"]


def test_dropped_triggers_alone_are_reported(db: tuple[Path, dict[str, int]]) -> None:
    path, _ = db
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.commit()
    conn.close()
    report = verify(path)
    assert report.problem is not None and "audit_no_update" in report.problem.message


def test_a_purge_of_an_old_prefix_through_the_anchor_keeps_the_chain(
        db: tuple[Path, dict[str, int]], clock: FakeClock) -> None:
    path, seqs = db
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    through = seqs["deny"]                                          # acked and old enough
    assert audit.advance_anchor(conn, through) == seqs["manual1"]
    conn.execute("DELETE FROM records WHERE seq <= ?", (through,))
    conn.execute("COMMIT")
    with pytest.raises(sqlite3.IntegrityError):                     # the rest stays protected
        conn.execute("DELETE FROM records WHERE seq = ?", (seqs["manual2"],))
    conn.close()
    report = verify(path)
    assert report.ok and report.anchor_seq == seqs["manual1"] and report.first_seq == seqs["manual2"]
    # the writer links new audited records onto the surviving chain
    with PassLog(path, kiosk_id="k1", gate="main", direction="in", clock=clock) as log:
        log.append(Record(kind="shift_start", t=clock.monotonic(), volunteer_ref=VOL))
    assert verify(path).ok and verify(path).checked == 5


def test_purging_past_the_anchor_without_advancing_it_aborts(db: tuple[Path, dict[str, int]]) -> None:
    path, seqs = db
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="advance the audit anchor"):
        conn.execute("DELETE FROM records WHERE seq <= ?", (seqs["deny"],))
    conn.close()


def test_chain_links_are_the_documented_formula(db: tuple[Path, dict[str, int]]) -> None:
    """The street server recomputes links from the JSON it receives: pin the formula down."""
    import hashlib
    path, _seqs = db
    conn = connect_readonly(path)
    rows = [dict(r) for r in conn.execute("SELECT * FROM records WHERE chain IS NOT NULL ORDER BY seq")]
    epoch = conn.execute("SELECT value FROM meta WHERE key = 'db_epoch'").fetchone()[0]
    conn.close()
    prev = hashlib.sha256(b"kiosk-audit-genesis\n" + epoch.encode()).hexdigest()
    for row in rows:
        received = json.loads(json.dumps(row))                     # as the server gets it
        body = {k: v for k, v in received.items() if k != "chain" and v is not None}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert row["chain"] == hashlib.sha256(bytes.fromhex(prev) + text.encode()).hexdigest()
        prev = row["chain"]


def test_verify_of_a_missing_or_garbage_file_is_one_line(tmp_path: Path) -> None:
    out = kiosk_cli("audit", "verify", "--db", str(tmp_path / "none.db"))
    assert out.returncode == 1 and "does not exist" in out.stderr and "Traceback" not in out.stderr
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    out = kiosk_cli("audit", "verify", "--db", str(junk))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_the_retention_purge_moves_the_anchor_and_deletes_old_overrides(
        db: tuple[Path, dict[str, int]], clock: FakeClock) -> None:
    path, seqs = db
    with PassLog(path, kiosk_id="k1", gate="main", direction="in", clock=clock) as log:
        conn = connect_readonly(path)
        cutoff = conn.execute("SELECT wall_ts FROM records WHERE seq = ?", (seqs["manual2"],)).fetchone()[0]
        conn.close()
        deleted = log.purge(before_wall=cutoff, acked_through={log.db_epoch: seqs["emergency"]})
        assert deleted == seqs["manual2"] - 1                 # everything older than the manual deny
        log.append(Record(kind="shift_start", t=clock.monotonic(), volunteer_ref=VOL))
    report = verify(path)
    assert report.ok and report.anchor_seq == seqs["manual1"] and report.first_seq == seqs["manual2"]
