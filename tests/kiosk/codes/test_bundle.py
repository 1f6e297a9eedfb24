"""Trust bundles: round trip, signatures, rollback, stale policy, last-good fallback, atomic swap."""

from __future__ import annotations

import logging
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from kiosk.clock import FakeClock
from kiosk.codes import bundle as bundle_mod
from kiosk.codes import cose, keys, token
from kiosk.codes.bundle import IssuerKey, Policy
from kiosk.codes.drill import Drill
from kiosk.codes.trust import TrustStore
from kiosk.errors import BundleError
from kiosk.statefiles import BUNDLE_LAST_GOOD as LAST_GOOD_NAME
from tests.codes_support import HOLDER, make_drill, make_verifier


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall=1_780_000_000.0, synced=True)


@pytest.fixture
def drill(tmp_path: Path, clock: FakeClock) -> Drill:
    return make_drill(tmp_path, clock)


def test_bundle_round_trips(drill: Drill) -> None:
    b = bundle_mod.load(drill.bundle_path.read_bytes(), drill.root.public_key())
    assert b.seq == 1 and b.street == "DEMO-STREET" and b.iat == drill.now
    kid = cose.kid_of(drill.issuer.public_key())
    (ik,) = b.issuers[kid]
    assert ik.alg == cose.ES256 and cose.spki_der(ik.key) == cose.spki_der(drill.issuer.public_key())
    assert b.issuers[cose.kid_of(drill.issuer_ed.public_key())][0].alg == cose.EDDSA
    assert b.revoked_kids == {cose.kid_of(drill.retired.public_key())}
    assert set(b.revoked_cti) == {drill.revoked_hash}
    assert b.status[drill.red_holder] == ("red", drill.now) and b.status[drill.yellow_holder][0] == "yellow"
    assert b.policy == Policy()


def test_policy_round_trips(tmp_path: Path, clock: FakeClock) -> None:
    policy = Policy(max_age_s=3600, stale_action="volunteer", paper_default="yellow", reuse_window_s=5,
                    max_validity_s={**bundle_mod.DEFAULT_MAX_VALIDITY, "paper": 7 * 86400, "dynamic": 600})
    drill = make_drill(tmp_path, clock, policy=policy)
    b = bundle_mod.load(drill.bundle_path.read_bytes(), drill.root.public_key())
    assert b.policy == policy
    assert b.policy.max_validity("dynamic") == 120          # the policy cannot stretch phone codes past 120 s


@pytest.mark.parametrize("tamper, message", [
    (lambda raw, d: raw[:-1] + bytes([raw[-1] ^ 1]), "signature"),
    (lambda raw, d: raw + b"\x00", "canonical"),
    (lambda raw, d: b"not a bundle", "not a signed bundle"),
    (lambda raw, d: token.unwrap(d.code("green", HOLDER, d.now)), "endorsement"),
])
def test_tampered_bundles_are_refused_with_a_reason(drill: Drill, tamper, message: str) -> None:
    raw = drill.bundle_path.read_bytes()
    with pytest.raises(BundleError, match=message):
        bundle_mod.load(tamper(raw, drill), drill.root.public_key())


def test_bundle_signed_under_another_root_is_refused(drill: Drill) -> None:
    with pytest.raises(BundleError, match="pinned root"):
        bundle_mod.load(drill.bundle_path.read_bytes(), keys.generate("ES256").public_key())


def test_street_key_without_endorsement_cannot_sign(drill: Drill) -> None:
    other_street = keys.generate("ES256")
    with pytest.raises(BundleError, match="another street key"):
        bundle_mod.build(other_street, drill.endorsement, seq=2, iat=drill.now, issuers=[])
    # and a hand-made bundle that pairs the real endorsement with another key's signature
    payload = cbor2.dumps({"typ": "gk-bundle", "v": 1, "seq": 9, "iat": drill.now, "street": "x"})
    forged = cose.sign1(payload, other_street, {bundle_mod.H_ENDORSEMENT: drill.endorsement})
    with pytest.raises(BundleError, match="endorsed street key"):
        bundle_mod.load(forged, drill.root.public_key())


def test_an_endorsement_under_the_roots_kid_signed_by_another_key_is_refused(drill: Drill) -> None:
    """The kid and alg are only labels: the endorsement's signature itself must be the root's."""
    forger = keys.generate("ES256")
    root_pub = drill.root.public_key()
    real = cose.parse(drill.endorsement)
    header = cbor2.dumps({cose.H_ALG: cose.ES256, cose.H_KID: cose.kid_of(root_pub)})
    assert isinstance(forger, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(forger.sign(cose.sig_structure(header, real.payload), ec.ECDSA(hashes.SHA256())))
    s = min(s, cose._P256_ORDER - s)
    forged_end = cbor2.dumps(cbor2.CBORTag(cose.TAG_SIGN1, [header, {}, real.payload,
                                                             r.to_bytes(32, "big") + s.to_bytes(32, "big")]))
    assert (cose.parse(forged_end).kid, cose.parse(forged_end).payload) == (real.kid, real.payload)
    raw = bundle_mod.build(drill.street, forged_end, seq=2, iat=drill.now, issuers=[])   # build checks shape only
    with pytest.raises(BundleError, match="endorsement signature does not verify"):
        bundle_mod.load(raw, root_pub)


def test_bundle_outside_the_endorsement_is_refused(drill: Drill) -> None:
    with pytest.raises(BundleError, match="endorsement"):
        drill.bundle_bytes(seq=2, iat=drill.now + 400 * 86400)


def test_issuer_entry_with_the_wrong_kid_is_refused(drill: Drill) -> None:
    raw = drill.bundle_bytes(seq=2)
    msg = cose.parse(raw)
    payload = cbor2.loads(msg.payload)
    payload = dict(payload, issuers=[dict(payload["issuers"][0], kid=b"\x00" * 8)])
    resigned = cose.sign1(cbor2.dumps(payload), drill.street, {bundle_mod.H_ENDORSEMENT: drill.endorsement})
    with pytest.raises(BundleError, match="does not match its key"):
        bundle_mod.load(resigned, drill.root.public_key())


# ------------------------------------------------------------------ the kiosk's store

def test_rollback_is_refused_and_the_newer_bundle_kept(drill: Drill, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    store = TrustStore(drill.root.public_key(), drill.bundle_path, tmp_path / LAST_GOOD_NAME)
    drill.publish(seq=5)
    assert store.refresh() and store.bundle is not None and store.bundle.seq == 5
    drill.publish(seq=4)
    with caplog.at_level(logging.ERROR, logger="kiosk.codes.trust"):
        assert not store.refresh()
    assert store.bundle.seq == 5
    assert "rollback refused: seq 4" in store.message and "keeping seq 5" in store.message
    assert "rollback refused" in caplog.text
    drill.publish(seq=5, iat=drill.now + 1)
    assert not store.refresh() and "already held with different content" in store.message


def test_a_bad_file_keeps_the_last_good_bundle_even_across_a_restart(drill: Drill, tmp_path: Path) -> None:
    last_good = tmp_path / "state" / LAST_GOOD_NAME
    store = TrustStore(drill.root.public_key(), drill.bundle_path, last_good)
    assert store.bundle is not None and last_good.read_bytes() == drill.bundle_path.read_bytes()
    drill.bundle_path.write_bytes(b"\x00garbage")
    assert not store.refresh()
    assert store.bundle is not None and store.bundle.seq == 1 and "refused" in store.message
    restarted = TrustStore(drill.root.public_key(), drill.bundle_path, last_good)
    assert restarted.bundle is not None and restarted.bundle.seq == 1
    drill.publish(seq=0)               # an old bundle put back on disk while the kiosk was off
    again = TrustStore(drill.root.public_key(), drill.bundle_path, last_good)
    assert again.bundle is not None and again.bundle.seq == 1 and "rollback refused" in again.message


def test_verifier_picks_up_a_new_bundle_file(drill: Drill, tmp_path: Path, clock: FakeClock) -> None:
    verifier = make_verifier(drill, clock, state_dir=tmp_path / "state")
    payload = drill.code("green", HOLDER, clock.wall()).encode()
    assert verifier.verify(payload).reason == "ok"
    drill.publish(seq=2, revoked_kids=[cose.kid_of(drill.issuer.public_key())])
    clock.advance(2.0)                 # verify() looks at the file at most once a second
    assert verifier.verify(payload).reason == "revoked"
    assert verifier.trust.bundle is not None and verifier.trust.bundle.seq == 2


def test_no_bundle_means_nothing_is_trusted(drill: Drill, tmp_path: Path, clock: FakeClock) -> None:
    verifier = make_verifier(drill, clock, bundle_path=tmp_path / "missing.cbor")
    assert verifier.trust.bundle is None and "no trust bundle" in verifier.trust.message
    assert verifier.verify(drill.code("green", HOLDER, clock.wall()).encode()).reason == "stale_bundle"


@pytest.mark.parametrize("action, dynamic, paper", [
    ("dynamic_only", "ok", "stale_bundle"),
    ("volunteer", "stale_bundle", "stale_bundle"),
])
def test_stale_bundle_applies_the_stale_action(tmp_path: Path, clock: FakeClock, action: str,
                                               dynamic: str, paper: str) -> None:
    drill = make_drill(tmp_path, clock, policy=Policy(max_age_s=3600, stale_action=action))
    verifier = make_verifier(drill, clock)
    t = clock.wall()
    paper_code = token.issue(token.Claims(iss="DEMO-STREET-S01", sub=HOLDER, iat=int(t), exp=int(t) + 86400,
                                          cti=token.new_cti(), kind="paper", colour="green", scope=("c1",)),
                             drill.issuer)
    assert verifier.verify(paper_code.encode()).reason == "ok"
    clock.advance(3601)                # the street server has been unreachable for over an hour
    assert verifier.verify(drill.code("green", HOLDER, clock.wall()).encode()).reason == dynamic
    assert verifier.verify(paper_code.encode()).reason == paper
    assert verifier.verify(drill.code("red", HOLDER, clock.wall()).encode()).reason == "red"  # red stays red
    assert verifier.verify(drill.code("volunteer", HOLDER, clock.wall()).encode()).reason == "ok"
    drill.publish(seq=2, iat=int(clock.wall()))
    verifier.refresh()
    assert verifier.verify(paper_code.encode()).reason == "ok"


def test_bundle_with_five_thousand_residents(drill: Drill, clock: FakeClock) -> None:
    import os
    status = {os.urandom(16): ("red" if i % 7 == 0 else "yellow", drill.now) for i in range(5000)}
    raw = drill.bundle_bytes(seq=2, status=status)
    assert len(raw) < 200_000          # docs/health-codes.md §4.5: ~120 KB for 5,000 residents, sent whole
    b = bundle_mod.load(raw, drill.root.public_key())
    assert len(b.status) == 5000


def test_issuer_listing_one_alg_refuses_the_other(drill: Drill) -> None:
    with pytest.raises(BundleError, match="does not fit its key"):
        drill.bundle_bytes(seq=2, issuers=[IssuerKey(drill.issuer.public_key(), cose.EDDSA)])


def test_a_bundle_marking_an_unknown_header_critical_is_refused(tmp_path: Path) -> None:
    """RFC 9052 §3.1: the endorsement may be marked critical (the kiosk processes it), nothing else."""
    clock = FakeClock(wall=1_780_000_000.0)
    drill = make_drill(tmp_path, clock)
    root = drill.root.public_key()
    raw = drill.bundle_bytes(2)
    payload, endorsement = cose.parse(raw, frozenset({bundle_mod.H_ENDORSEMENT})).payload, drill.endorsement
    end = bundle_mod.H_ENDORSEMENT
    ok = cose.sign1(payload, drill.street, {end: endorsement, cose.H_CRIT: [end]})
    assert bundle_mod.load(ok, root).seq == 2
    bad = cose.sign1(payload, drill.street, {end: endorsement, cose.H_CRIT: [-70000], -70000: 1})
    with pytest.raises(BundleError, match="critical"):
        bundle_mod.load(bad, root)
