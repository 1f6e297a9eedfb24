"""Mutation: no flipped, inserted or deleted byte turns a valid GK1 code into another valid one.

Two layers are mutated: the QR text (what a camera misreads or a forger edits) and the COSE bytes
under the Base45 (re-encoded, so each mutant reaches the CBOR and signature checks). The
systematic test makes every single-edit mutant of four valid codes (> 10,000 in all); the
property test adds random multi-edit mutants. Both call the verifier's raising core, so an
unexpected exception fails the test instead of hiding as ``decode_error``.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.clock import FakeClock
from kiosk.codes import base45, token
from kiosk.codes.verifier import CodeVerifier
from kiosk.schema import REASONS
from tests.codes_support import HOLDER, make_drill, make_verifier

B45 = base45.ALPHABET.encode()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[CodeVerifier, list[bytes]]:
    clock = FakeClock(wall=1_780_000_000.0, synced=True)
    drill = make_drill(tmp_path_factory.mktemp("mut"), clock)
    verifier = make_verifier(drill, clock)
    t = clock.wall()
    codes = [drill.code("green", HOLDER, t).encode(), drill.code("green", HOLDER, t, alg="EdDSA").encode(),
             token.issue(token.Claims(iss="DEMO-STREET-S01", sub=HOLDER, iat=int(t), exp=int(t) + 86400,
                                      cti=token.new_cti(), kind="paper", colour="green", scope=("c1",)),
                         drill.issuer).encode(),
             drill.code("volunteer", HOLDER, t, alg="EdDSA").encode()]
    for code in codes:
        assert verifier._verify(code).reason == "ok"
    return verifier, codes


def text_mutants(code: bytes, rng: random.Random) -> list[bytes]:
    out = []
    for i in range(len(code)):
        out.append(code[:i] + code[i + 1:])                                   # delete
        for bit in range(8):
            out.append(code[:i] + bytes([code[i] ^ (1 << bit)]) + code[i + 1:])   # flip
        out.append(code[:i] + bytes([rng.choice(B45)]) + code[i:])            # insert
        sub = rng.choice([c for c in B45 if c != code[i]])
        out.append(code[:i] + bytes([sub]) + code[i + 1:])                    # substitute
    return out


def binary_mutants(code: bytes, rng: random.Random) -> list[bytes]:
    raw = token.unwrap(code.decode())
    out = []
    for i in range(len(raw)):
        variants = [raw[:i] + raw[i + 1:], raw[:i] + bytes([rng.randrange(256)]) + raw[i:]]
        variants += [raw[:i] + bytes([raw[i] ^ (1 << bit)]) + raw[i + 1:] for bit in range(8)]
        out += [(token.PREFIX + base45.encode(v)).encode() for v in variants]
    return out


def test_no_single_edit_mutant_verifies(setup: tuple[CodeVerifier, list[bytes]]) -> None:
    verifier, codes = setup
    rng = random.Random(5)
    total = 0
    for code in codes:
        for mutant in text_mutants(code, rng) + binary_mutants(code, rng):
            if mutant == code:
                continue
            verdict = verifier._verify(mutant)
            assert verdict.reason != "ok", mutant
            assert verdict.reason in REASONS
            total += 1
    assert total >= 10_000, total


edits = st.lists(st.tuples(st.sampled_from(["flip", "insert", "delete"]), st.floats(0, 1, exclude_max=True),
                           st.integers(0, 255)), min_size=1, max_size=4)


@given(which=st.integers(0, 3), layer=st.sampled_from(["text", "binary"]), ops=edits)
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_random_multi_edit_mutant_verifies(setup: tuple[CodeVerifier, list[bytes]], which: int, layer: str,
                                              ops: list[tuple[str, float, int]]) -> None:
    verifier, codes = setup
    code = codes[which]
    data = bytearray(code if layer == "text" else token.unwrap(code.decode()))
    for op, where, value in ops:
        i = int(where * len(data)) if data else 0
        if op == "flip" and data:
            data[i] ^= value or 1
        elif op == "insert":
            data.insert(i, value)
        elif op == "delete" and data:
            del data[i]
    mutant = bytes(data) if layer == "text" else (token.PREFIX + base45.encode(bytes(data))).encode()
    if mutant != code:
        assert verifier._verify(mutant).reason != "ok"


@given(payload=st.binary(max_size=600) | st.binary(max_size=600).map(lambda b: b"GK1:" + base45.encode(b).encode()))
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_bytes_get_a_verdict(setup: tuple[CodeVerifier, list[bytes]], payload: bytes) -> None:
    assert setup[0]._verify(payload).reason in REASONS
