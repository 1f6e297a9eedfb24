"""A thin WSGI dispatch in front of the kiosk API's Flask app, for the three requests a district
peak is made of: ``POST /v1/records``, ``POST /v1/heartbeat`` and ``GET /v1/bundle``.

Why: a kiosk request is small and its handler short, so Flask's per-request machinery (request
and app contexts, URL routing, the werkzeug ``Request``, before/after hooks) was a sixth of a
bundle check's CPU. These three call the same handlers as Flask's routes (street/api/routes.py
:class:`KioskApi`), whose answers are made by Flask's own JSON provider and response class, and
finish them the same way (time stamp, then signature), so an answer — error or not — is the
same byte for byte. Anything else, and any of the three whose body is not a plain
``Content-Length`` within the API's limit (chunked, missing, too large: Flask's own 413 and 400
answers apply), goes to Flask untouched, before a byte of its body is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import ClientDisconnected

from street.api.auth import Caller, HeaderSource
from street.api.routes import Identified, KioskApi
from sync import protocol

Handler = Callable[[str, str, HeaderSource, bytes, Identified], Response]


class KioskFastPath:
    """A WSGI callable: the hot kiosk routes served here, everything else by ``app``."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        api: KioskApi = app.extensions["kiosk_api"]
        self.api = api
        self.limit = int(app.config["MAX_CONTENT_LENGTH"])
        self.routes: dict[tuple[str, str], Handler] = {
            ("POST", protocol.RECORDS_PATH): api.ingest,
            ("POST", protocol.HEARTBEAT_PATH): api.heartbeat,
            ("GET", protocol.BUNDLE_PATH): api.bundle,
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        handler = self.routes.get((method, path))
        length = self._length(environ) if handler is not None else None
        if handler is None or length is None:
            return self.app(environ, start_response)
        # waitress hands over exactly Content-Length bytes (wsgi.input_terminated), what werkzeug reads
        raw = environ["wsgi.input"].read(length) if length else b""
        caller: list[Caller] = []
        try:
            if len(raw) != length:              # the client went away mid-body: werkzeug's answer
                raise ClientDisconnected()
            resp = handler(method, path, EnvironHeaders(environ), raw, caller.append)
        except Exception as exc:  # noqa: BLE001 - as Flask: every failure gets its error handler's answer
            resp = self.api.refusal(exc)
        self.api.finish(resp, caller[-1] if caller else None)
        return resp(environ, start_response)

    def _length(self, environ: dict[str, Any]) -> int | None:
        """The body's length if it is a plain one within the limit; None leaves it to Flask."""
        if environ.get("HTTP_TRANSFER_ENCODING"):
            return None
        text = environ.get("CONTENT_LENGTH") or "0"
        if not (text.isascii() and text.isdigit()):
            return None
        n = int(text)
        return n if n <= self.limit else None
