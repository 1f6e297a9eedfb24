"""What kiosks call: ``POST /v1/records`` (ingest a batch), ``POST /v1/lost`` (seqs a damaged log
lost for good), ``POST /v1/heartbeat``, ``GET /v1/bundle`` (the latest trust bundle of the
kiosk's street, ETag / If-None-Match, held in memory a few seconds: street/api/bundle_cache.py),
and ``GET /healthz`` for monitors.

Every kiosk route is signed (street/api/auth.py). Bad input of any kind gets a 4xx JSON answer
``{"error": reason, "code": ...}`` and nothing is stored; only the server's own trouble
(database busy, full or unreachable) is a 5xx, as 503 with ``Retry-After``. The office's pages
are another application (street/office/routes.py) served from another thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from kiosk.clock import Clock
from street.api.auth import Authenticator, Caller
from street.api.bundle_cache import BundleCache
from street.api.validate import check_batch, check_heartbeat, check_lost
from street.errors import Conflict, StoreUnavailable
from street.storage.db import StreetDB
from sync import protocol, signing
from sync.errors import BadRequest

log = logging.getLogger("street.server")

IngestHook = Callable[[str, dict[str, Any]], None]


def json_error(status: int, message: str, code: str) -> Response:
    resp = jsonify({"error": message, "code": code})
    resp.status_code = status
    if status == 503:
        resp.headers["Retry-After"] = "5"
    return resp


def stamp_server_time(app: Flask, clock: Clock) -> None:
    """Every answer carries the server's clock, stamped last: kiosks estimate their offset from it
    (Cristian's algorithm), and nothing the server says is cached."""

    @app.after_request
    def stamp(resp: Response) -> Response:
        resp.headers["X-Server-Time"] = f"{clock.wall():.3f}"
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp


def sign_answers(app: Flask, server_key: Ed25519PrivateKey | None) -> None:
    """Every answer to a kiosk whose signature held carries ``X-Answer-Signature`` over its status,
    time, body and the request's nonce (sync/signing.py). Registered before the time stamp, so it
    runs after it (Flask runs after-request functions last-registered first)."""

    @app.after_request
    def sign(resp: Response) -> Response:
        caller: Caller | None = g.get("caller")
        if caller is not None:
            message = signing.answer_to_sign(caller.kiosk_id, caller.nonce, resp.status_code,
                                             resp.headers.get("X-Server-Time", ""), resp.get_data())
            sig = signing.sign_answer(caller.kind, caller.key, server_key, message)
            if sig is not None:
                resp.headers[signing.H_ANSWER_SIG] = sig
        return resp


def create_api(db: StreetDB, clock: Clock, *, offline_after: float = 1800.0,
               on_ingest: IngestHook | None = None, server_key: Ed25519PrivateKey | None = None) -> Flask:
    """The kiosk API. ``on_ingest(kiosk_id, answer)`` runs after each committed batch (tests, demo);
    ``server_key`` signs the answers to Ed25519 kiosks (street/registry/server_key.py)."""
    app = Flask("street_api")
    app.config["MAX_CONTENT_LENGTH"] = protocol.MAX_BODY_BYTES
    auth = Authenticator(db, clock)
    bundles = BundleCache(db.latest_bundle, clock, lambda: db.bundles_published)
    sign_answers(app, server_key)
    stamp_server_time(app, clock)

    def identified(caller: Caller) -> None:
        g.caller = caller

    def verify(raw: bytes) -> Caller:
        return auth.verify(request.method, request.path, request.headers, raw, identified)

    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Response:
        return json_error(exc.status, str(exc), exc.code)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return json_error(exc.code or 400, exc.description or exc.name, exc.name.lower().replace(" ", "_"))

    @app.errorhandler(StoreUnavailable)
    def store_trouble(exc: StoreUnavailable) -> Response:
        log.error("database trouble: %s", exc)
        return json_error(503, "street database busy or unreachable; retry later", "unavailable")

    def signed_body(max_plain: int = protocol.MAX_DECOMPRESSED_BYTES) -> tuple[Caller, Any]:
        raw = request.get_data(cache=False)
        caller = verify(raw)
        encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding == "gzip":
            plain = protocol.gunzip_capped(raw, max_plain)
        elif encoding == "identity":
            plain = raw
        else:
            raise BadRequest(f"Content-Encoding {encoding!r} is not supported (gzip or identity)", 415,
                             "unsupported_encoding")
        return caller, protocol.loads_strict(plain)

    @app.post(protocol.RECORDS_PATH)
    def ingest() -> Response:
        caller, body = signed_body()
        batch = check_batch(body, caller.kiosk_id)
        try:
            answer = db.ingest(caller.kiosk_id, batch, caller.nonce, offline_after)
        except Conflict as exc:
            db.record_conflict(caller.kiosk_id, exc)
            log.warning("kiosk %s: %s", caller.kiosk_id, exc)
            return json_error(409, str(exc), "conflict")
        if on_ingest is not None:
            on_ingest(caller.kiosk_id, answer)
        return jsonify(answer)

    @app.post(protocol.LOST_PATH)
    def lost() -> Response:
        caller, body = signed_body(256 * 1024)
        report = check_lost(body, caller.kiosk_id)
        answer = db.report_lost(caller.kiosk_id, report, caller.nonce, offline_after)
        if answer["newly_lost"]:
            log.warning("kiosk %s: %d records of epoch %s reported lost for good", caller.kiosk_id,
                        answer["newly_lost"], report["db_epoch"])
        return jsonify(answer)

    @app.post(protocol.HEARTBEAT_PATH)
    def heartbeat() -> Response:
        caller, body = signed_body(64 * 1024)
        payload = check_heartbeat(body, caller.kiosk_id)
        return jsonify(db.heartbeat(caller.kiosk_id, payload, caller.nonce, offline_after))

    @app.get(protocol.BUNDLE_PATH)
    def bundle() -> Response:
        caller = verify(request.get_data(cache=False))
        latest = bundles.latest(caller.street)
        if latest is None:
            return Response(status=204)
        etag, data = latest
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(data, status=200, mimetype="application/octet-stream", headers={"ETag": etag})

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"ok": True, "server_time": clock.wall()})

    return app
