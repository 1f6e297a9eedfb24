"""The street server's WSGI application: the kiosk API and the office's pages, one port.

Two Flask applications behind one dispatcher: paths under ``/v1/`` and ``/healthz`` go to the
kiosk API (street/api/routes.py), everything else to the office (street/office/routes.py).
:func:`is_kiosk_path` is the one rule, used here and by the server to pick the thread pool a
request waits in (street/server.py). A later front proxy (TLS, the office's login) can route
by the same rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from kiosk.clock import Clock
from street.api.routes import IngestHook, create_api
from street.office.routes import create_office
from street.storage.db import StreetDB

KIOSK_PREFIXES = ("/v1/", "/healthz")


def is_kiosk_path(path: str) -> bool:
    return path.startswith(KIOSK_PREFIXES)


def local_tz() -> dt.tzinfo:
    tz = dt.datetime.now().astimezone().tzinfo
    assert tz is not None
    return tz


class StreetApp:
    """A WSGI callable: kiosk paths to :attr:`api`, the rest to :attr:`office`."""

    def __init__(self, api: Flask, office: Flask) -> None:
        self.api, self.office = api, office

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        app = self.api if is_kiosk_path(environ.get("PATH_INFO") or "") else self.office
        return app(environ, start_response)


def create_app(db: StreetDB, clock: Clock, *, offline_after: float = 1800.0, tz: dt.tzinfo | None = None,
               on_ingest: IngestHook | None = None, server_key: Ed25519PrivateKey | None = None) -> StreetApp:
    return StreetApp(create_api(db, clock, offline_after=offline_after, on_ingest=on_ingest, server_key=server_key),
                     create_office(db, clock, tz=tz or local_tz(), offline_after=offline_after))
