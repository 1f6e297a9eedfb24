"""Issue 14, attack 6 against a real `street-server` process: no page without a login, roles and
streets enforced, CSRF, lock-out, and no spreadsheet formula from kiosk-controlled CSV cells."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import time
from pathlib import Path

import requests

from street.office.accounts import LOCK_S, MAX_FAILURES
from street.office.auth import COOKIE
from sync import protocol
from tests.office_login import PASSWORD, sign_in
from tests.security.attack import Tally, add_user, enrol, site


def test_nothing_of_the_office_is_served_without_a_login(tmp_path: Path) -> None:
    tally = Tally()
    with site(tmp_path) as s:
        anon = requests.Session()
        for path in ("/", "/status.csv", "/?street=s1", "/status.csv?street=s1", "/board", "/anything/else"):
            r = tally.count(anon.get(s.base + path, allow_redirects=False, timeout=10))
            assert r.status_code == 303 and r.headers["Location"].startswith("/login?next="), path
        r = tally.count(anon.post(s.base + "/logout", timeout=10))
        assert r.status_code == 401
        page = s.page("/")
        assert page.status_code == 200 and 'id="cp-k1"' in page.text
        cookie = next(c for c in s.office.cookies if c.name == COOKIE)
        assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "Strict"
        r = tally.count(s.office.get(s.base + "/login?next=//evil.example/", timeout=10))
        assert 'name="next" value="/"' in r.text                                  # no open redirect
    assert tally.server_errors == 0


def test_roles_streets_csrf_and_lock_out(tmp_path: Path) -> None:
    with site(tmp_path) as s:
        add_user(s.db, "s1-office", "street", "s1")
        add_user(s.db, "s2-office", "street", "s2")
        add_user(s.db, "inspector", "inspector")
        mine = sign_in(s.base, "s1-office")
        assert mine.get(s.base + "/", timeout=10).status_code == 200
        assert mine.get(s.base + "/?street=s2", timeout=10).status_code == 403
        theirs = sign_in(s.base, "s2-office")
        assert 'id="cp-k1"' not in theirs.get(s.base + "/", timeout=10).text      # s1's kiosks are not theirs
        # unsafe methods: the session's CSRF token, and never for an inspector
        insp = sign_in(s.base, "inspector")
        assert insp.get(s.base + "/", timeout=10).status_code == 200
        assert insp.post(s.base + "/logout", timeout=10, allow_redirects=False).status_code == 403   # no token
        assert mine.post(s.base + "/logout", data={"csrf": "forged"}, timeout=10).status_code == 403
        # lock-out: MAX_FAILURES wrong passwords, then even the right one is refused
        anon = requests.Session()
        for _ in range(MAX_FAILURES):
            form = anon.get(s.base + "/login", timeout=10).text
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token
            r = anon.post(s.base + "/login", data={"csrf": token.group(1), "username": "s1-office",
                                                   "password": "wrong password!"}, timeout=30)
            assert r.status_code == 401
        form = anon.get(s.base + "/login", timeout=10).text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token
        r = anon.post(s.base + "/login", data={"csrf": token.group(1), "username": "s1-office",
                                               "password": PASSWORD}, timeout=30, allow_redirects=False)
        assert r.status_code == 401 and f"{LOCK_S / 60:.0f} minutes" in r.text
        # a login without the form's own CSRF cookie is refused
        r = requests.post(s.base + "/login", data={"csrf": "x", "username": "district", "password": PASSWORD},
                          timeout=30)
        assert r.status_code == 403
        # the database holds no password and no live session token
        with sqlite3.connect(s.db) as conn:
            hashes = [r[0] for r in conn.execute("SELECT password_hash FROM office_users")]
            tokens = [r[0] for r in conn.execute("SELECT token_hash FROM office_sessions")]
        assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
        assert mine.cookies[COOKIE] not in tokens


def test_csv_cells_from_kiosks_are_never_formulas(tmp_path: Path) -> None:
    with site(tmp_path, ()) as s:
        k = enrol(s.db, "k1", s.base)
        hb = {"kiosk_id": "k1", "sent_wall": time.time(), "on_duty": {"volunteer_ref": "=HYPERLINK(\"x\")"},
              "faults": [{"device": "@SUM(1+1)", "detail": "+cmd|' /C calc'!A0"}]}
        assert k.post(protocol.HEARTBEAT_PATH, hb).status_code == 200
        rows = list(csv.DictReader(io.StringIO(s.page("/status.csv").text)))
        assert rows[0]["volunteer"] == "'=HYPERLINK(\"x\")" and rows[0]["faults"].startswith("'@SUM")
        assert not any(v.startswith(("=", "+", "-", "@")) for row in rows for v in row.values())
