"""The thin dispatch in front of the kiosk API (street/api/fast.py) answers exactly as Flask does.

Two servers with the same state (same kiosk credential, same fake clock and server key) get the
same requests, one through the fast path and one through Flask's routes: status, headers and
body must be the same byte for byte — successes, refusals and the cases the fast path leaves to
Flask alike."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from werkzeug.test import EnvironBuilder, run_wsgi_app

from kiosk.clock import FakeClock
from street.app import StreetApp, create_app
from street.registry import credentials
from street.registry.places import Place
from street.storage.db import Registration, StreetDB
from sync import protocol
from tests.synckit import Signer, batch, rec

EPOCH = "f" * 32
NOW = 1_780_000_000.0


def twins(tmp_path: Path, kind: str) -> tuple[list[StreetDB], list[Any], str, str]:
    """Two street databases and apps in the same state; k1's and (revoked) k2's credential files."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    cred = credentials.issue(public if kind == "ed25519" else None)
    cred2 = credentials.issue(public if kind == "ed25519" else None)
    dbs, apps = [], []
    for name in ("fast", "flask"):
        clock = FakeClock(wall=NOW)
        db = StreetDB(tmp_path / f"{name}.db", clock)
        db.register([Registration("k1", Place(), cred), Registration("k2", Place(), cred2)])
        db.revoke_kiosk("k2")
        dbs.append(db)
        apps.append(create_app(db, clock, server_key=key))
    return dbs, apps, cred.kiosk_file, cred2.kiosk_file


def answer(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    it, status, headers = run_wsgi_app(app, environ)
    return status, sorted(headers.items()), b"".join(it)


@pytest.mark.parametrize("kind", ["hmac", "ed25519"])
def test_every_kind_of_answer_is_the_same_as_flasks(tmp_path: Path, kind: str) -> None:
    dbs, apps, credential, credential2 = twins(tmp_path, kind)
    k = Signer("http://x", "k1", credential)
    revoked = Signer("http://x", "k2", credential2)
    one = [rec("k1", EPOCH, 1)]

    def gz(obj: Any) -> bytes:
        return gzip.compress(json.dumps(obj).encode())

    def request(method: str, path: str, body: bytes = b"", signer: Signer = k, *, now: float = NOW,
                enc: str | None = "gzip", extra: dict[str, str] | None = None, sign: bool = True,
                length: str | None = None) -> dict[str, Any]:
        headers = dict(signer.headers(method, path, body, now=now, nonce=protocol.new_nonce())) if sign else {}
        if enc:
            headers["Content-Encoding"] = enc
        headers.update(extra or {})
        env = EnvironBuilder(method=method, path=path, data=body, headers=list(headers.items())).get_environ()
        if length is not None:
            env["CONTENT_LENGTH"] = length
        return env

    cases = {
        "heartbeat": request("POST", protocol.HEARTBEAT_PATH, gz({"kiosk_id": "k1", "sent_wall": NOW})),
        "upload": request("POST", protocol.RECORDS_PATH, gz(batch("k1", EPOCH, one, sent_wall=NOW))),
        "duplicate": request("POST", protocol.RECORDS_PATH, gz(batch("k1", EPOCH, one, sent_wall=NOW))),
        "conflict": request("POST", protocol.RECORDS_PATH,
                            gz(batch("k1", EPOCH, [rec("k1", EPOCH, 1, temp_c=39.0)], sent_wall=NOW))),
        "no bundle": request("GET", protocol.BUNDLE_PATH, enc=None),
        "unsigned": request("POST", protocol.HEARTBEAT_PATH, gz({}), sign=False),
        "bad signature": request("POST", protocol.HEARTBEAT_PATH, gz({}), revoked, extra={"X-Kiosk-Id": "k1"}),
        "revoked write": request("POST", protocol.HEARTBEAT_PATH, gz({"kiosk_id": "k2"}), revoked),
        "revoked": request("GET", protocol.BUNDLE_PATH, b"", revoked, enc=None),
        "clock skew": request("POST", protocol.HEARTBEAT_PATH, gz({"kiosk_id": "k1"}), now=NOW - 3600),
        "encoding": request("POST", protocol.HEARTBEAT_PATH, b"{}", enc="br"),
        "not gzip": request("POST", protocol.HEARTBEAT_PATH, b"{}"),
        "not json": request("POST", protocol.RECORDS_PATH, b"{", enc="identity"),
        "bad batch": request("POST", protocol.RECORDS_PATH, gz({"kiosk_id": "k1"})),
        "other kiosk's batch": request("POST", protocol.RECORDS_PATH, gz(batch("k9", EPOCH, one, sent_wall=NOW))),
        "too large": request("POST", protocol.RECORDS_PATH, b"x", length=str(protocol.MAX_BODY_BYTES + 1)),
        "odd length": request("POST", protocol.HEARTBEAT_PATH, b"", length="1e3"),
        "wrong method": request("PUT", protocol.HEARTBEAT_PATH, gz({})),
        "lost (Flask's own)": request("POST", protocol.LOST_PATH, gz({"db_epoch": EPOCH, "ranges": [[5, 6]],
                                                                        "reason": "damaged"})),
    }
    for publish in (False, True):
        if publish:
            for db in dbs:
                db.publish_bundle(b"bundle")
            cases = {"bundle": request("GET", protocol.BUNDLE_PATH, enc=None),
                     "bundle unchanged": request("GET", protocol.BUNDLE_PATH, enc=None,
                                                 extra={"If-None-Match": dbs[0].latest_bundle()[0]})}  # type: ignore[index]
        for name, env in cases.items():
            fast_app, flask_app = apps
            assert isinstance(fast_app, StreetApp)
            fast = answer(fast_app.kiosk, dict(env, **{"wsgi.input": _copy(env)}))
            slow = answer(flask_app.api, dict(env, **{"wsgi.input": _copy(env)}))
            assert fast == slow, name
    statuses = {name: answer(apps[0], dict(env, **{"wsgi.input": _copy(env)}))[0] for name, env in cases.items()}
    assert statuses == {"bundle": "401 UNAUTHORIZED", "bundle unchanged": "401 UNAUTHORIZED"}  # replays now
    for db in dbs:
        db.close()


def _copy(env: dict[str, Any]) -> Any:
    import io
    stream = env["wsgi.input"]
    stream.seek(0)
    return io.BytesIO(stream.read())
