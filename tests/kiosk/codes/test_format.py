"""The GK1 layers: Base45, COSE_Sign1 envelope, CWT claims, key files and holder references."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import errors
from kiosk.codes import base45, cose, keys, token
from kiosk.errors import CodeError

# ------------------------------------------------------------------ Base45 (RFC 9285 §4.3 examples)

@pytest.mark.parametrize("raw, text", [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"),
                                       (b"base-45", "UJCLQE7W581"), (b"ietf!", "QED8WEX0"), (b"", "")])
def test_base45_rfc_examples(raw: bytes, text: str) -> None:
    assert base45.encode(raw) == text
    assert base45.decode(text) == raw


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_base45_round_trips(data: bytes) -> None:
    assert base45.decode(base45.encode(data)) == data


@pytest.mark.parametrize("text", ["A", "GGW", "ZZ", "abc", "AB\n", "ÄÄÄ", "1234"])
def test_base45_rejects_what_it_would_never_encode(text: str) -> None:
    with pytest.raises(errors.Base45Error):
        base45.decode(text)


# ------------------------------------------------------------------ COSE_Sign1

@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_sign1_round_trip_and_kid(alg: str) -> None:
    key = keys.generate(alg)
    raw = cose.sign1(b"payload", key)
    msg = cose.parse(raw)
    assert msg.alg == cose.ALG_BY_NAME[alg] and msg.kid == cose.kid_of(key.public_key())
    assert len(msg.kid) == 8 and len(msg.signature) == 64
    assert cose.verify(msg, key.public_key())
    assert not cose.verify(msg, keys.generate(alg).public_key())


def test_es256_signatures_are_low_s() -> None:
    key = keys.generate("ES256")
    for _ in range(20):
        s = int.from_bytes(cose.parse(cose.sign1(os.urandom(8), key)).signature[32:], "big")
        assert s <= cose._P256_ORDER // 2


@pytest.mark.parametrize("mangle, message", [
    (lambda p, s: cbor2.dumps(cbor2.CBORTag(18, [p, {4: b"x"}, b"x", s])), "unprotected header must be empty"),
    (lambda p, s: cbor2.dumps([p, {}, b"x", s]), "tag 18"),
    (lambda p, s: cbor2.dumps(cbor2.CBORTag(61, cbor2.CBORTag(18, [p, {}, b"x", s]))), "tag 18"),
    (lambda p, s: cbor2.dumps(cbor2.CBORTag(18, [p, {}, b"x", s])) + b"\x00", "canonical"),
    (lambda p, s: cbor2.dumps(cbor2.CBORTag(18, [p, {}, b"x"])), "four items"),
    (lambda p, s: cbor2.dumps(cbor2.CBORTag(18, [p, {}, "x", s])), "byte strings"),
    (lambda p, s: cbor2.dumps(cbor2.CBORTag(18, [b"\x01", {}, b"x", s])), "must be a map"),
])
def test_envelope_has_one_strict_shape(mangle, message: str) -> None:
    protected = cbor2.dumps({1: -7, 4: b"12345678"})
    with pytest.raises(errors.CoseError, match=message):
        cose.parse(mangle(protected, b"\x00" * 64))


def test_wrong_length_or_zero_signatures_do_not_verify() -> None:
    key = keys.generate("ES256")
    msg = cose.parse(cose.sign1(b"p", key))
    for sig in (b"", b"\x00" * 64, msg.signature[:63], msg.signature + b"\x00"):
        assert not cose.verify(cose.Sign1(msg.protected_raw, msg.protected, msg.payload, sig), key.public_key())


def test_other_key_types_are_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    with pytest.raises(errors.CoseError, match="P-256"):
        cose.alg_of(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(errors.CoseError, match="not supported"):
        cose.alg_of(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # type: ignore[arg-type]


# ------------------------------------------------------------------ claims

def test_claims_round_trip_and_text_is_qr_alphanumeric() -> None:
    key = keys.generate("ES256")
    c = token.Claims(iss="CN-410105-S07", sub=os.urandom(16), iat=1_780_000_000, exp=1_780_000_060,
                     cti=os.urandom(16), kind="paper", colour="yellow", scope=("c1", "c2/north"), nbf=1_780_000_000,
                     as_of=1_779_999_000)
    text = token.issue(c, key)
    assert set(text[4:]) <= set(base45.ALPHABET) and len(text) < 300
    assert token.decode_claims(cose.parse(token.unwrap(text)).payload) == c


@pytest.mark.parametrize("change", [
    {"sub": b"short"}, {"cti": b"1234"}, {"kind": "tourist"}, {"colour": "blue"}, {"scope": ()}, {"iss": ""},
])
def test_issuing_refuses_malformed_claims(change: dict[str, object]) -> None:
    base: dict[str, object] = dict(iss="S", sub=bytes(16), iat=1, exp=2, cti=bytes(16), kind="dynamic",
                                   colour="green", scope=("c1",))
    base.update(change)
    with pytest.raises(errors.TokenError):
        token.issue(token.Claims(**base), keys.generate("EdDSA"))  # type: ignore[arg-type]


@pytest.mark.parametrize("claims", [
    [], {1: "S"}, {1: "S", 2: bytes(16), 4: 2, 6: 1, 7: bytes(16), -65537: {"v": 2, "k": 1, "c": 0, "s": ["c"]}},
    {1: "S", 2: bytes(16), 4: 2.5, 6: 1, 7: bytes(16), -65537: {"v": 1, "k": 1, "c": 0, "s": ["c"]}},
    {1: "S", 2: bytes(16), 4: 2, 6: 1, 7: bytes(16), -65537: {"v": 1, "k": True, "c": 0, "s": ["c"]}},
    {1: "S", 2: bytes(16), 4: 2, 6: 1, 7: bytes(16), -65537: {"v": 1, "k": 1, "c": 0, "s": "c"}},
])
def test_decoding_refuses_malformed_claims(claims: object) -> None:
    with pytest.raises(errors.TokenError):
        token.decode_claims(cbor2.dumps(claims))


# ------------------------------------------------------------------ key files

@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_key_files_round_trip_and_private_keys_are_0600(tmp_path: Path, alg: str) -> None:
    key = keys.generate(alg)
    keys.save_private(tmp_path / "k.key", key)
    keys.save_public(tmp_path / "k.pub", key.public_key())
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600
    again = keys.load_private(tmp_path / "k.key")
    assert cose.kid_of(again.public_key()) == cose.kid_of(key.public_key())
    assert cose.kid_of(keys.load_public(tmp_path / "k.pub")) == cose.kid_of(key.public_key())
    assert cose.kid_of(keys.load_public(tmp_path / "k.key")) == cose.kid_of(key.public_key())
    with pytest.raises(CodeError, match="already exists"):
        keys.save_private(tmp_path / "k.key", keys.generate(alg))


def test_bad_key_files_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("hello")
    with pytest.raises(CodeError, match=r"junk\.pem"):
        keys.load_private(tmp_path / "junk.pem")
    with pytest.raises(CodeError, match="not found"):
        keys.load_public(tmp_path / "missing.pub")


def test_holder_reference_is_an_hmac_of_the_normalised_id(tmp_path: Path) -> None:
    pkey = keys.new_pseudonym_key()
    keys.save_pseudonym_key(tmp_path / "p.key", pkey)
    assert stat.S_IMODE((tmp_path / "p.key").stat().st_mode) == 0o600
    assert keys.load_pseudonym_key(tmp_path / "p.key") == pkey
    ref = keys.holder_ref(pkey, "41010519900101123X")
    assert len(ref) == 16
    assert keys.holder_ref(pkey, " 410105-19900101-123x ") == ref
    assert keys.holder_ref(pkey, "４１０１０５１９９００１０１１２３Ｘ") == ref          # full-width digits
    assert keys.holder_ref(keys.new_pseudonym_key(), "41010519900101123X") != ref
    assert b"41010519900101123X" not in ref
    with pytest.raises(CodeError, match="empty"):
        keys.holder_ref(pkey, "  ")
