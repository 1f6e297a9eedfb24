"""sync/signing.py: credential files, request signatures and signed answers, both kinds."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync import protocol, signing


def test_an_ed25519_credential_signs_requests_the_server_checks_with_the_public_key_only() -> None:
    server = Ed25519PrivateKey.generate()
    text, public = signing.new_ed25519(signing.public_bytes(server))
    cred = signing.parse_credential(text)
    assert cred.kind == signing.ED25519 and cred.server_key == signing.public_bytes(server)
    h = cred.sign_headers("k1", "POST", "/v1/records", b"body", 1_780_000_000.0, "n" * 32)
    msg = protocol.string_to_sign("POST", "/v1/records", "k1", h[protocol.H_TIME], "n" * 32, b"body",
                                  signing.LABELS[signing.ED25519])
    assert signing.request_ok(signing.ED25519, public, msg, h[protocol.H_AUTH])
    for other in (msg + b"x", msg.replace(b"k1", b"k2")):
        assert not signing.request_ok(signing.ED25519, public, other, h[protocol.H_AUTH])
    assert not signing.request_ok(signing.HMAC, public, msg, h[protocol.H_AUTH])      # kinds do not mix


@pytest.mark.parametrize("kind", [signing.HMAC, signing.ED25519])
def test_answers_verify_only_for_their_request_status_time_and_body(kind: str) -> None:
    server = Ed25519PrivateKey.generate()
    if kind == signing.HMAC:
        cred = signing.parse_credential(protocol.new_secret())
    else:
        cred = signing.parse_credential(signing.new_ed25519(signing.public_bytes(server))[0])
    msg = signing.answer_to_sign("k1", "nonce-1", 200, "1.000", b'{"acked_through": 5}')
    header = signing.sign_answer(kind, cred.key, server, msg)
    assert cred.answer_ok(msg, header)
    for other in (signing.answer_to_sign("k1", "nonce-2", 200, "1.000", b'{"acked_through": 5}'),
                  signing.answer_to_sign("k2", "nonce-1", 200, "1.000", b'{"acked_through": 5}'),
                  signing.answer_to_sign("k1", "nonce-1", 201, "1.000", b'{"acked_through": 5}'),
                  signing.answer_to_sign("k1", "nonce-1", 200, "2.000", b'{"acked_through": 5}'),
                  signing.answer_to_sign("k1", "nonce-1", 200, "1.000", b'{"acked_through": 6}')):
        assert not cred.answer_ok(other, header)
    assert not cred.answer_ok(msg, None) and not cred.answer_ok(msg, "") and not cred.answer_ok(msg, "x" * 500)


@pytest.mark.parametrize("text", ["", "kiosk-key ed25519 AAAA\nserver-key ed25519 AAAA\n",
                                  "kiosk-key rsa x\nserver-key rsa y\n", "zz" * 32, "kiosk-key ed25519 x\n"])
def test_a_malformed_credential_file_is_one_clear_error(text: str) -> None:
    with pytest.raises(ValueError) as err:
        signing.parse_credential(text)
    assert "\n" not in str(err.value)
