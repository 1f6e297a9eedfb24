"""Issue 14, attacks 3, 4 and 7 against a real `street-server` process: one kiosk's key must not
break a page for the street, a bad field is a 4xx naming it (never a 5xx), and unsigned callers
learn nothing about which kiosks exist."""

from __future__ import annotations

import time
from pathlib import Path

from sync import protocol
from tests.security.attack import Tally, site
from tests.synckit import batch, rec


def test_one_kiosks_key_cannot_break_the_street_s_pages(tmp_path: Path) -> None:
    tally = Tally()
    with site(tmp_path) as s:
        k1, k2 = s.kiosks["k1"], s.kiosks["k2"]
        assert k2.post(protocol.RECORDS_PATH, batch("k2", "e1", [rec("k2", "e1", 1)])).status_code == 200
        lost = {"kiosk_id": "k1", "db_epoch": "e1", "ranges": [[1, 2**62 + 1]], "reason": "x"}
        for _ in range(2):                                                       # attack 3: the overflowing sum
            r = tally.count(k1.post(protocol.LOST_PATH, lost, gz=False))
            assert r.status_code == 400 and "ranges[0][1]" in r.json()["error"]
        for epoch in ("e1", "e2", "e3"):                                         # the largest allowed, many times
            big = {**lost, "db_epoch": epoch, "ranges": [[1, 2**48]]}
            assert tally.count(k1.post(protocol.LOST_PATH, big, gz=False)).status_code == 200
        hb = {"kiosk_id": "k1", "sent_wall": time.time(), "last_error": "x" * 70_000}
        r = tally.count(k1.post(protocol.HEARTBEAT_PATH, hb))                    # attack 3: 70 kB of last_error
        assert r.status_code == 413 and r.json()["error"] == "body inflates beyond 64 KiB"
        hb["last_error"] = "x" * 5000
        r = tally.count(k1.post(protocol.HEARTBEAT_PATH, hb))
        assert r.status_code == 400 and "last_error" in r.json()["error"]
        hb = {"kiosk_id": "k1", "sent_wall": time.time(), "kiosk_status": {"pad": "x" * 20_000}}
        r = tally.count(k1.post(protocol.HEARTBEAT_PATH, hb))
        assert r.status_code == 413 and "heartbeat is" in r.json()["error"]
        body = protocol.encode_json(batch("k1", "e9", [rec("k1", "e9", 1)])).replace(b'"temp_c":36.6',
                                                                                    b'"temp_c":1e400')
        r = tally.count(k1.post(protocol.RECORDS_PATH, raw=body, gz=False))      # attack 4: infinity
        assert r.status_code == 400 and r.json()["error"].startswith("records[0].temp_c = 1e400")
        for path in ("/", "/status.csv"):
            assert s.page(path).status_code == 200, path
        assert "k2" in s.page("/status.csv").text
    assert tally.server_errors == 0 and tally.tried == 9 and tally.refused == 6


def test_scattered_seqs_are_refused_before_the_gap_list_grows(tmp_path: Path) -> None:
    """Attack 7b: one kiosk sending odd seqs grew its gap list until a batch cost 1.8 s."""
    tally = Tally()
    with site(tmp_path, ("k1",)) as s:
        k1 = s.kiosks["k1"]
        seq, answers = 1, []
        for _ in range(3):
            recs = [rec("k1", "e1", seq + 2 * i) for i in range(200)]
            seq += 400
            answers.append(tally.count(k1.post(protocol.RECORDS_PATH, batch("k1", "e1", recs))))
        assert [a.status_code for a in answers] == [200, 422, 422]
        assert "gaps" in answers[1].json()["error"]
        assert len(answers[0].json()["gaps"]) == 199
        # an honest kiosk filling its gaps is never refused
        fill = [rec("k1", "e1", 2 * i) for i in range(1, 200)]
        assert tally.count(k1.post(protocol.RECORDS_PATH, batch("k1", "e1", fill))).json()["gaps"] == []
    assert tally.server_errors == 0


def test_unsigned_callers_cannot_tell_unknown_revoked_and_live_kiosks_apart(tmp_path: Path) -> None:
    """Attack 7a: the 401 for a wrong signature is the same whatever the kiosk id."""
    with site(tmp_path, ("live", "gone")) as s:
        assert s.kiosks["gone"].post(protocol.HEARTBEAT_PATH, {"kiosk_id": "gone", "sent_wall": time.time()}
                                     ).status_code == 200
        from tests.street.procs import street_cli
        assert street_cli("kiosk", "revoke", "gone", "--db", str(s.db)).returncode == 0
        answers = set()
        for kid in ("live", "gone", "nobody"):
            r = s.kiosks["live"].post(protocol.HEARTBEAT_PATH, {"kiosk_id": kid, "sent_wall": time.time()},
                                      kiosk_id=kid, secret=bytes(32))
            answers.add((r.status_code, r.text, "X-Answer-Signature" in r.headers))
        assert len(answers) == 1 and next(iter(answers))[0] == 401
