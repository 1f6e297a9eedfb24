"""What the office reads: ``GET /`` (the status page) and ``GET /status.csv``, scoped by
``?district=``, ``?street=`` and ``?compound=``.

A Flask application of its own, served from its own small thread pool (street/server.py), so a
flood of page loads waits in the office's queue and never in front of a kiosk's upload. Its
pages cost the same whatever the day's records (street/storage/views.py). Errors are short
plain-text pages, never a traceback. Every page needs a login (street/office/auth.py); a street
office's account sees its own street only.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from kiosk.clock import Clock
from street.api.routes import stamp_server_time
from street.doors import board as door_board
from street.errors import DoorError, StoreUnavailable
from street.office import auth, status_page
from street.registry.places import CODE_RE, Scope
from street.storage.db import StreetDB

log = logging.getLogger("street.office")


def scope_of(args: dict[str, str]) -> Scope:
    """The view's scope from the query string; a malformed code is a 400."""
    values: dict[str, str | None] = {}
    for name in ("district", "street", "compound"):
        v = (args.get(name) or "").strip()
        if v and not CODE_RE.fullmatch(v):
            raise ValueError(f"{name} must be a code of letters, digits, '.', '_' or '-'")
        values[name] = v or None
    if values["compound"] and not values["street"]:
        raise ValueError("compound needs its street (?street=…&compound=…)")
    return Scope(values["district"], values["street"], values["compound"])


def create_office(db: StreetDB, clock: Clock, *, tz: dt.tzinfo, offline_after: float = 1800.0) -> Flask:
    app = Flask("street_office")
    stamp_server_time(app, clock)
    auth.install(app, db, clock)           # every page below needs a login (street/office/auth.py)

    def text(status: int, message: str) -> Response:
        resp = Response(message + "\n", status=status, mimetype="text/plain")
        if status == 503:
            resp.headers["Retry-After"] = "5"
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return text(exc.code or 400, exc.description or exc.name)

    @app.errorhandler(StoreUnavailable)
    def store_trouble(exc: StoreUnavailable) -> Response:
        log.error("database trouble: %s", exc)
        return text(503, "The street database is busy or unreachable; this page retries in a minute.")

    def current() -> status_page.Status | Response:
        try:
            scope = auth.user().scope(scope_of(request.args.to_dict()))
        except ValueError as exc:
            return text(400, str(exc))
        return status_page.build(db, clock.wall(), tz, offline_after, scope)

    @app.get("/")
    def status() -> Response:
        st = current()
        if isinstance(st, Response):
            return st
        return Response(status_page.render_html(st), mimetype="text/html")

    @app.get("/status.csv")
    def status_csv() -> Response:
        st = current()
        if isinstance(st, Response):
            return st
        day = dt.datetime.fromtimestamp(st.now, tz).strftime("%Y-%m-%d")
        return Response(status_page.render_csv(st), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="checkpoints-{day}.csv"'})

    @app.get("/quarantine")
    def quarantine() -> Response:
        db.door_sweep()
        street = auth.user().street                 # a street office sees its own households only
        board = db.read(lambda tx: door_board.load(tx, clock.wall(), tz, street))
        return Response(door_board.render_html(board, request.args.get("msg"), auth.csrf_token()),
                        mimetype="text/html")

    @app.get("/quarantine/report.csv")
    def quarantine_report() -> Response:
        day = (request.args.get("day") or "").strip() or None
        try:
            if day is not None:
                dt.date.fromisoformat(day)
        except ValueError:
            return text(400, "day must be a date like 2026-12-05")
        db.door_sweep()
        street = auth.user().street
        body = db.read(lambda tx: door_board.report_csv(tx, clock.wall(), tz, day, street))
        name = day or dt.datetime.fromtimestamp(clock.wall(), tz).strftime("%Y-%m-%d")
        return Response(body, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="quarantine-{name}.csv"'})

    @app.post("/quarantine/alerts/<int:alert_id>/ack")
    def acknowledge(alert_id: int) -> Response:
        staff = auth.user()          # the signed-in account acknowledges (the guard checked CSRF and read-only)
        if staff.street is not None and db.read(lambda tx: door_board.alert_street(tx, alert_id)) != staff.street:
            return text(403, "this alert is not in your street")
        try:
            db.door_acknowledge(alert_id, staff.username, request.form.get("note") or "")
        except DoorError as exc:
            return text(400, str(exc))
        return Response(status=303, headers={"Location": "../../../quarantine?msg=acknowledged"})

    return app
