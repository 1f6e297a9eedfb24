"""The GK1 verifier: every verdict reason from a crafted code, colour rules, replay semantics."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import cbor2
import pytest

from kiosk.clock import FakeClock
from kiosk.codes import base45, cose, keys, token
from kiosk.codes.bundle import Policy
from kiosk.codes.drill import ISSUER, Drill
from kiosk.codes.token import Claims
from kiosk.codes.verifier import CodeVerifier
from kiosk.schema import REASONS
from tests.codes_support import COMPOUND, HOLDER, make_drill, make_verifier


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall=1_780_000_000.0, synced=True)


@pytest.fixture
def drill(tmp_path: Path, clock: FakeClock) -> Drill:
    return make_drill(tmp_path, clock)


@pytest.fixture
def verifier(drill: Drill, clock: FakeClock, tmp_path: Path) -> CodeVerifier:
    return make_verifier(drill, clock, state_dir=tmp_path / "state")


def claims(now: float, **kw: object) -> Claims:
    base: dict[str, object] = dict(iss=ISSUER, sub=HOLDER, iat=int(now), exp=int(now) + 60, cti=os.urandom(16),
                                   kind="dynamic", colour="green", scope=(COMPOUND,))
    base.update(kw)
    return Claims(**base)  # type: ignore[arg-type]


def wrap(protected: dict[int, object], payload: bytes, signature: bytes) -> str:
    raw = cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps(protected), {}, payload, signature]))
    return token.PREFIX + base45.encode(raw)


# ------------------------------------------------------------------ one crafted code per reason

def _replayed(d: Drill, v: CodeVerifier, c: FakeClock) -> str:
    p = d.code("green", HOLDER, c.wall())
    v.mark_used(v.verify(p.encode()))
    return p


def _stale(d: Drill, v: CodeVerifier, c: FakeClock) -> str:
    d.publish(seq=2, iat=int(c.wall()) - 3 * 86400)      # older than max_age (2 days)
    v.refresh()
    return _paper(d, c)                                   # dynamic_only: paper waits for a fresh list


def _paper(d: Drill, c: FakeClock) -> str:
    return token.issue(claims(c.wall(), kind="paper", exp=int(c.wall()) + 86400), d.issuer)


def _clock_behind(d: Drill, v: CodeVerifier, c: FakeClock) -> str:
    v.mark.observe(c.wall() + 3600)      # a bundle or code already proved it is an hour later
    return _paper(d, c)                  # still valid an hour on, but our clock cannot say for how long


def _bad_claims(d: Drill, v: CodeVerifier, c: FakeClock) -> str:
    body = cbor2.dumps({1: ISSUER, 6: int(c.wall()), 4: int(c.wall()) + 60})   # signed, but no sub/cti/gk
    return token.PREFIX + base45.encode(cose.sign1(body, d.issuer))


def _alg_swap(d: Drill, v: CodeVerifier, c: FakeClock) -> str:
    good = cose.parse(token.unwrap(d.code("green", HOLDER, c.wall())))
    return wrap({1: cose.EDDSA, 4: cose.kid_of(d.issuer.public_key())}, good.payload, good.signature)


CASES: dict[str, Callable[[Drill, CodeVerifier, FakeClock], str]] = {
    "ok": lambda d, v, c: d.code("green", HOLDER, c.wall()),
    "ok (EdDSA)": lambda d, v, c: d.code("green", HOLDER, c.wall(), alg="EdDSA"),
    "bad_prefix": lambda d, v, c: "GK2:" + d.code("green", HOLDER, c.wall())[4:],
    "bad_prefix (lower case)": lambda d, v, c: "gk1:" + d.code("green", HOLDER, c.wall())[4:],
    "decode_error (Base45)": lambda d, v, c: "GK1:abc",
    "decode_error (not COSE)": lambda d, v, c: token.PREFIX + base45.encode(cbor2.dumps([1, 2, 3])),
    "decode_error (claims)": _bad_claims,
    "unknown_kid": lambda d, v, c: token.issue(claims(c.wall()), keys.generate("ES256")),
    "bad_signature": lambda d, v, c: d.forged(claims(c.wall())),
    "alg_not_allowed": _alg_swap,
    "not_yet_valid": lambda d, v, c: token.issue(claims(c.wall(), nbf=int(c.wall()) + 3600,
                                                        exp=int(c.wall()) + 3660), d.issuer),
    "not_yet_valid (issued in the future, clock synced)":
        lambda d, v, c: token.issue(claims(c.wall() + 600), d.issuer),
    "expired": lambda d, v, c: d.code("expired", HOLDER, c.wall()),
    "expired (dynamic code longer than 120 s)":
        lambda d, v, c: token.issue(claims(c.wall() - 200, exp=int(c.wall()) + 3600), d.issuer),
    "wrong_scope": lambda d, v, c: d.code("wrong_scope", HOLDER, c.wall()),
    "revoked": lambda d, v, c: d.code("revoked", HOLDER, c.wall()),
    "revoked (kid)": lambda d, v, c: token.issue(claims(c.wall()), d.retired),
    "replay": _replayed,
    "red": lambda d, v, c: d.code("red", HOLDER, c.wall()),
    "yellow": lambda d, v, c: d.code("yellow", HOLDER, c.wall()),
    "stale_bundle": _stale,
    "clock_untrusted": _clock_behind,
    "unsupported_format": lambda d, v, c: "https://h5.example.cn/healthAct/index.html?code=123",
    "unsupported_format (HC1)": lambda d, v, c: "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N",
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_crafted_code_gets_its_reason(case: str, drill: Drill, verifier: CodeVerifier,
                                           clock: FakeClock) -> None:
    payload = CASES[case](drill, verifier, clock)
    verdict = verifier._verify(payload.encode())     # the raising core: a bug must not hide as decode_error
    assert verdict.reason == case.split(" ")[0]
    assert verdict.ok is (verdict.reason == "ok")


def test_the_table_covers_every_reason() -> None:
    assert {c.split(" ")[0] for c in CASES} == set(REASONS)


# ------------------------------------------------------------------ what a verdict carries

def test_ok_verdict_carries_loggable_facts_only(drill: Drill, verifier: CodeVerifier, clock: FakeClock) -> None:
    payload = drill.code("green", HOLDER, clock.wall())
    v = verifier.verify(payload.encode())
    assert (v.reason, v.kind, v.colour, v.issuer, v.holder_ref) == ("ok", "dynamic", "green", ISSUER, HOLDER.hex())
    assert v.kid == cose.kid_of(drill.issuer.public_key()).hex()
    claims_ = token.decode_claims(cose.parse(token.unwrap(payload)).payload)
    assert v.token_hash == token.token_hash(claims_.cti).hex() and v.expires_at == claims_.exp
    assert payload not in repr(v)


def test_unverified_codes_carry_no_claims(drill: Drill, verifier: CodeVerifier, clock: FakeClock) -> None:
    v = verifier.verify(drill.forged(claims(clock.wall())).encode())
    assert v.reason == "bad_signature"
    assert v.kind is None and v.holder_ref is None and v.issuer is None and v.token_hash is not None


def test_never_raises_on_junk(verifier: CodeVerifier) -> None:
    for junk in (b"", b"GK1:", b"GK1:" + b"\xff" * 10, b"\x00" * 5000, b"GK1:" + b"A" * 5000, "GK1:€".encode()):
        assert verifier.verify(junk).reason in REASONS


def test_oversized_payload_is_rejected_before_parsing(verifier: CodeVerifier) -> None:
    assert verifier.verify(b"GK1:" + b"0" * 5000).reason == "decode_error"
    assert verifier.verify(b"x" * 5000).reason == "unsupported_format"


# ------------------------------------------------------------------ colours

def test_paper_colour_comes_from_the_status_list_not_the_paper(drill: Drill, verifier: CodeVerifier,
                                                              clock: FakeClock) -> None:
    t = clock.wall()
    red_on_paper = token.issue(claims(t, kind="paper", colour="red", exp=int(t) + 86400), drill.issuer)
    assert verifier.verify(red_on_paper.encode()).reason == "ok"        # not listed: green
    listed = token.issue(claims(t, kind="paper", sub=drill.yellow_holder, exp=int(t) + 86400), drill.issuer)
    v = verifier.verify(listed.encode())
    assert (v.reason, v.colour) == ("yellow", "yellow")


def test_paper_default_yellow_when_the_policy_says_so(tmp_path: Path, clock: FakeClock) -> None:
    drill = make_drill(tmp_path, clock, policy=Policy(paper_default="yellow"))
    verifier = make_verifier(drill, clock)
    paper = token.issue(claims(clock.wall(), kind="paper", exp=int(clock.wall()) + 86400), drill.issuer)
    assert verifier.verify(paper.encode()).reason == "yellow"


def test_phone_code_takes_the_worse_of_its_colour_and_the_status_list(drill: Drill, verifier: CodeVerifier,
                                                                     clock: FakeClock) -> None:
    green_but_listed_red = token.issue(claims(clock.wall(), sub=drill.red_holder), drill.issuer)
    assert verifier.verify(green_but_listed_red.encode()).reason == "red"


# ------------------------------------------------------------------ replay: checking is not marking

def test_checking_does_not_use_up_a_code(drill: Drill, verifier: CodeVerifier, clock: FakeClock) -> None:
    payload = drill.code("green", HOLDER, clock.wall()).encode()
    for _ in range(5):                      # held up to the camera for several seconds
        clock.advance(1.0)
        assert verifier.verify(payload).reason == "ok"


def test_a_committed_pass_uses_up_a_code_until_it_expires(drill: Drill, verifier: CodeVerifier,
                                                          clock: FakeClock) -> None:
    payload = drill.code("green", HOLDER, clock.wall()).encode()
    v = verifier.verify(payload)
    assert verifier.verify(payload).reason == "ok"          # not used until the gate opened for it
    verifier.mark_used(v)                                   # the flow's UseCode, run by the executor
    assert verifier.verify(payload).reason == "replay"
    clock.advance(60 + 30 + 1)                               # past exp + skew
    assert verifier.verify(payload).reason == "expired"


def test_paper_reuse_is_a_replay_only_within_the_reuse_window(drill: Drill, verifier: CodeVerifier,
                                                              clock: FakeClock) -> None:
    paper = _paper(drill, clock).encode()
    verifier.mark_used(verifier.verify(paper))
    assert verifier.verify(paper).reason == "replay"        # handed back over the gate
    clock.advance(Policy().reuse_window_s + 1)
    assert verifier.verify(paper).reason == "ok"            # the same resident, later that day


@pytest.mark.parametrize("kind", ["volunteer", "inspector"])
def test_a_badge_is_never_a_replay(drill: Drill, verifier: CodeVerifier, clock: FakeClock, kind: str) -> None:
    badge = drill.code(kind, HOLDER, clock.wall()).encode()
    v = verifier.verify(badge)
    assert (v.reason, v.kind) == ("ok", kind)
    verifier.mark_used(v)
    assert verifier.verify(badge).reason == "ok"


# ------------------------------------------------------------------ keys and scopes in the bundle

def test_issuer_key_validity_and_scopes_from_the_bundle(drill: Drill, verifier: CodeVerifier,
                                                        clock: FakeClock) -> None:
    from kiosk.codes.bundle import IssuerKey
    t = int(clock.wall())
    drill.publish(seq=2, issuers=[IssuerKey(drill.issuer.public_key(), cose.ES256, iss=ISSUER,
                                            scopes=("c2",), not_after=t + 3600)])
    verifier.refresh()
    payload = drill.code("green", HOLDER, clock.wall()).encode()
    assert verifier.verify(payload).reason == "wrong_scope"       # key only trusted for compound c2
    drill.publish(seq=3, issuers=[IssuerKey(drill.issuer.public_key(), cose.ES256, iss=ISSUER,
                                            not_after=t + 30)])
    verifier.refresh()
    assert verifier.verify(payload).reason == "ok"
    clock.advance(61)
    assert verifier.verify(drill.code("green", HOLDER, clock.wall()).encode()).reason == "expired"  # key retired
    drill.publish(seq=4, issuers=[IssuerKey(drill.issuer.public_key(), cose.ES256, iss="SOMEONE-ELSE")])
    verifier.refresh()
    assert verifier.verify(drill.code("green", HOLDER, clock.wall()).encode()).reason == "unknown_kid"


def test_gate_scoped_codes(drill: Drill, verifier: CodeVerifier, clock: FakeClock) -> None:
    ok = token.issue(claims(clock.wall(), scope=("c1/main",)), drill.issuer)
    other_gate = token.issue(claims(clock.wall(), scope=("c1/north",)), drill.issuer)
    street_wide = token.issue(claims(clock.wall(), scope=("*",)), drill.issuer)
    assert [verifier.verify(p.encode()).reason for p in (ok, other_gate, street_wide)] == ["ok", "wrong_scope", "ok"]


# ------------------------------------------------------------------ strict format of signed parts
# Only a holder of the issuer's key can make these; a verifier still refuses them (docs/health-codes.md §3.1).

def _es256(key: cose.PrivateKey, protected_raw: bytes, payload: bytes) -> str:
    """A code whose signed bytes are exactly ``protected_raw`` and ``payload``, validly signed (low-S)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(key.sign(cose.sig_structure(protected_raw, payload), ec.ECDSA(hashes.SHA256())))
    s = min(s, cose._P256_ORDER - s)
    raw = cbor2.dumps(cbor2.CBORTag(18, [protected_raw, {}, payload, r.to_bytes(32, "big") + s.to_bytes(32, "big")]))
    return token.PREFIX + base45.encode(raw)


def _header(drill: Drill) -> dict[int, object]:
    return {cose.H_ALG: cose.ES256, cose.H_KID: cose.kid_of(drill.issuer.public_key())}


def _twice(first: dict[int, object], key: int, value: object) -> bytes:
    """A CBOR map with ``key`` once more at the end (cbor2 would let the last one win)."""
    body = b"".join(cbor2.dumps(k) + cbor2.dumps(v) for k, v in first.items()) + cbor2.dumps(key) + cbor2.dumps(value)
    assert len(first) + 1 < 24
    return bytes([0xA0 + len(first) + 1]) + body


def test_signed_codes_in_a_second_encoding_are_decode_errors(drill: Drill, verifier: CodeVerifier,
                                                             clock: FakeClock) -> None:
    c = claims(clock.wall())
    header, payload = _header(drill), c.to_cbor()
    good = _es256(drill.issuer, cbor2.dumps(header), payload)
    assert verifier.verify(good.encode()).reason == "ok"
    late = dict(cbor2.loads(payload))
    late[token.C_EXP] = int(clock.wall()) + 10 * 365 * 86400
    bad = {
        "unknown crit header": _es256(drill.issuer, cbor2.dumps({**header, 2: [99], 99: 1}), payload),
        "crit naming alg": _es256(drill.issuer, cbor2.dumps({**header, 2: [1]}), payload),
        "protected header key twice": _es256(drill.issuer, _twice(header, cose.H_ALG, cose.ES256), payload),
        "protected header trailing bytes": _es256(drill.issuer, cbor2.dumps(header) + b"\x00", payload),
        "claim given twice (last: ten years)": _es256(drill.issuer, cbor2.dumps(header),
                                                      _twice(cbor2.loads(payload), token.C_EXP,
                                                             late[token.C_EXP])),
        "claims trailing bytes": _es256(drill.issuer, cbor2.dumps(header), payload + b"\xf6"),
    }
    for what, code in bad.items():
        assert verifier.verify(code.encode()).reason == "decode_error", what


def test_the_high_s_twin_of_a_valid_signature_is_a_bad_signature(drill: Drill, verifier: CodeVerifier,
                                                                 clock: FakeClock) -> None:
    text = drill.code("green", HOLDER, clock.wall())
    msg = cose.parse(token.unwrap(text))
    r, s = msg.signature[:32], int.from_bytes(msg.signature[32:], "big")
    twin_sig = r + (cose._P256_ORDER - s).to_bytes(32, "big")
    twin = token.PREFIX + base45.encode(cbor2.dumps(cbor2.CBORTag(18, [msg.protected_raw, {}, msg.payload, twin_sig])))
    assert verifier.verify(twin.encode()).reason == "bad_signature"
    assert verifier.verify(text.encode()).reason == "ok"
