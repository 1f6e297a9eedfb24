"""A real `street-server` process with kiosks enrolled by its own CLI, for the attack tests,
and the tally each attack reports (tried / refused / 5xx / lost) for README's table."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.office_login import PASSWORD, sign_in
from tests.street.procs import serving, street_cli
from tests.synckit import Signer


@dataclass
class Tally:
    tried: int = 0
    refused: int = 0
    server_errors: int = 0
    statuses: list[int] = field(default_factory=list)

    def count(self, r: requests.Response) -> requests.Response:
        self.tried += 1
        self.statuses.append(r.status_code)
        self.refused += 400 <= r.status_code < 500
        self.server_errors += r.status_code >= 500
        return r


@dataclass
class Site:
    base: str
    db: Path
    kiosks: dict[str, Signer]
    office: requests.Session

    def page(self, path: str) -> requests.Response:
        return self.office.get(self.base + path, timeout=10)


def add_user(db: Path, name: str, role: str, street: str | None = None) -> None:
    """`street-server user add`, the password on stdin as an operator would pipe it."""
    args = ["user", "add", name, "--db", str(db), "--role", role, *(["--street", street] if street else [])]
    out = subprocess.run([sys.executable, "-m", "street.cli", *args], input=PASSWORD + "\n", capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def enrol(db: Path, kiosk_id: str, base: str) -> Signer:
    out = street_cli("kiosk", "add", kiosk_id, "--db", str(db), "--street", "s1", "--compound", "c1",
                     "--gate", kiosk_id)
    assert out.returncode == 0, out.stderr
    assert re.match(r"kiosk-key ed25519 ", out.stdout)
    return Signer(base, kiosk_id, out.stdout)


@contextmanager
def site(tmp_path: Path, kiosks: tuple[str, ...] = ("k1", "k2")) -> Iterator[Site]:
    db = tmp_path / "street.db"
    with serving(db, log=tmp_path / "server.log") as (base, _):
        add_user(db, "district", "district")
        yield Site(base, db, {k: enrol(db, k, base) for k in kiosks}, sign_in(base, "district"))
