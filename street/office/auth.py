"""The office's login, and the guard in front of every office page (docs/security.md §3).

:func:`install` makes the office application deny by default: every request except the login
page needs a session, so a page added later (issue 15's board, rosters, reports) is behind the
login even if its author forgets; every unsafe method (POST, PUT, PATCH, DELETE) needs the
session's CSRF token (a form field ``csrf`` or an ``X-CSRF-Token`` header) and is refused to an
inspector (read-only). Inside a view :func:`user` is the signed-in account, and
``user().scope(asked)`` narrows a scope to what the account may see; :func:`require` limits a
view to some roles.

Cookies: ``HttpOnly``, ``SameSite=Strict``, and ``Secure`` unless the page was asked for over
plain http on the loopback address (a test, or a front proxy on the same machine that terminates
TLS and says so with ``X-Forwarded-Proto: https`` — then ``Secure`` again). The login form has
its own double-submit CSRF cookie.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote

from flask import Flask, Response, g, redirect, request

from kiosk.clock import Clock
from street.office.accounts import LOCK_S, MAX_FAILURES, Accounts, Forbidden, Session, User, same
from street.storage.db import StreetDB

COOKIE = "street_office"
LOGIN_COOKIE = "street_login"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
PUBLIC = frozenset({LOGIN_PATH})
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

F = TypeVar("F", bound=Callable[..., Any])


def user() -> User:
    """The signed-in account of this request (only inside a guarded view)."""
    session: Session = g.office_session
    return session.user


def csrf_token() -> str:
    """The token a form of this session must send back as its ``csrf`` field."""
    session: Session = g.office_session
    return session.csrf


def require(*roles: str) -> Callable[[F], F]:
    """Limit a view to accounts of ``roles`` (the login itself is already enforced for all)."""
    def wrap(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kw: Any) -> Any:
            if user().role not in roles:
                raise Forbidden(f"this page is for {' or '.join(roles)} accounts")
            return view(*args, **kw)
        return guarded  # type: ignore[return-value]
    return wrap


def _secure() -> bool:
    """Whether the cookie gets ``Secure``: always, except plain http to the loopback address."""
    if request.headers.get("X-Forwarded-Proto", "").lower() == "https" or request.scheme == "https":
        return True
    host = request.host or ""
    name = host.split("]")[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]
    return name not in LOOPBACK_HOSTS


def _text(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def _login_page(message: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    nxt = request.values.get("next", "/")
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>登录 Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>登录 Sign in</h1>
{f'<p role="alert">{html.escape(message)}</p>' if message else ''}
<form method="post" action="{LOGIN_PATH}">
<input type="hidden" name="csrf" value="{token}">
<input type="hidden" name="next" value="{html.escape(_safe_next(nxt))}">
<p><label>用户名 User <input name="username" autocomplete="username" required></label></p>
<p><label>密码 Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">登录 Sign in</button></p>
</form></body></html>
"""
    resp = Response(page, status=status, mimetype="text/html")
    resp.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", secure=_secure(), path=LOGIN_PATH)
    return resp


def _safe_next(nxt: str) -> str:
    """Only a path of this site: never ``//evil`` or ``https://…`` (open redirects)."""
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt and len(nxt) < 512 else "/"


def install(app: Flask, db: StreetDB, clock: Clock) -> Accounts:
    """Put the login in front of every route of ``app`` (see the module docstring)."""
    accounts = Accounts(db, clock)

    @app.errorhandler(Forbidden)
    def forbidden(exc: Forbidden) -> Response:
        return _text(403, str(exc))

    @app.before_request
    def guard() -> Response | None:
        if request.path in PUBLIC:
            return None
        session = accounts.session(request.cookies.get(COOKIE))
        if session is None:
            if request.method == "GET":
                return redirect(f"{LOGIN_PATH}?next={quote(_safe_next(request.full_path.rstrip('?')), safe='/?=&')}",
                                303)                            # type: ignore[return-value]
            return _text(401, "sign in first")
        g.office_session = session
        if request.method in UNSAFE:
            sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token")
            if not same(sent, session.csrf):
                return _text(403, "the form is stale or not from this site (CSRF check failed): reload the page")
            if session.user.read_only and request.path != LOGOUT_PATH:
                return _text(403, "an inspector account is read-only")
        return None

    @app.after_request
    def no_framing(resp: Response) -> Response:
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    @app.get(LOGIN_PATH)
    def login_form() -> Response:
        return _login_page()

    @app.post(LOGIN_PATH)
    def login() -> Response:
        if not same(request.form.get("csrf"), request.cookies.get(LOGIN_COOKIE)):
            return _login_page("表单已过期，请重试 The form expired: try again.", 403)
        token = accounts.login(request.form.get("username", "")[:64], request.form.get("password", ""))
        if token is None:
            return _login_page(f"用户名或密码错误 Wrong user name or password (after {MAX_FAILURES} failures "
                               f"an account is locked for {LOCK_S / 60:.0f} minutes).", 401)
        resp = redirect(_safe_next(request.form.get("next", "/")), 303)
        resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=_secure(), path="/")
        resp.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
        return resp                                                # type: ignore[return-value]

    @app.post(LOGOUT_PATH)
    def logout() -> Response:
        accounts.logout(request.cookies.get(COOKIE, ""))
        resp = redirect(LOGIN_PATH, 303)
        resp.delete_cookie(COOKIE, path="/")
        return resp                                                # type: ignore[return-value]

    return accounts
