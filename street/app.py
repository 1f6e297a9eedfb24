"""The street server's HTTP application (Flask, served by waitress — see street/server.py).

Routes: ``POST /v1/records`` (ingest a batch), ``POST /v1/lost`` (seqs a damaged log lost for good),
``POST /v1/heartbeat``, ``GET /v1/bundle``
(latest trust bundle, ETag / If-None-Match), ``GET /`` (status page), ``GET /status.csv``,
``GET /healthz``. Every kiosk route is signed (street/api/auth.py). Bad input of any kind gets a 4xx
JSON answer ``{"error": reason, "code": ...}`` and nothing is stored; only the server's own
trouble (database locked or full) is a 5xx, as 503 with ``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from kiosk.clock import Clock
from street.api.auth import Authenticator, Caller
from street.api.validate import check_batch, check_heartbeat, check_lost
from street.errors import Conflict
from street.office import status_page
from street.storage.db import StreetDB
from sync import protocol
from sync.errors import BadRequest

log = logging.getLogger("street.server")

IngestHook = Callable[[str, dict[str, Any]], None]


def _local_tz() -> dt.tzinfo:
    tz = dt.datetime.now().astimezone().tzinfo
    assert tz is not None
    return tz


def create_app(db: StreetDB, clock: Clock, *, offline_after: float = 1800.0, tz: dt.tzinfo | None = None,
               on_ingest: IngestHook | None = None) -> Flask:
    """The WSGI app. ``on_ingest(kiosk_id, answer)`` runs after each committed batch (tests, demo)."""
    app = Flask("street_server")
    app.config["MAX_CONTENT_LENGTH"] = protocol.MAX_BODY_BYTES
    auth = Authenticator(db, clock)
    zone = tz or _local_tz()

    def fail(status: int, message: str, code: str) -> Response:
        resp = jsonify({"error": message, "code": code})
        resp.status_code = status
        if status == 503:
            resp.headers["Retry-After"] = "5"
        return resp

    @app.after_request
    def stamp(resp: Response) -> Response:
        # the server's clock, stamped last: kiosks estimate their offset from it (Cristian)
        resp.headers["X-Server-Time"] = f"{clock.wall():.3f}"
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Response:
        return fail(exc.status, str(exc), exc.code)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return fail(exc.code or 400, exc.description or exc.name, exc.name.lower().replace(" ", "_"))

    @app.errorhandler(sqlite3.OperationalError)
    def store_trouble(exc: sqlite3.OperationalError) -> Response:
        log.error("database trouble: %s", exc)
        return fail(503, "street database busy or full; retry later", "unavailable")

    def signed_body(max_plain: int = protocol.MAX_DECOMPRESSED_BYTES) -> tuple[Caller, Any]:
        raw = request.get_data(cache=False)
        caller = auth.verify(request.method, request.path, request.headers, raw)
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
            resp = fail(409, str(exc), "conflict")
            return resp
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
        auth.verify(request.method, request.path, request.headers, request.get_data(cache=False))
        latest = db.latest_bundle()
        if latest is None:
            return Response(status=204)
        etag, data = latest
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(data, status=200, mimetype="application/octet-stream", headers={"ETag": etag})

    def current_status() -> status_page.Status:
        return status_page.build(db, clock.wall(), zone, offline_after)

    @app.get("/")
    def status() -> Response:
        return Response(status_page.render_html(current_status()), mimetype="text/html")

    @app.get("/status.csv")
    def status_csv() -> Response:
        day = dt.datetime.fromtimestamp(clock.wall(), zone).strftime("%Y-%m-%d")
        return Response(status_page.render_csv(current_status()), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="checkpoints-{day}.csv"'})

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"ok": True, "server_time": clock.wall()})

    return app
