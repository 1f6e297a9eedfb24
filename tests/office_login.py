"""Signing in to the office for the tests: an account made in the database, a real login through
the form (its CSRF cookie and field), and the session cookie handed to Chromium when a page is
checked in the browser."""

from __future__ import annotations

import re
from typing import Any

import requests

from kiosk.clock import SystemClock
from street.office.accounts import Accounts
from street.office.auth import COOKIE
from street.storage.db import StreetDB

PASSWORD = "a long test password"


def add_user(db: StreetDB, name: str = "office", role: str = "district", street: str | None = None) -> None:
    Accounts(db, SystemClock(assume_synced=True)).add(name, PASSWORD, role, street)


def sign_in(base: str, name: str = "office", password: str = PASSWORD) -> requests.Session:
    """A requests session signed in through the login form, as a person would."""
    s = requests.Session()
    form = s.get(base + "/login", timeout=10)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    r = s.post(base + "/login", data={"csrf": token.group(1), "username": name, "password": password},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303 and COOKIE in s.cookies, (r.status_code, r.text[:300])
    return s


def office(db: StreetDB, base: str, name: str = "office", role: str = "district",
           street: str | None = None) -> requests.Session:
    add_user(db, name, role, street)
    return sign_in(base, name)


def desk(server: Any) -> requests.Session:
    """A district account signed in to this running server (made on first use, kept on it)."""
    session: requests.Session | None = getattr(server, "_office_desk", None)
    if session is None:
        session = office(server.db, server.url, "desk")
        server._office_desk = session
    return session
