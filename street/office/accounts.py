"""Office accounts and sessions in the street database (schema 3, docs/security.md §3).

- Roles: ``street`` (a street office: its own street only), ``district`` (every street) and
  ``inspector`` (read-only; every street, or one with ``--street``).
- Passwords are kept as Argon2id PHC strings (RFC 9106; OWASP's minimum m=19 MiB, t=2, p=1,
  ~0.1-0.3 s on the street server), never in clear. An unknown name costs the same hash, so
  timing does not tell which accounts exist.
- Lock-out: :data:`MAX_FAILURES` wrong passwords in a row lock the account for
  :data:`LOCK_S`; a right password resets the count.
- A session is a random 32-byte cookie; the database keeps only its SHA-256 (a copy of the
  database opens no session) and the session's CSRF token. Sessions end after
  :data:`SESSION_S`, at logout, and when the password changes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from kiosk.clock import Clock
from street.errors import RegistryError
from street.i18n import say as _
from street.registry.places import CODE_RE, Scope
from street.storage.db import StreetDB
from street.storage.engine import Tx

ROLES = ("street", "district", "inspector")
USER_RE = re.compile(r"[a-z][a-z0-9._-]{1,31}")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
MAX_FAILURES = 5
LOCK_S = 15 * 60.0
SESSION_S = 12 * 3600.0


def _kdf(salt: bytes) -> Argon2id:
    return Argon2id(salt=salt, length=32, iterations=2, lanes=1, memory_cost=19 * 1024)


_DUMMY = _kdf(b"0" * 16).derive_phc_encoded(b"no such user")


class Forbidden(PermissionError):
    """A signed-in user asked for something their role or street does not allow (403)."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    street: str | None        # the street office's street (or an inspector limited to one)

    @property
    def read_only(self) -> bool:
        return self.role == "inspector"

    def scope(self, asked: Scope) -> Scope:
        """What this user may see of ``asked``: a street account only its own street."""
        if self.street is None:
            return asked
        if asked.street not in (None, self.street):
            raise Forbidden(f"this account sees street {self.street} only")
        return Scope(None, self.street, asked.compound, asked.kiosk)


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


def hash_password(password: str) -> str:
    return _kdf(secrets.token_bytes(16)).derive_phc_encoded(password.encode("utf-8"))


def password_ok(password: str, encoded: str) -> bool:
    try:
        Argon2id.verify_phc_encoded(password.encode("utf-8"), encoded)
    except (InvalidKey, ValueError):
        return False
    return True


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise RegistryError(_("a password must have %(min)s to %(max)s characters")
                            % {"min": MIN_PASSWORD, "max": MAX_PASSWORD})
    return password


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


class Accounts:
    """The office's users and sessions, on the street database's engine."""

    def __init__(self, db: StreetDB, clock: Clock) -> None:
        self.db, self.clock = db, clock

    # ------------------------------------------------------------------ users (the CLI)

    def add(self, username: str, password: str, role: str, street: str | None = None) -> None:
        if not USER_RE.fullmatch(username):
            raise RegistryError(_("a user name is 2-32 lowercase letters, digits, '.', '_' or '-', "
                                  "starting with a letter"))
        if role not in ROLES:
            raise RegistryError(_("role must be one of %(roles)s") % {"roles": ", ".join(ROLES)})
        if role == "street" and not street:
            raise RegistryError(_("a street account needs --street"))
        if role == "district" and street:
            raise RegistryError(_("a district account sees every street: leave out --street"))
        if street and not CODE_RE.fullmatch(street):
            raise RegistryError(_("--street must be a code of letters, digits, '.', '_' or '-'"))
        encoded = hash_password(check_password(password))

        def write(tx: Tx) -> None:
            if tx.one("SELECT 1 FROM office_users WHERE username = ?", (username,)):
                raise RegistryError(_("user %(name)s already exists (change the password with `user passwd`)")
                                    % {"name": username})
            tx.run("INSERT INTO office_users (username, password_hash, role, street_id, created) "
                   "VALUES (?, ?, ?, ?, ?)", (username, encoded, role, street, self.clock.wall()))
        self.db.engine.write(write)

    def set_password(self, username: str, password: str) -> None:
        encoded = hash_password(check_password(password))

        def write(tx: Tx) -> None:
            if tx.run("UPDATE office_users SET password_hash = ?, failures = 0, locked_until = 0 "
                      "WHERE username = ?", (encoded, username)) == 0:
                raise RegistryError(_("no user %(name)s") % {"name": username})
            tx.run("DELETE FROM office_sessions WHERE username = ?", (username,))   # sign out everywhere
        self.db.engine.write(write)

    def users(self) -> list[tuple[str, str, str]]:
        return [(r[0], r[1], r[2] or "") for r in self.db.rows(
            "SELECT username, role, street_id FROM office_users ORDER BY username")]

    # ------------------------------------------------------------------ sign-in

    def login(self, username: str, password: str) -> str | None:
        """A new session's cookie value, or None (wrong name or password, or locked out)."""
        now = self.clock.wall()
        row = self.db.engine.read(lambda tx: tx.one(
            "SELECT password_hash, locked_until FROM office_users WHERE username = ?", (username,)))
        if row is None or len(password) > MAX_PASSWORD:
            password_ok(password[:MAX_PASSWORD], _DUMMY)          # the same cost as a real account
            return None
        if float(row[1]) > now:
            return None
        if not password_ok(password, row[0]):
            def fail(tx: Tx) -> None:
                tx.run("UPDATE office_users SET failures = failures + 1 WHERE username = ?", (username,))
                tx.run("UPDATE office_users SET locked_until = ?, failures = 0 WHERE username = ? AND failures >= ?",
                       (now + LOCK_S, username, MAX_FAILURES))
            self.db.engine.write(fail)
            return None
        token = secrets.token_urlsafe(32)

        def start(tx: Tx) -> None:
            tx.run("UPDATE office_users SET failures = 0 WHERE username = ?", (username,))
            tx.run("DELETE FROM office_sessions WHERE expires < ?", (now,))
            tx.run("INSERT INTO office_sessions (token_hash, username, csrf, created, expires) VALUES (?, ?, ?, ?, ?)",
                   (_token_hash(token), username, secrets.token_urlsafe(24), now, now + SESSION_S))
        self.db.engine.write(start)
        return token

    def session(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        row = self.db.engine.read(lambda tx: tx.one(
            "SELECT u.username, u.role, u.street_id, s.csrf, s.expires FROM office_sessions s "
            "JOIN office_users u ON u.username = s.username WHERE s.token_hash = ?", (_token_hash(token),)))
        if row is None or float(row[4]) < self.clock.wall():
            return None
        return Session(User(row[0], row[1], row[2]), row[3])

    def logout(self, token: str) -> None:
        self.db.engine.write(lambda tx: tx.run("DELETE FROM office_sessions WHERE token_hash = ?",
                                               (_token_hash(token),)))


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens (CSRF)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
