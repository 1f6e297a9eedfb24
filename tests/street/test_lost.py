"""Seqs a kiosk can never send (rows a damaged log lost): POST /v1/lost closes their gaps instead of
alarming for ever, marks lost only what the server does not hold, and is idempotent."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from street.office import status_page
from street.server import StreetServer
from street.storage.gaps import Gap, Progress, advance, merge_ranges, settle, subtract
from sync import protocol
from tests.synckit import Signer, batch, rec

EPOCH = str(uuid.uuid4())


def upload(k: Signer, seqs: list[int]) -> dict[str, Any]:
    r = k.post(protocol.RECORDS_PATH, batch(k.kiosk_id, EPOCH, [rec(k.kiosk_id, EPOCH, s) for s in seqs]))
    assert r.status_code == 200, r.text
    return r.json()


def report(k: Signer, ranges: Any, **over: Any) -> Any:
    body = {"kiosk_id": k.kiosk_id, "db_epoch": EPOCH, "ranges": ranges, "reason": "test", **over}
    return k.post(protocol.LOST_PATH, body, gz=False)


# ------------------------------------------------------------------ the bookkeeping, pure

ranges_st = st.lists(st.tuples(st.integers(1, 60), st.integers(0, 12)).map(lambda t: (t[0], t[0] + t[1])),
                     max_size=5)


@given(received=st.lists(st.integers(1, 80), max_size=30), lost=ranges_st)
@settings(max_examples=300, deadline=None)
def test_settling_ranges_is_receiving_every_seq_in_them(received: list[int], lost: list[tuple[int, int]]) -> None:
    p = advance(Progress(0, 0, ()), received, now=1.0)
    expanded = [s for a, b in lost for s in range(a, b + 1)]
    assert settle(p, lost, now=2.0) == advance(p, expanded, now=2.0)


@given(ranges=ranges_st, holes=st.lists(st.integers(1, 80), max_size=20))
@settings(max_examples=200, deadline=None)
def test_subtract_and_merge_are_set_operations(ranges: list[tuple[int, int]], holes: list[int]) -> None:
    seqs = {s for a, b in ranges for s in range(a, b + 1)}
    merged = merge_ranges(ranges)
    assert {s for a, b in merged for s in range(a, b + 1)} == seqs
    assert all(b + 1 < c for (_, b), (c, _) in itertools.pairwise(merged))
    assert {s for a, b in subtract(ranges, holes) for s in range(a, b + 1)} == seqs - set(holes)


def test_a_long_lost_range_is_settled_without_enumerating_it() -> None:
    p = Progress(10, 10, ())
    assert settle(p, [(11, 2**62)], 1.0) == Progress(2**62, 2**62, ())
    assert settle(Progress(5, 20, (Gap(6, 19, 0.0),)), [(8, 9)], 1.0).gaps == (Gap(6, 7, 0.0), Gap(10, 19, 0.0))


# ------------------------------------------------------------------ the endpoint

def test_lost_seqs_close_the_gap_and_raise_one_alarm(street: StreetServer, k1: Signer) -> None:
    upload(k1, [1, 2, 3, 7, 8])
    assert upload(k1, [9])["gaps"] == [[4, 6]]
    r = report(k1, [[4, 6]])
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["acked_through"], answer["gaps"], answer["lost"], answer["newly_lost"]) == (9, [], [[4, 6]], 3)
    again = report(k1, [[4, 6]]).json()                     # a resent report changes nothing
    assert (again["acked_through"], again["newly_lost"]) == (9, 0)
    alarms = street.db.rows("SELECT kind, detail FROM alarms")
    assert [a[0] for a in alarms] == ["lost"] and "3 records lost for good (seq 4..6)" in alarms[0][1]
    assert street.db.lost_count("k1") == 3
    status = status_page.build(street.db, street.clock.wall(), dt.UTC, 1800.0)
    [cp] = status.checkpoints
    assert cp.gaps == [] and "3 records lost to a damaged log" in cp.alarms(street.clock.wall())


def test_seqs_the_server_holds_are_never_marked_lost(street: StreetServer, k1: Signer) -> None:
    upload(k1, [1, 2, 5])
    answer = report(k1, [[1, 6]]).json()                    # 1, 2 and 5 arrived: only 3, 4 and 6 are lost
    assert answer["lost"] == [[3, 4], [6, 6]] and answer["newly_lost"] == 3 and answer["acked_through"] == 6
    assert upload(k1, [3])["duplicates"] == 0                # found again later: stored all the same
    assert street.db.rows("SELECT COUNT(*) FROM records")[0][0] == 4


def test_a_lost_range_beyond_the_highest_seq_moves_the_mark(street: StreetServer, k1: Signer) -> None:
    upload(k1, [1, 2])
    answer = report(k1, [[5, 6]]).json()
    assert (answer["acked_through"], answer["max_seq"], answer["gaps"]) == (2, 6, [[3, 4]])
    assert upload(k1, [3, 4])["acked_through"] == 6


@pytest.mark.parametrize("body, status", [
    ({"ranges": []}, 400),
    ({"ranges": [[0, 3]]}, 400),
    ({"ranges": [[5, 4]]}, 400),
    ({"ranges": [[1, 2**64]]}, 400),
    ({"ranges": [[1, True]]}, 400),
    ({"ranges": [[1]]}, 400),
    ({"ranges": "1-3"}, 400),
    ({"ranges": [[1, 2]] * (protocol.MAX_LOST_RANGES + 1)}, 400),
    ({"reason": ""}, 400),
    ({"db_epoch": "bad epoch!"}, 400),
    ({"extra": 1}, 400),
    ({"kiosk_id": "k2"}, 403),
], ids=["empty", "zero", "reversed", "huge", "bool", "single", "text", "too-many", "no-reason", "epoch",
        "extra", "other-kiosk"])
def test_malformed_reports_are_4xx_and_change_nothing(street: StreetServer, k1: Signer, body: dict[str, Any],
                                                      status: int) -> None:
    upload(k1, [1, 3])
    full = {"kiosk_id": "k1", "db_epoch": EPOCH, "ranges": [[2, 2]], "reason": "test", **body}
    r = k1.post(protocol.LOST_PATH, full, gz=False)
    assert r.status_code == status, r.text
    assert r.json()["error"]
    assert street.db.lost_count("k1") == 0
    assert street.db.rows("SELECT COUNT(*) FROM gaps")[0][0] == 1


def test_unsigned_report_is_401(street: StreetServer, k1: Signer) -> None:
    r = requests.post(street.url + protocol.LOST_PATH, json={"kiosk_id": "k1"}, timeout=5)
    assert r.status_code == 401
