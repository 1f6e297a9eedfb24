"""street/office/auth.py as later pages (issue 15's) will use it: a new route is behind the login
without doing anything, ``require`` limits it to roles, unsafe methods need the CSRF token and are
refused to inspectors, and ``user().scope`` narrows a street account to its street."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from flask import Flask, Response, jsonify, request
from flask.testing import FlaskClient

from kiosk.clock import FakeClock
from street.office import auth
from street.office.accounts import Accounts
from street.office.routes import create_office, scope_of
from street.storage.db import StreetDB
from tests.office_login import PASSWORD, add_user


def _app(tmp_path: Path) -> tuple[Flask, StreetDB]:
    db = StreetDB(tmp_path / "street.db", FakeClock(wall=1_780_000_000.0))
    app = create_office(db, FakeClock(wall=1_780_000_000.0), tz=dt.UTC)

    @app.get("/board")                                  # a page added later, with no guard of its own
    def board() -> Response:
        return jsonify(user=auth.user().username, scope=vars(auth.user().scope(scope_of(request.args.to_dict()))))

    @app.post("/rosters")
    @auth.require("street", "district")
    def rosters() -> Response:
        return jsonify(ok=True)

    @app.get("/district-only")
    @auth.require("district")
    def district_only() -> Response:
        return jsonify(ok=True)

    for name, role, street in (("s1", "street", "S01"), ("dist", "district", None), ("insp", "inspector", None)):
        add_user(db, name, role, street)
    return app, db


def _login(app: Flask, db: StreetDB, name: str) -> tuple[FlaskClient, str]:
    """A client signed in through the form, and its session's CSRF token (as a page would embed it)."""
    c = app.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").get_data(as_text=True))
    assert token
    r = c.post("/login", data={"csrf": token.group(1), "username": name, "password": PASSWORD})
    assert r.status_code == 303, r.get_data(as_text=True)
    cookie = c.get_cookie(auth.COOKIE)
    assert cookie is not None
    session = Accounts(db, FakeClock(wall=1_780_000_000.0)).session(cookie.value)
    assert session is not None
    return c, session.csrf


def test_a_new_page_is_behind_the_login_and_roles_and_csrf_hold(tmp_path: Path) -> None:
    app, db = _app(tmp_path)
    try:
        anon = app.test_client()
        assert anon.get("/board").status_code == 303
        assert anon.post("/rosters").status_code == 401
        street, street_csrf = _login(app, db, "s1")
        assert street.get("/board").get_json()["scope"]["street"] == "S01"
        assert street.get("/board?street=S02").status_code == 403
        assert street.get("/district-only").status_code == 403
        assert street.post("/rosters").status_code == 403                      # no token
        assert street.post("/rosters", data={"csrf": street_csrf}).status_code == 200
        assert street.post("/rosters", headers={"X-CSRF-Token": street_csrf}).status_code == 200
        district, _ = _login(app, db, "dist")
        assert district.get("/district-only").status_code == 200
        assert district.get("/board?street=S02").get_json()["scope"]["street"] == "S02"
        inspector, insp_csrf = _login(app, db, "insp")
        assert inspector.get("/board").status_code == 200
        assert inspector.post("/rosters", data={"csrf": insp_csrf}).status_code == 403     # read-only
        assert inspector.post("/logout", data={"csrf": insp_csrf}).status_code == 303
        assert inspector.get("/board").status_code == 303                      # signed out
    finally:
        db.close()
