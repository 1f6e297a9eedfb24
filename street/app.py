"""The street server's WSGI application: the kiosk API and the office's pages, one port.

Two Flask applications behind one dispatcher: paths under ``/v1/`` and ``/healthz`` go to the
kiosk API (street/api/routes.py), everything else to the office (street/office/routes.py).
:func:`is_kiosk_path` is the one rule, used here and by the server to pick the thread pool a
request waits in (street/server.py). A later front proxy (TLS, the office's login) can route
by the same rule.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from kiosk.clock import Clock
from street.api.fast import KioskFastPath
from street.api.routes import IngestHook, create_api
from street.office.routes import create_office
from street.storage.db import StreetDB

KIOSK_PREFIXES = ("/v1/", "/healthz")
# Admission control. The router stamps each kiosk request with the monotonic time it joined the
# kiosk pool's queue (QUEUED_HEADER, always overwritten: a client cannot set it). A request that
# waited longer than MAX_QUEUE_WAIT_S is answered 503 + Retry-After at once, before any signature
# check or database work: its kiosk (30 s read timeout) has given up or soon will, and serving it
# anyway is how a herd of thousands of kiosks drove the acknowledged rate to zero (every thread
# busy with uploads nobody was waiting for). The kiosk retries later with its full-jitter backoff.
QUEUED_HEADER = "X_STREET_QUEUED"              # waitress' header key; "HTTP_X_STREET_QUEUED" in the environ
MAX_QUEUE_WAIT_S = 10.0
BUSY_BODY = b'{"code": "busy", "error": "the street server is overloaded; retry later"}\n'


def is_kiosk_path(path: str) -> bool:
    return path.startswith(KIOSK_PREFIXES)


def local_tz() -> dt.tzinfo:
    tz = dt.datetime.now().astimezone().tzinfo
    assert tz is not None
    return tz


class StreetApp:
    """A WSGI callable: kiosk paths to :attr:`api`, the rest to :attr:`office`; a kiosk request
    that waited in the queue longer than ``max_queue_wait`` is shed (503) before any work."""

    def __init__(self, api: Flask, office: Flask, clock: Clock | None = None,
                 max_queue_wait: float = MAX_QUEUE_WAIT_S) -> None:
        self.api, self.office = api, office
        self.kiosk = KioskFastPath(api)        # the peak's three requests without Flask's machinery
        self.clock, self.max_queue_wait = clock, max_queue_wait
        self.shed = 0                                  # requests answered 503 busy (tests, logs)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not is_kiosk_path(environ.get("PATH_INFO") or ""):
            return self.office(environ, start_response)
        if self.clock is not None and self.waited(environ) > self.max_queue_wait:
            self.shed += 1
            start_response("503 Service Unavailable", [("Content-Type", "application/json"),
                                                       ("Content-Length", str(len(BUSY_BODY))),
                                                       ("Retry-After", str(random.randint(5, 30)))])
            return [BUSY_BODY]
        return self.kiosk(environ, start_response)

    def waited(self, environ: dict[str, Any]) -> float:
        """Seconds the request waited for a kiosk thread (0 when it was not stamped)."""
        assert self.clock is not None
        try:
            return self.clock.monotonic() - float(environ.get("HTTP_" + QUEUED_HEADER, ""))
        except ValueError:
            return 0.0


def create_app(db: StreetDB, clock: Clock, *, offline_after: float = 1800.0, tz: dt.tzinfo | None = None,
               on_ingest: IngestHook | None = None, server_key: Ed25519PrivateKey | None = None) -> StreetApp:
    return StreetApp(create_api(db, clock, offline_after=offline_after, on_ingest=on_ingest, server_key=server_key),
                     create_office(db, clock, tz=tz or local_tz(), offline_after=offline_after), clock)
