"""What the office reads: ``GET /`` (the board) and ``GET /status.csv``; ``GET /report`` (the daily
report), ``/report.csv`` and ``/report.xlsx``; ``/report/week`` (seven days from ``?from=``) and
``/report/post?kiosk=`` (one checkpoint's day), each with its ``.csv`` and ``.xlsx`` — scoped by
``?district=``, ``?street=`` and ``?compound=``, read in the street's time zone
(street/storage/zones.py); ``?lang=en`` for English (Chinese otherwise), ``?state=`` and
``?view=`` on the board, ``?day=`` on the reports. Every view is behind the login (street/office/auth.py).

A Flask application of its own, served from its own small thread pool (street/server.py), so a
flood of page loads waits in the office's queue and never in front of a kiosk's upload. Its
pages cost the same whatever the day's records (street/storage/views.py). Errors are short
plain-text pages, never a traceback. Every page needs a login (street/office/auth.py); a street
office's account sees its own street only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, request
from werkzeug.exceptions import BadRequest, HTTPException, NotFound

from kiosk.clock import Clock
from street import i18n
from street.api.routes import stamp_server_time
from street.doors import board as door_board
from street.errors import DoorError, StoreUnavailable
from street.office import auth, fault_text, report, report_export, report_week, status_page
from street.registry.places import CODE_RE, Scope
from street.storage import zones
from street.storage.db import StreetDB
from sync.protocol import KIOSK_ID_RE

log = logging.getLogger("street.office")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
T = TypeVar("T")


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


def state_of(args: dict[str, str]) -> str:
    """The board's state filter (``?state=fever`` …; empty for all); an unknown state is a 400."""
    state = (args.get("state") or "").strip()
    if state and state not in status_page.ATTENTION:
        raise ValueError(f"state must be one of {', '.join(status_page.ATTENTION)}")
    return state


def view_of(args: dict[str, str]) -> str:
    """The board's view: a row per post ("list", the default) or a tile per post ("grid")."""
    view = args.get("view") or "list"
    if view not in status_page.VIEWS:
        raise ValueError(f"view must be one of {', '.join(status_page.VIEWS)}")
    return view


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

    def asked() -> dict[str, str]:
        return request.args.to_dict()

    def checked(what: Callable[[], T]) -> T:
        """``what()``, a ValueError (a malformed query) becoming a one-line 400."""
        try:
            return what()
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    def current() -> status_page.Status:
        scope, state = checked(lambda: (auth.user().scope(scope_of(asked())), state_of(asked())))
        return status_page.build(db, clock.wall(), zones.zone_of(db, scope, tz), offline_after, scope, state)

    def lang() -> str:
        return checked(lambda: i18n.pick(request.args.get("lang")))

    def report_of() -> report.Report:
        now = clock.wall()
        scope = checked(lambda: auth.user().scope(scope_of(asked())))
        zone = zones.zone_of(db, scope, tz)              # the street's own "today" (street/storage/zones.py)
        day = checked(lambda: report.day_of(request.args.get("day"), now, zone))
        return report.build_report(db, day, zone, now, scope, offline_after)

    def week_of() -> report_week.Week:
        now = clock.wall()
        scope = checked(lambda: auth.user().scope(scope_of(asked())))
        zone = zones.zone_of(db, scope, tz)
        first = checked(lambda: report_week.first_day_of(request.args.get("from"), now, zone))
        return report_week.build_week(db, first, zone, now, scope, offline_after)

    def post_of() -> report.Report:
        kiosk = (request.args.get("kiosk") or "").strip()
        if not KIOSK_ID_RE.fullmatch(kiosk):
            raise BadRequest(f"kiosk must be a checkpoint id such as cp-001, not {kiosk[:40]!r}")
        now = clock.wall()
        scope = checked(lambda: auth.user().scope(report_week.post_scope(kiosk, scope_of(asked()))))
        zone = zones.zone_of(db, scope, tz)
        day = checked(lambda: report.day_of(request.args.get("day"), now, zone))
        rep = report.build_report(db, day, zone, now, scope, offline_after)
        if not rep.posts:
            raise NotFound(f"no checkpoint {kiosk} in your view")
        return rep

    def download(body: str | bytes, mimetype: str, name: str) -> Response:
        return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/")
    def status() -> Response:
        st = current()
        view = checked(lambda: view_of(asked()))
        return Response(status_page.render_html(fault_text.translated(st, lang()), view, lang()), mimetype="text/html")

    @app.get("/status.csv")
    def status_csv() -> Response:
        st = current()
        day = dt.datetime.fromtimestamp(st.now, st.tz).strftime("%Y-%m-%d")
        return download(status_page.render_csv(st), "text/csv", f"checkpoints-{day}.csv")

    def page(html: Callable[[str, str], str]) -> Response:
        """A report page, its links carrying the query it was asked with (scope, day, language)."""
        query = "?" + request.query_string.decode("ascii", "replace") if request.query_string else ""
        return Response(html(lang(), query), mimetype="text/html")

    def xlsx(body: Callable[[Callable[[str], str]], bytes], name: str) -> Response:
        return download(body(i18n.translations(lang()).gettext), XLSX, name)

    @app.get("/report")
    def report_page() -> Response:
        rep = report_of()
        return page(lambda lg, q: report.render_html(rep, lg, q))

    @app.get("/report.csv")
    def report_csv() -> Response:
        rep = report_of()
        return download(report_export.to_csv(rep), "text/csv", f"report-{rep.day}.csv")

    @app.get("/report.xlsx")
    def report_xlsx() -> Response:
        rep = report_of()
        return xlsx(lambda _: report_export.to_xlsx(rep, _), f"report-{rep.day}.xlsx")

    @app.get("/report/week")
    def week_page() -> Response:
        week = week_of()
        return page(lambda lg, q: report_week.render_week_html(week, lg, q))

    @app.get("/report/week.csv")
    def week_csv() -> Response:
        week = week_of()
        return download(report_export.week_csv(week), "text/csv", f"week-{week.first}.csv")

    @app.get("/report/week.xlsx")
    def week_xlsx() -> Response:
        week = week_of()
        return xlsx(lambda _: report_export.week_xlsx(week, _), f"week-{week.first}.xlsx")

    @app.get("/report/post")
    def post_page() -> Response:
        rep = post_of()
        return page(lambda lg, q: report_week.render_post_html(rep, lg, q))

    @app.get("/report/post.csv")
    def post_csv() -> Response:
        rep = post_of()
        return download(report_export.hours_csv(rep), "text/csv",
                        f"checkpoint-{rep.posts[0].cp.kiosk_id}-{rep.day}.csv")

    @app.get("/report/post.xlsx")
    def post_xlsx() -> Response:
        rep = post_of()
        return xlsx(lambda _: report_export.to_xlsx(rep, _), f"checkpoint-{rep.posts[0].cp.kiosk_id}-{rep.day}.xlsx")

    @app.get("/quarantine")
    def quarantine() -> Response:
        db.door_sweep()
        street = auth.user().street                 # a street office sees its own households only
        board = db.read(lambda tx: door_board.load(tx, clock.wall(), tz, street))
        return Response(door_board.render_html(board, request.args.get("msg"), auth.csrf_token(), lang()),
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
        back = "" if request.form.get("lang") != "en" else "&lang=en"
        return Response(status=303, headers={"Location": f"../../../quarantine?msg=acknowledged{back}"})

    return app
