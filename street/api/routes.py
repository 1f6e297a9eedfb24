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
from werkzeug.exceptions import HTTPException, InternalServerError

from kiosk.clock import Clock
from street.api.auth import Authenticator, Caller, HeaderSource
from street.api.bundle_cache import BundleCache
from street.api.validate import check_batch, check_heartbeat, check_lost
from street.errors import Conflict, StoreUnavailable
from street.storage.db import StreetDB
from sync import protocol, signing
from sync.errors import BadRequest

log = logging.getLogger("street.server")

IngestHook = Callable[[str, dict[str, Any]], None]


def stamp(resp: Response, clock: Clock) -> None:
    """The server's clock on an answer, and no caching (see :func:`stamp_server_time`)."""
    resp.headers["X-Server-Time"] = f"{clock.wall():.3f}"
    resp.headers.setdefault("Cache-Control", "no-store")


def stamp_server_time(app: Flask, clock: Clock) -> None:
    """Every answer carries the server's clock, stamped last: kiosks estimate their offset from it
    (Cristian's algorithm), and nothing the server says is cached."""

    @app.after_request
    def stamped(resp: Response) -> Response:
        stamp(resp, clock)
        return resp


Identified = Callable[[Caller], None]


class KioskApi:
    """What each kiosk route does, apart from the web framework: each handler takes the request's
    method, path, headers and raw body and returns the answer (a ``Response`` of the API's Flask
    class, made exactly as Flask would: ``app.json.response`` is ``jsonify``). Flask's routes call
    them, and so does the thin dispatch in front of Flask for the three requests a district peak
    is made of (street/api/fast.py): one code path, the same answers."""

    def __init__(self, app: Flask, db: StreetDB, clock: Clock, *, offline_after: float,
                 on_ingest: IngestHook | None, server_key: Ed25519PrivateKey | None) -> None:
        self.app, self.db, self.clock = app, db, clock
        self.offline_after, self.on_ingest, self.server_key = offline_after, on_ingest, server_key
        self.auth = Authenticator(db, clock)
        self.bundles = BundleCache(db.latest_bundle, clock, lambda: db.bundles_published)

    def json(self, obj: Any, status: int = 200) -> Response:
        resp = self.app.json.response(obj)
        assert isinstance(resp, Response)           # the app's response_class: flask.Response
        resp.status_code = status
        return resp

    def error(self, status: int, message: str, code: str) -> Response:
        resp = self.json({"error": message, "code": code}, status)
        if status == 503:
            resp.headers["Retry-After"] = "5"
        return resp

    def refusal(self, exc: Exception) -> Response:
        """The answer to a request that failed: the same as Flask's error handlers give."""
        if isinstance(exc, BadRequest):
            return self.error(exc.status, str(exc), exc.code)
        if isinstance(exc, StoreUnavailable):
            log.error("database trouble: %s", exc)
            return self.error(503, "street database busy or unreachable; retry later", "unavailable")
        if not isinstance(exc, HTTPException):
            log.error("exception on a kiosk request", exc_info=exc)
            exc = InternalServerError(original_exception=exc)
        return self.error(exc.code or 400, exc.description or exc.name, exc.name.lower().replace(" ", "_"))

    def finish(self, resp: Response, caller: Caller | None) -> Response:
        """Stamp the time, then sign (the signature covers the stamped time): what Flask's
        after-request functions do (:func:`sign_answers`, :func:`stamp_server_time`)."""
        stamp(resp, self.clock)
        if caller is not None:
            message = signing.answer_to_sign(caller.kiosk_id, caller.nonce, resp.status_code,
                                             resp.headers.get("X-Server-Time", ""), resp.get_data())
            sig = signing.sign_answer(caller.kind, caller.key, self.server_key, message)
            if sig is not None:
                resp.headers[signing.H_ANSWER_SIG] = sig
        return resp

    def signed_body(self, method: str, path: str, headers: HeaderSource, raw: bytes, identified: Identified,
                    max_plain: int = protocol.MAX_DECOMPRESSED_BYTES) -> tuple[Caller, Any]:
        caller = self.auth.verify(method, path, headers, raw, identified)
        encoding = (headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding == "gzip":
            plain = protocol.gunzip_capped(raw, max_plain)
        elif encoding == "identity":
            plain = raw
        else:
            raise BadRequest(f"Content-Encoding {encoding!r} is not supported (gzip or identity)", 415,
                             "unsupported_encoding")
        return caller, protocol.loads_strict(plain)

    def ingest(self, method: str, path: str, headers: HeaderSource, raw: bytes, identified: Identified) -> Response:
        caller, body = self.signed_body(method, path, headers, raw, identified)
        batch = check_batch(body, caller.kiosk_id)
        try:
            answer = self.db.ingest(caller.kiosk_id, batch, caller.nonce, self.offline_after)
        except Conflict as exc:
            self.db.record_conflict(caller.kiosk_id, exc)
            log.warning("kiosk %s: %s", caller.kiosk_id, exc)
            return self.error(409, str(exc), "conflict")
        if self.on_ingest is not None:
            self.on_ingest(caller.kiosk_id, answer)
        return self.json(answer)

    def lost(self, method: str, path: str, headers: HeaderSource, raw: bytes, identified: Identified) -> Response:
        caller, body = self.signed_body(method, path, headers, raw, identified, 256 * 1024)
        report = check_lost(body, caller.kiosk_id)
        answer = self.db.report_lost(caller.kiosk_id, report, caller.nonce, self.offline_after)
        if answer["newly_lost"]:
            log.warning("kiosk %s: %d records of epoch %s reported lost for good", caller.kiosk_id,
                        answer["newly_lost"], report["db_epoch"])
        return self.json(answer)

    def heartbeat(self, method: str, path: str, headers: HeaderSource, raw: bytes,
                  identified: Identified) -> Response:
        caller, body = self.signed_body(method, path, headers, raw, identified, 64 * 1024)
        payload = check_heartbeat(body, caller.kiosk_id)
        return self.json(self.db.heartbeat(caller.kiosk_id, payload, caller.nonce, self.offline_after))

    def bundle(self, method: str, path: str, headers: HeaderSource, raw: bytes, identified: Identified) -> Response:
        caller = self.auth.verify(method, path, headers, raw, identified)
        latest = self.bundles.latest(caller.street)
        if latest is None:
            return self.app.response_class(status=204)
        etag, data = latest
        if headers.get("If-None-Match") == etag:
            return self.app.response_class(status=304, headers={"ETag": etag})
        return self.app.response_class(data, status=200, mimetype="application/octet-stream", headers={"ETag": etag})


def create_api(db: StreetDB, clock: Clock, *, offline_after: float = 1800.0,
               on_ingest: IngestHook | None = None, server_key: Ed25519PrivateKey | None = None) -> Flask:
    """The kiosk API. ``on_ingest(kiosk_id, answer)`` runs after each committed batch (tests, demo);
    ``server_key`` signs the answers to Ed25519 kiosks (street/registry/server_key.py). The
    handlers are ``app.extensions["kiosk_api"]`` (a :class:`KioskApi`)."""
    app = Flask("street_api")
    app.config["MAX_CONTENT_LENGTH"] = protocol.MAX_BODY_BYTES
    api = KioskApi(app, db, clock, offline_after=offline_after, on_ingest=on_ingest, server_key=server_key)
    app.extensions["kiosk_api"] = api

    @app.after_request
    def finish(resp: Response) -> Response:        # Flask runs it after every kiosk route
        return api.finish(resp, g.get("caller"))

    def identified(caller: Caller) -> None:
        g.caller = caller

    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Response:
        return api.refusal(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return api.refusal(exc)

    @app.errorhandler(StoreUnavailable)
    def store_trouble(exc: StoreUnavailable) -> Response:
        return api.refusal(exc)

    def route(handler: Callable[[str, str, HeaderSource, bytes, Identified], Response]) -> Callable[[], Response]:
        def view() -> Response:
            return handler(request.method, request.path, request.headers, request.get_data(cache=False), identified)
        view.__name__ = handler.__name__
        return view

    app.post(protocol.RECORDS_PATH)(route(api.ingest))
    app.post(protocol.LOST_PATH)(route(api.lost))
    app.post(protocol.HEARTBEAT_PATH)(route(api.heartbeat))
    app.get(protocol.BUNDLE_PATH)(route(api.bundle))

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"ok": True, "server_time": clock.wall()})

    return app
