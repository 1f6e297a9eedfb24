"""T-FUZZ-1 and T-FUZZ-2: property-based fuzzing of the parsers earlier tests left uncovered.

Already covered elsewhere: thermometer frame decode and the frame parser on bytes ≤ 400
(test_thermo_frames.py), single/multi-edit mutants of valid GK1 codes and random payloads through
the verifier (test_codes_mutation.py), random batch envelopes on POST /v1/records
(test_sync_server.py). Added here:

- the host-command parsers (what the simulated modules parse) and streams up to 4 KiB, with valid
  frames spliced into noise at random cuts;
- the GK1 layers one by one — Base45 text, the COSE envelope from *structured* CBOR (not only
  random bytes, which rarely get past the first byte), the claims map — and codes that are
  validly signed but carry arbitrary claims, so the claims parser is reached behind the signature;
- the trust bundle: random bytes, random CBOR, and bundles validly signed by the endorsed street
  key whose payload is a mutated or arbitrary structure — past both signatures;
- the street server: raw bodies of every kind on every signed endpoint (bytes, JSON of any
  shape, huge and deep values, gzip of junk, gzip bombs of any size), mangled signature headers.
  Always a 4xx, never a 5xx;
- the small parsers on the sync side: strict JSON, capped gunzip, the sync state file.

Each property says "only the parser's own error, or a valid result". Time per input is measured
by bench/fuzz.py, not here (timing in tests is flaky on a shared CI machine).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import zlib
from collections.abc import Iterator
from typing import Any

import cbor2
import pytest
import requests
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from drivers.thermometer.frames import PROTOCOLS, Command, codec
from kiosk import errors
from kiosk.clock import FakeClock
from kiosk.codes import base45, bundle, cose, token
from kiosk.codes.drill import Drill
from kiosk.codes.keys import load_public
from kiosk.codes.verifier import CodeVerifier
from kiosk.errors import BundleError
from kiosk.schema import REASONS
from street.server import StreetServer
from sync import protocol
from sync.errors import BadRequest, StateError
from sync.state import load as load_state
from tests.codes_support import make_drill, make_verifier
from tests.synckit import Signer, batch, rec

# CI sizes; tests/faults/run_full.sh sets KIOSK_FUZZ_EXAMPLES (every property at that size)
_SIZE = int(os.environ.get("KIOSK_FUZZ_EXAMPLES", "0"))
_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
FUZZ = settings(max_examples=_SIZE or 1000, deadline=None, suppress_health_check=_QUIET)        # cheap parsers
DEEP = settings(max_examples=_SIZE or 250, deadline=None, suppress_health_check=_QUIET)         # nested CBOR, signing
HTTP_FUZZ = settings(max_examples=_SIZE or 200, deadline=None, suppress_health_check=_QUIET)    # over HTTP

# any value CBOR can carry, nested
cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=24) | st.binary(max_size=48),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8) | st.integers(-70000, 70000),
                                                                inner, max_size=6),
    max_leaves=30)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-10**40, max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=24),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=25)


def cbor_bytes(value: Any) -> bytes:
    try:
        return cbor2.dumps(value)
    except (ValueError, TypeError, OverflowError) as exc:   # e.g. unhashable keys the strategy made
        assume(False)
        raise AssertionError("unreachable") from exc


# ------------------------------------------------------------------ serial (T-FUZZ-1)

@pytest.mark.parametrize("name", sorted(n for n in PROTOCOLS if codec(n).command_header))
@given(data=st.binary(max_size=4096), cuts=st.lists(st.integers(0, 4096), max_size=12))
@FUZZ
def test_command_parser_yields_only_commands_that_decode_again(name: str, data: bytes, cuts: list[int]) -> None:
    c = codec(name)
    parser = c.command_parser()
    got: list[Command] = []
    for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(data)], strict=True):
        got += parser.feed(data[a:b])
    parser.flush()
    for cmd in got:
        assert c.decode_command(cmd.raw) == cmd
    assert parser.pending == 0


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@given(noise=st.lists(st.binary(max_size=300), min_size=1, max_size=12), data=st.data())
@FUZZ
def test_frames_spliced_into_4k_of_noise_are_found(name: str, noise: list[bytes], data: st.DataObject) -> None:
    c = codec(name)
    frames = [c.encode(ambient_c=21.0, body_c=36.5) if name != "gy-mcu90614" else c.encode(36.1, 21.0)
              for _ in range(len(noise))]
    stream = b"".join(n + f for n, f in zip(noise, frames, strict=True))[:4096]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    parser = c.parser()
    got = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += parser.feed(stream[a:b])
    parser.flush()
    for f in got:
        assert c.decode(f.raw) == f                   # every frame found has a valid checksum
    if not any(c.header[:1] in n for n in noise):     # noise without a header byte cannot hide a frame
        ends, at = [], 0
        for chunk, frame in zip(noise, frames, strict=True):
            at += len(chunk) + len(frame)
            ends.append(at)
        assert len(got) == sum(1 for e in ends if e <= len(stream))


# ------------------------------------------------------------------ GK1 payloads (T-FUZZ-1)

@pytest.fixture(scope="module")
def drill_and_verifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Drill, CodeVerifier, FakeClock]:
    clock = FakeClock(wall=1_780_000_000.0, synced=True)
    drill = make_drill(tmp_path_factory.mktemp("fuzz"), clock)
    return drill, make_verifier(drill, clock), clock


@given(text=st.text(max_size=300) | st.text(alphabet=base45.ALPHABET, max_size=300))
@FUZZ
def test_base45_decodes_or_raises_its_own_error(text: str) -> None:
    try:
        raw = base45.decode(text)
    except errors.Base45Error:
        return
    assert base45.encode(raw) == text


@given(value=cbor_values, tagged=st.booleans())
@DEEP
def test_cose_envelope_from_any_cbor_structure(value: Any, tagged: bool) -> None:
    raw = cbor_bytes(cbor2.CBORTag(cose.TAG_SIGN1, value) if tagged else value)
    try:
        msg = cose.parse(raw)
    except errors.CoseError:
        return
    assert isinstance(msg.payload, bytes) and isinstance(msg.protected, dict)


@given(parts=st.tuples(cbor_values, cbor_values, cbor_values, cbor_values))
@DEEP
def test_cose_envelope_of_four_arbitrary_items(parts: tuple[Any, Any, Any, Any]) -> None:
    protected = parts[0] if isinstance(parts[0], bytes) else cbor_bytes(parts[0])
    raw = cbor_bytes(cbor2.CBORTag(cose.TAG_SIGN1, [protected, parts[1], parts[2], parts[3]]))
    try:
        cose.parse(raw)
    except errors.CoseError:
        pass


claims_maps = st.dictionaries(st.sampled_from([token.C_ISS, token.C_SUB, token.C_EXP, token.C_NBF, token.C_IAT,
                                               token.C_CTI, token.C_GK, 99, "x"]), cbor_values, max_size=8)


@given(claims=claims_maps | cbor_values)
@DEEP
def test_claims_decode_or_raise_token_error(claims: Any) -> None:
    try:
        c = token.decode_claims(cbor_bytes(claims))
    except errors.TokenError:
        return
    assert len(c.sub) == 16 and c.kind in token.KINDS and c.colour in token.COLOURS


@given(claims=claims_maps, gk=st.dictionaries(st.sampled_from(["v", "k", "c", "s", "a", "z"]), cbor_values,
                                              max_size=6))
@DEEP
def test_validly_signed_codes_with_arbitrary_claims_get_a_verdict(
        drill_and_verifier: tuple[Drill, CodeVerifier, FakeClock], claims: dict[Any, Any],
        gk: dict[str, Any]) -> None:
    drill, verifier, _clock = drill_and_verifier
    if gk:
        claims = {**claims, token.C_GK: gk}
    payload = cbor_bytes(claims)
    code = (token.PREFIX + base45.encode(cose.sign1(payload, drill.issuer))).encode()
    verdict = verifier._verify(code)                  # the raising core: an exception fails the test
    assert verdict.reason in REASONS
    assert verdict.reason in ("decode_error", "ok", "expired", "not_yet_valid", "wrong_scope", "clock_untrusted",
                              "red", "yellow", "replay", "unknown_kid", "revoked", "stale_bundle")


# ------------------------------------------------------------------ trust bundles (T-FUZZ-1)

@given(raw=st.binary(max_size=2048) | cbor_values.map(lambda v: cbor2.dumps(v) if _dumpable(v) else b""))
@DEEP
def test_bundle_from_junk_raises_only_bundle_error(drill_and_verifier: tuple[Drill, CodeVerifier, FakeClock],
                                                   raw: bytes) -> None:
    drill = drill_and_verifier[0]
    with pytest.raises(BundleError):
        bundle.load(raw, load_public(drill.root_key_path))


def _dumpable(v: Any) -> bool:
    try:
        cbor2.dumps(v)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


BUNDLE_KEYS = ["typ", "v", "seq", "iat", "street", "issuers", "revoked_kids", "revoked_cti", "status", "policy"]


@given(changes=st.dictionaries(st.sampled_from(BUNDLE_KEYS + ["extra"]), cbor_values, max_size=5),
       policy=st.dictionaries(st.sampled_from(["max_age", "stale_action", "max_validity", "paper_default",
                                               "reuse_window"]), cbor_values, max_size=4),
       drop=st.lists(st.sampled_from(BUNDLE_KEYS), max_size=3))
@DEEP
def test_validly_signed_bundles_with_mutated_payloads(drill_and_verifier: tuple[Drill, CodeVerifier, FakeClock],
                                                      changes: dict[str, Any], policy: dict[str, Any],
                                                      drop: list[str]) -> None:
    """Signed by the endorsed street key, so every check behind both signatures is reached."""
    drill = drill_and_verifier[0]
    good = cbor2.loads(cose.parse(drill.bundle_bytes(5)).payload)
    payload = {**good, **changes}
    if policy:
        payload["policy"] = {**good["policy"], **policy}
    for k in drop:
        payload.pop(k, None)
    raw = cose.sign1(cbor_bytes(payload), drill.street, {bundle.H_ENDORSEMENT: drill.endorsement})
    try:
        b = bundle.load(raw, load_public(drill.root_key_path))
    except BundleError:
        return
    assert isinstance(b.seq, int) and b.policy.stale_action in bundle.STALE_ACTIONS


@given(issuers=st.lists(st.dictionaries(st.sampled_from(["kid", "alg", "key", "iss", "scopes", "nbf", "exp"]),
                                        cbor_values, max_size=7), max_size=3),
       status=st.lists(cbor_values, max_size=4), revoked=st.lists(cbor_values, max_size=4))
@DEEP
def test_validly_signed_bundles_with_arbitrary_entries(drill_and_verifier: tuple[Drill, CodeVerifier, FakeClock],
                                                       issuers: list[Any], status: list[Any],
                                                       revoked: list[Any]) -> None:
    drill = drill_and_verifier[0]
    good = cbor2.loads(cose.parse(drill.bundle_bytes(5)).payload)
    payload = {**good, "issuers": good["issuers"] + issuers, "status": status, "revoked_cti": revoked}
    raw = cose.sign1(cbor_bytes(payload), drill.street, {bundle.H_ENDORSEMENT: drill.endorsement})
    try:
        bundle.load(raw, load_public(drill.root_key_path))
    except BundleError:
        pass


# ------------------------------------------------------------------ sync-side parsers

@given(raw=st.binary(max_size=2048) | json_values.map(lambda v: json.dumps(v).encode()))
@FUZZ
def test_strict_json_raises_only_bad_request(raw: bytes) -> None:
    try:
        value = protocol.loads_strict(raw)
    except BadRequest as exc:
        assert 400 <= exc.status < 500
        return
    assert not _has_nonfinite(value)


def _has_nonfinite(v: Any) -> bool:
    if isinstance(v, float):
        return not math.isfinite(v)
    if isinstance(v, list):
        return any(_has_nonfinite(x) for x in v)
    if isinstance(v, dict):
        return any(_has_nonfinite(x) for x in v.values())
    return False


@given(raw=st.binary(max_size=2048), plain=st.binary(max_size=4096), cut=st.integers(0, 4096),
       cap=st.integers(1, 8192))
@FUZZ
def test_capped_gunzip_raises_only_bad_request(raw: bytes, plain: bytes, cut: int, cap: int) -> None:
    for body in (raw, gzip.compress(plain, mtime=0)[:cut], gzip.compress(plain, mtime=0) + raw[:8]):
        try:
            out = protocol.gunzip_capped(body, cap)
        except BadRequest as exc:
            assert exc.status in (400, 413)
            continue
        assert len(out) <= cap and out == zlib.decompress(body, 16 + zlib.MAX_WBITS)


@given(data=json_values | st.fixed_dictionaries({"version": st.just(1), "kiosk_id": st.just("k1")},
                                                 optional={"epochs": json_values, "clock": json_values,
                                                           "failures": json_values, "not_before": json_values}))
@example(data={"version": 1, "kiosk_id": "k1", "epochs": None})           # was an AttributeError
@example(data={"version": 1, "kiosk_id": "k1", "epochs": {"e": []}})
@DEEP
def test_sync_state_file_loads_or_raises_state_error(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz-state.json"
    path.write_text(json.dumps(data))
    try:
        load_state(path, "k1")
    except StateError:
        pass


# ------------------------------------------------------------------ the street server (T-FUZZ-2)

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StreetServer, Signer]]:
    with StreetServer(tmp_path_factory.mktemp("fuzz-server") / "street.db") as street:
        yield street, Signer(street.url, "k1", street.db.add_kiosk("k1"))


SIGNED_PATHS = [protocol.RECORDS_PATH, protocol.HEARTBEAT_PATH, protocol.LOST_PATH]

bodies = st.one_of(
    st.binary(max_size=4096),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=1, max_value=6000).map(lambda n: b"[" * n + b"]" * n),           # deep nesting
    st.integers(min_value=300, max_value=5000).map(lambda n: b'{"seq": ' + b"9" * n + b"}"),  # huge numbers
    st.builds(lambda k, v: json.dumps(batch("k1", "e1", [{**rec("k1", "e1", 1), k: v}])).encode(),
              st.sampled_from(["seq", "kind", "wall_ts", "mono_ns", "temp_c", "decision", "kiosk_id", "boot_id",
                               "clock_synced", "detail", "chain"]), json_values),
    st.builds(lambda k, v: json.dumps({"kiosk_id": "k1", "db_epoch": "e1", "ranges": [[1, 2]], "reason": "x",
                                       k: v}).encode(),
              st.sampled_from(["ranges", "db_epoch", "reason", "kiosk_id"]), json_values),
)


@given(path=st.sampled_from(SIGNED_PATHS), body=bodies, gz=st.sampled_from(["none", "gzip", "junk-gzip"]))
@HTTP_FUZZ
def test_any_body_on_any_signed_endpoint_is_never_a_5xx(server: tuple[StreetServer, Signer], path: str,
                                                        body: bytes, gz: str) -> None:
    _street, k1 = server
    headers = {}
    if gz == "gzip":
        body, headers = gzip.compress(body, mtime=0), {"Content-Encoding": "gzip"}
    elif gz == "junk-gzip":
        body, headers = gzip.compress(body, mtime=0)[: max(1, len(body) // 2)], {"Content-Encoding": "gzip"}
    r = k1.post(path, raw=body, gz=False, headers=headers)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.json()["error"]


@given(size=st.integers(min_value=protocol.MAX_DECOMPRESSED_BYTES - 2, max_value=64 * 1024 * 1024),
       fill=st.sampled_from([b"\0", b"[", b"7", b'{"a":1}']), path=st.sampled_from(SIGNED_PATHS))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_gzip_bombs_of_any_size_are_4xx(server: tuple[StreetServer, Signer], size: int, fill: bytes,
                                        path: str) -> None:
    _street, k1 = server
    plain = (fill * (size // len(fill) + 1))[:size]
    bomb = gzip.compress(plain, compresslevel=9, mtime=0)
    r = k1.post(path, raw=bomb, gz=False, headers={"Content-Encoding": "gzip"})
    assert 400 <= r.status_code < 500, r.text


@given(header=st.sampled_from([protocol.H_KIOSK, protocol.H_TIME, protocol.H_NONCE, protocol.H_DIGEST,
                               protocol.H_AUTH, "Content-Encoding", "Content-Type", "Content-Length"]),
       value=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
       | st.sampled_from(["nan", "inf", "-1e309", "1" * 400, "Kiosk-HMAC ", "gzip, gzip", "-5"]),
       path=st.sampled_from(SIGNED_PATHS + [protocol.BUNDLE_PATH]))
@HTTP_FUZZ
def test_mangled_signature_headers_are_4xx(server: tuple[StreetServer, Signer], header: str, value: str,
                                           path: str) -> None:
    street, k1 = server
    body = b"" if path == protocol.BUNDLE_PATH else json.dumps({"kiosk_id": "k1"}).encode()
    method = "GET" if path == protocol.BUNDLE_PATH else "POST"
    headers = {"Content-Type": "application/json", **k1.headers(method, path, body)}
    headers[header] = value
    try:
        r = requests.request(method, street.url + path, data=body or None, headers=headers, timeout=(2, 10))
    except requests.RequestException:
        return                                  # e.g. a Content-Length the body does not have: the link drops
    assert r.status_code < 500, r.text
    if header not in ("Content-Type",):
        assert r.status_code >= 400 or path == protocol.BUNDLE_PATH
