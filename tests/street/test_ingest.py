"""The street server over real HTTP on 127.0.0.1: auth, ingest, dedup, conflicts, quarantine, gaps, bad input."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.clock import FakeClock
from street.server import StreetServer
from sync import protocol
from tests.synckit import Signer, batch, rec

EPOCH = str(uuid.uuid4())


def count(street: StreetServer, table: str = "records") -> int:
    return street.db.rows(f"SELECT COUNT(*) FROM {table}")[0][0]


def upload(k: Signer, seqs: list[int], **over: Any) -> requests.Response:
    return k.post(protocol.RECORDS_PATH, batch(k.kiosk_id, EPOCH, [rec(k.kiosk_id, EPOCH, s, **over) for s in seqs]))


# ------------------------------------------------------------------ authentication (T-SEC-1, T-SEC-2)

def test_unsigned_request_is_401_and_stores_nothing(street: StreetServer, k1: Signer) -> None:
    body = gzip.compress(json.dumps(batch("k1", EPOCH, [rec("k1", EPOCH, 1)])).encode())
    r = requests.post(street.url + protocol.RECORDS_PATH, data=body, headers={"Content-Encoding": "gzip"}, timeout=5)
    assert r.status_code == 401 and "missing X-Kiosk-Id" in r.json()["error"]
    assert count(street) == 0


def test_wrong_secret_unknown_kiosk_and_tampered_body_are_401(street: StreetServer, k1: Signer) -> None:
    b = batch("k1", EPOCH, [rec("k1", EPOCH, 1)])
    assert k1.post(protocol.RECORDS_PATH, b, secret=bytes(32)).json()["code"] == "bad_signature"
    r = Signer(street.url, "k9", protocol.new_secret()).post(protocol.RECORDS_PATH, b)
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"     # the same as a bad signature
    body = gzip.compress(json.dumps(b).encode())
    h = k1.headers("POST", protocol.RECORDS_PATH, body)
    h["Content-Encoding"] = "gzip"
    tampered = gzip.compress(json.dumps(batch("k1", EPOCH, [rec("k1", EPOCH, 1, temp_c=35.0)])).encode())
    r = requests.post(street.url + protocol.RECORDS_PATH, data=tampered, headers=h, timeout=5)
    assert r.status_code == 401 and r.json()["code"] == "bad_digest"
    del h[protocol.H_DIGEST]
    r = requests.post(street.url + protocol.RECORDS_PATH, data=tampered, headers=h, timeout=5)
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    assert count(street) == 0


def test_another_kiosks_id_in_the_body_is_403(street: StreetServer, k1: Signer) -> None:
    street.db.add_kiosk("k2")
    r = k1.post(protocol.RECORDS_PATH, batch("k2", EPOCH, [rec("k2", EPOCH, 1)]))
    assert r.status_code == 403 and r.json()["code"] == "wrong_kiosk"
    r = k1.post(protocol.RECORDS_PATH, batch("k1", EPOCH, [rec("k1", EPOCH, 1), rec("k2", EPOCH, 2)]))
    assert r.status_code == 403
    r = k1.post(protocol.HEARTBEAT_PATH, {"kiosk_id": "k2", "sent_wall": time.time()})
    assert r.status_code == 403
    assert count(street) == 0 and count(street, "heartbeats") == 0


def test_replayed_request_is_401_even_after_a_server_restart(db_target: str | Path) -> None:
    with StreetServer(db_target) as street:
        k = Signer(street.url, "k1", street.db.add_kiosk("k1"))
        body = gzip.compress(json.dumps(batch("k1", EPOCH, [rec("k1", EPOCH, 1)])).encode())
        h = {**k.headers("POST", protocol.RECORDS_PATH, body), "Content-Encoding": "gzip"}
        assert requests.post(street.url + protocol.RECORDS_PATH, data=body, headers=h, timeout=5).status_code == 200
        again = requests.post(street.url + protocol.RECORDS_PATH, data=body, headers=h, timeout=5)
        assert again.status_code == 401 and again.json()["code"] == "replay"
    with StreetServer(db_target) as street:       # fresh memory, same database
        again = requests.post(street.url + protocol.RECORDS_PATH, data=body, headers=h, timeout=5)
        assert again.status_code == 401 and again.json()["code"] == "replay"


def test_a_signed_read_replayed_within_the_window_is_401(street: StreetServer, k1: Signer) -> None:
    """Reads leave no row in the database: only the server's in-memory nonce cache refuses them again."""
    h = k1.headers("GET", protocol.BUNDLE_PATH, b"")
    first = requests.get(street.url + protocol.BUNDLE_PATH, headers=h, timeout=5)
    assert first.status_code in (200, 204), first.text
    again = requests.get(street.url + protocol.BUNDLE_PATH, headers=h, timeout=5)
    assert again.status_code == 401 and again.json()["code"] == "replay"


def test_time_window_is_plus_minus_300_s_and_the_answer_says_the_server_time(db_target: str | Path) -> None:
    clock = FakeClock(wall=1_780_000_000.0)
    with StreetServer(db_target, clock=clock) as street:
        k = Signer(street.url, "k1", street.db.add_kiosk("k1"))
        one = [rec("k1", EPOCH, 1)]
        for skew, ok in ((-299, True), (299, True), (-301, False), (301, False), (-3 * 86400, False)):
            r = k.post(protocol.RECORDS_PATH, batch("k1", EPOCH, one), now=clock.wall() + skew)
            assert (r.status_code == 200) is ok, (skew, r.text)
            if not ok:
                assert r.json()["code"] == "clock_skew"
                assert float(r.headers["X-Server-Time"]) == clock.wall()


def test_revoked_kiosk_is_refused_at_its_next_request(street: StreetServer, k1: Signer) -> None:
    assert upload(k1, [1]).status_code == 200
    street.db.revoke_kiosk("k1")
    r = upload(k1, [2])
    assert r.status_code == 401 and r.json()["code"] == "revoked"
    assert count(street) == 1


# ------------------------------------------------------------------ ingest semantics

def test_duplicates_are_absorbed_and_acked(street: StreetServer, k1: Signer) -> None:
    first = upload(k1, [1, 2, 3]).json()
    assert first["stored"] == 3 and first["acked_through"] == 3 and first["batch_through"] == 3
    again = upload(k1, [1, 2, 3]).json()          # the answer was lost; the kiosk sends it again
    assert again["stored"] == 0 and again["duplicates"] == 3 and again["acked_through"] == 3
    assert count(street) == 3


def test_same_key_different_content_is_409_and_nothing_of_the_batch_is_stored(street: StreetServer,
                                                                               k1: Signer) -> None:
    upload(k1, [1, 2])
    recs = [rec("k1", EPOCH, 2, temp_c=39.0), rec("k1", EPOCH, 3)]
    r = k1.post(protocol.RECORDS_PATH, batch("k1", EPOCH, recs))
    assert r.status_code == 409 and r.json()["code"] == "conflict" and "seq 2" in r.json()["error"]
    assert count(street) == 2
    alarm = street.db.rows("SELECT kind, detail FROM alarms")[0]
    assert alarm["kind"] == "conflict" and "seq 2" in alarm["detail"]


def test_poison_record_is_quarantined_with_its_reason_and_acked(street: StreetServer, k1: Signer) -> None:
    """T-SYNC-4: 499 accepted, 1 quarantined, the watermark passes it, a resend is a duplicate."""
    recs = [rec("k1", EPOCH, s) for s in range(1, 501)]
    recs[249] = rec("k1", EPOCH, 250, kind="teleport")
    answer = k1.post(protocol.RECORDS_PATH, batch("k1", EPOCH, recs)).json()
    assert answer["stored"] == 499 and answer["acked_through"] == 500
    assert answer["quarantined"] == [{"seq": 250, "reason": "kind 'teleport' is not a record kind"}]
    row = street.db.rows("SELECT seq, reason FROM quarantine")[0]
    assert tuple(row) == (250, "kind 'teleport' is not a record kind")
    again = k1.post(protocol.RECORDS_PATH, batch("k1", EPOCH, recs[240:260])).json()
    assert again["duplicates"] == 20 and again["quarantined"] == []


@pytest.mark.parametrize("over, reason", [
    ({"temp_c": "hot"}, "temp_c must be a number"),
    ({"wall_ts": None}, "wall_ts is missing"),
    ({"clock_synced": 2}, "clock_synced must be 0 or 1"),
    ({"decision": "maybe"}, "decision 'maybe'"),
    ({"temp_samples": 2**70}, "64-bit"),
    ({"detail": "x" * 5000}, "longer than"),
    ({"Weird Column": 1}, "not a lowercase identifier"),
    ({"chain": [1, 2]}, "wrong type"),
    ({"temp_c": 1000.0}, "not a temperature"),
    ({"cause": "ok\x00"}, "cause contains a NUL character"),        # PostgreSQL's text cannot hold one
    ({"future_note": "\x00"}, "future_note contains a NUL character"),
    ({"kind": {"N": ""}}, "kind"),          # found by the fuzz test: an unhashable kind was a 500 in the door redaction
    ({"kind": ["door_open"]}, "kind"),
])
def test_each_kind_of_poison_names_its_reason(street: StreetServer, k1: Signer, over: dict[str, Any],
                                              reason: str) -> None:
    answer = upload(k1, [1], **over).json()
    assert answer["stored"] == 0 and answer["acked_through"] == 1
    assert reason in answer["quarantined"][0]["reason"]


def test_columns_added_later_are_kept(street: StreetServer, k1: Signer) -> None:
    answer = upload(k1, [1], chain="cd" * 32, future_blob={"b64": "AAEC"}, future_note="ab" * 16).json()
    assert answer["stored"] == 1
    body = json.loads(street.db.rows("SELECT body FROM records")[0][0])
    assert body["chain"] == "cd" * 32
    assert body["future_blob"] == {"b64": "AAEC"} and body["future_note"] == "ab" * 16


def test_gap_is_reported_until_filled(street: StreetServer, k1: Signer) -> None:
    """T-SYNC-5: seq 100–120 missing is reported in the answer as soon as 121 arrives."""
    upload(k1, list(range(1, 100)))
    answer = upload(k1, list(range(121, 200))).json()
    assert answer["gaps"] == [[100, 120]] and answer["acked_through"] == 99 and answer["batch_through"] == 199
    answer = upload(k1, list(range(100, 121))).json()
    assert answer["gaps"] == [] and answer["acked_through"] == 199


def test_pre_sync_records_are_placed_by_the_server(db_target: str | Path) -> None:
    """T-TIME-1: records of a boot whose clock was 3 days wrong get the right time (±2 s)."""
    clock = FakeClock(wall=1_780_000_000.0)
    with StreetServer(db_target, clock=clock) as street:
        k = Signer(street.url, "k1", street.db.add_kiosk("k1"))
        wrong = clock.wall() - 3 * 86400
        sent_mono = 5_000 * 10**9
        # the boot that is sending now: 60 s and 10 s before sending, clock not yet synced
        recs = [rec("k1", EPOCH, 1, clock_synced=0, boot_id="b2", wall_ts=wrong, mono_ns=sent_mono - 60 * 10**9),
                rec("k1", EPOCH, 2, clock_synced=0, boot_id="b2", wall_ts=wrong + 50, mono_ns=sent_mono - 10 * 10**9),
                # an earlier boot that never synced, and one that synced later (its anchor)
                rec("k1", EPOCH, 3, clock_synced=0, boot_id="b0", wall_ts=wrong, mono_ns=7),
                rec("k1", EPOCH, 4, clock_synced=0, boot_id="b1", wall_ts=wrong, mono_ns=100 * 10**9)]
        assert k.post(protocol.RECORDS_PATH, batch("k1", EPOCH, recs, boot_id="b2", sent_mono_ns=sent_mono),
                      now=clock.wall()).status_code == 200
        anchor = rec("k1", EPOCH, 5, clock_synced=1, boot_id="b1", wall_ts=clock.wall() - 1000,
                     mono_ns=400 * 10**9)
        assert k.post(protocol.RECORDS_PATH, batch("k1", EPOCH, [anchor], boot_id="b2", sent_mono_ns=sent_mono),
                      now=clock.wall()).status_code == 200
        rows = street.db.rows("SELECT seq, ts, ts_source FROM records")
        ts = {r["seq"]: (r["ts"], r["ts_source"]) for r in rows}
    assert ts[1][1] == "server" and abs(ts[1][0] - (clock.wall() - 60)) <= 2
    assert ts[2][1] == "server" and abs(ts[2][0] - (clock.wall() - 10)) <= 2
    assert ts[3] == (wrong, "device_unsynced")
    assert ts[4][1] == "anchor" and ts[4][0] == pytest.approx(clock.wall() - 1000 - 300)
    assert ts[5] == (clock.wall() - 1000, "device")


def test_heartbeat_is_stored_and_answers_the_ack_mark(street: StreetServer, k1: Signer) -> None:
    upload(k1, [1, 2])
    r = k1.post(protocol.HEARTBEAT_PATH, {"kiosk_id": "k1", "sent_wall": time.time(), "db_epoch": EPOCH,
                                          "backlog": 0, "on_duty": {"volunteer_ref": "ab" * 16}}, gz=False)
    assert r.status_code == 200 and r.json()["acked_through"] == 2
    assert json.loads(street.db.rows("SELECT payload FROM heartbeats")[0][0])["backlog"] == 0


def test_bundle_is_served_with_an_etag(street: StreetServer, k1: Signer) -> None:
    assert k1.get(protocol.BUNDLE_PATH).status_code == 204
    etag = street.db.publish_bundle(b"bundle-v1")
    r = k1.get(protocol.BUNDLE_PATH)
    assert r.status_code == 200 and r.content == b"bundle-v1" and r.headers["ETag"] == etag
    assert k1.get(protocol.BUNDLE_PATH, {"If-None-Match": etag}).status_code == 304
    assert requests.get(street.url + protocol.BUNDLE_PATH, timeout=5).status_code == 401


# ------------------------------------------------------------------ bad input: always 4xx, never stored (T-FUZZ-2)

@pytest.mark.parametrize("mutate, status", [
    (lambda b: [b], 400),
    (lambda b: {**b, "records": []}, 400),
    (lambda b: {**b, "records": "many"}, 400),
    (lambda b: {**b, "records": [1, 2]}, 400),
    (lambda b: {**b, "extra": 1}, 400),
    (lambda b: {k: v for k, v in b.items() if k != "db_epoch"}, 400),
    (lambda b: {**b, "db_epoch": "x" * 100}, 400),
    (lambda b: {**b, "db_epoch": "bad epoch!"}, 400),
    (lambda b: {**b, "sent_wall": "yesterday"}, 400),
    (lambda b: {**b, "sent_mono_ns": -1}, 400),
    (lambda b: {**b, "records": [rec("k1", EPOCH, 2), rec("k1", EPOCH, 1)]}, 400),
    (lambda b: {**b, "records": [rec("k1", EPOCH, 1), rec("k1", EPOCH, 1)]}, 400),
    (lambda b: {**b, "records": [rec("k1", EPOCH, 0)]}, 400),
    (lambda b: {**b, "records": [rec("k1", EPOCH, 2**64)]}, 400),
    (lambda b: {**b, "records": [rec("k1", EPOCH, True)]}, 400),
    (lambda b: {**b, "records": [rec("k1", "other", 1)]}, 400),
    (lambda b: {**b, "records": [rec("k1", EPOCH, s) for s in range(1, 502)]}, 400),
    (lambda b: {**b, "boot_id": "boot\x00"}, 400),
])
def test_malformed_batches_are_400_and_store_nothing(street: StreetServer, k1: Signer, mutate: Any,
                                                     status: int) -> None:
    r = k1.post(protocol.RECORDS_PATH, mutate(batch("k1", EPOCH, [rec("k1", EPOCH, 1)])))
    assert r.status_code == status, r.text
    assert r.json()["error"]
    assert count(street) == 0 and count(street, "quarantine") == 0


@pytest.mark.parametrize("raw, headers, status", [
    (b"{not json", {}, 400),
    (b'{"a": NaN}', {}, 400),
    (gzip.compress(b"\0" * (protocol.MAX_DECOMPRESSED_BYTES + 10), mtime=0), {"Content-Encoding": "gzip"}, 413),
    (b"x" * (protocol.MAX_BODY_BYTES + 10), {}, 413),
    (b"{}", {"Content-Encoding": "br"}, 415),
    (b"\x1f\x8b garbage", {"Content-Encoding": "gzip"}, 400),
    (json.dumps(batch("k1", EPOCH, [rec("k1", EPOCH, 1, cause="\ud800")])).encode(), {}, 400),
], ids=["not-json", "nan", "gzip-bomb", "oversized", "brotli", "bad-gzip", "lone-surrogate"])
def test_bad_bodies_are_4xx(street: StreetServer, k1: Signer, raw: bytes, headers: dict[str, str],
                            status: int) -> None:
    r = k1.post(protocol.RECORDS_PATH, raw=raw, gz=False, headers=headers)
    assert r.status_code == status, r.text
    assert count(street) == 0


def test_unknown_route_and_method_are_4xx(street: StreetServer) -> None:
    assert requests.get(street.url + "/v1/nothing", timeout=5).status_code == 404
    assert requests.get(street.url + protocol.RECORDS_PATH, timeout=5).status_code == 405


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.dictionaries(st.sampled_from(sorted(["kiosk_id", "db_epoch", "boot_id", "sent_wall", "sent_mono_ns",
                                                    "clock_synced", "records", "x"])), json_values, max_size=8),
       records=st.lists(st.dictionaries(st.sampled_from(["seq", "kind", "wall_ts", "kiosk_id", "db_epoch", "temp_c"]),
                                        json_values, max_size=6), max_size=3))
def test_fuzzed_batches_never_get_a_5xx(street: StreetServer, k1: Signer, junk: dict[str, Any],
                                        records: list[dict[str, Any]]) -> None:
    body = {**batch("k1", EPOCH, records), **junk}
    r = k1.post(protocol.RECORDS_PATH, body)
    assert r.status_code < 500, r.text
    if r.status_code != 200:
        assert r.json()["error"]
