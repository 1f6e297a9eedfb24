"""Build ``release1.db``: a street database as the first release (schema 1) leaves it.

The migration test (tests/street/test_migrations.py) upgrades this file and checks that nothing
is lost. It must be made by *that* release's code, so run this script against its tree, not
the current one::

    git worktree add /tmp/release1 4a04dc7
    PYTHONPATH=/tmp/release1 .venv/bin/python tests/street/data/make_release1_db.py tests/street/data/release1.db

Everything goes through the release's own ``StreetDB`` on a fake clock: three kiosks (one
revoked), two epochs, records written before the clock was synced (placed by an anchor), a gap,
seqs reported lost, a quarantined record, a conflict alarm, heartbeats, two bundles, nonces.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kiosk.clock import FakeClock
from kiosk.schema import COLUMNS
from street.errors import Conflict
from street.storage.db import StreetDB

T0 = 1_780_000_000.0


def rec(kiosk: str, epoch: str, seq: int, **over: object) -> dict[str, object]:
    r: dict[str, object] = {c: None for c in COLUMNS}
    r.update(seq=seq, kiosk_id=kiosk, db_epoch=epoch, kind="pass", wall_ts=T0 + 30 * seq, clock_synced=1,
             boot_id="boot-1", mono_ns=10**12 + seq * 30 * 10**9, gate="north", direction="in",
             decision="pass", cause="ok", temp_c=36.4 + (seq % 5) / 10, latency_ms=11.5)
    if seq % 17 == 0:
        r.update(decision="deny", cause="fever", temp_c=38.3)
    if seq % 23 == 0:
        r.update(decision="manual_pass", cause="no_code", volunteer_ref="v" * 32)
    r.update(over)
    return r


def batch(kiosk: str, epoch: str, records: list[dict[str, object]], boot: str = "boot-1") -> dict[str, object]:
    return {"kiosk_id": kiosk, "db_epoch": epoch, "boot_id": boot, "sent_wall": T0 + 9000,
            "sent_mono_ns": 10**12 + 9000 * 10**9, "clock_synced": 1, "records": records}


def main(out: Path) -> None:
    clock = FakeClock(wall=T0)
    db = StreetDB(out, clock)
    for kid in ("cp-001", "cp-002", "cp-003"):
        db.add_kiosk(kid)
    db.revoke_kiosk("cp-003")
    n = 0

    def nonce() -> str:
        nonlocal n
        n += 1
        return f"release1-nonce-{n:06d}"

    # cp-001 epoch A: 1..120 in batches of 40, with seqs 50..52 held back (a gap) and 1..5 unsynced
    records = [rec("cp-001", "ep-A", s) for s in range(1, 121)]
    for r in records[:5]:
        r.update(clock_synced=0, wall_ts=100.0 + int(r["seq"]))      # type: ignore[call-overload]
    for part in (records[0:40], records[40:49] + records[52:80], records[80:120]):
        clock.advance(60)
        db.ingest("cp-001", batch("cp-001", "ep-A", part), nonce())
    # a poison record (kind unknown) is quarantined, and a conflicting resend raises an alarm
    clock.advance(60)
    db.ingest("cp-001", batch("cp-001", "ep-A", [rec("cp-001", "ep-A", 121, kind="mystery")]), nonce())
    try:
        db.ingest("cp-001", batch("cp-001", "ep-A", [rec("cp-001", "ep-A", 10, temp_c=41.0)]), nonce())
    except Conflict as exc:
        db.record_conflict("cp-001", exc)
    # cp-001 epoch B (a new log after a damaged one): 1..30, and 31..33 reported lost for good
    clock.advance(60)
    db.ingest("cp-001", batch("cp-001", "ep-B", [rec("cp-001", "ep-B", s, boot_id="boot-2") for s in range(1, 31)],
                              boot="boot-2"), nonce())
    db.report_lost("cp-001", {"db_epoch": "ep-B", "ranges": [[31, 33]], "reason": "page 7 unreadable"}, nonce())
    db.ingest("cp-001", batch("cp-001", "ep-B", [rec("cp-001", "ep-B", 34, boot_id="boot-2")], boot="boot-2"),
              nonce())
    # cp-002: 1..80 and a heartbeat
    for lo in (1, 41):
        clock.advance(60)
        db.ingest("cp-002", batch("cp-002", "ep-C", [rec("cp-002", "ep-C", s, gate="south")
                                                     for s in range(lo, lo + 40)]), nonce())
    for kid in ("cp-001", "cp-002"):
        db.heartbeat(kid, {"kiosk_id": kid, "sent_wall": clock.wall(), "backlog": 0, "gate": "north",
                           "on_duty": {"volunteer_ref": "v" * 32}, "faults": [], "clock_synced": True,
                           "software_version": "0.1.0", "db_epoch": "ep-A" if kid == "cp-001" else "ep-C"},
                     nonce())
    db.publish_bundle(b"\xa1bundle-1")
    clock.advance(3600)
    db.publish_bundle(b"\xa1bundle-2")
    db.close()
    import sqlite3
    conn = sqlite3.connect(out)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("VACUUM")
    conn.close()


if __name__ == "__main__":
    target = Path(sys.argv[1])
    if target.exists():
        sys.exit(f"{target} exists")
    main(target)
