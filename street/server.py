"""Running the street server: the Flask app on waitress, in the foreground or in a thread.

Why waitress: a production-grade, pure-Python WSGI server (Pylons project) with no C
extensions, so it installs the same on a street office PC or a Pi. Its asyncore front end reads
each request *completely* before a worker thread sees it, so 117 kiosks on slow mobile links
hold sockets, not threads; it caps request bodies and closes idle channels itself. WSGI and
blocking SQLite fit together without an async layer. Embeddable: the demo, tests and the
benchmark start it on a free port and stop it again, all in one process.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Any

from waitress.server import create_server

from kiosk.clock import Clock, SystemClock
from street.app import IngestHook, create_app
from street.storage.db import StreetDB
from sync import protocol

LOOP_TIMEOUT_S = 0.2


class StreetServer:
    """The street server on ``host:port`` (port 0 picks a free one); a context manager."""

    def __init__(self, db_path: Path, host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None,
                 threads: int = 8, offline_after: float = 1800.0, tz: dt.tzinfo | None = None,
                 on_ingest: IngestHook | None = None) -> None:
        self.clock = clock or SystemClock(assume_synced=True)
        self.db = StreetDB(db_path, self.clock)
        self.app = create_app(self.db, self.clock, offline_after=offline_after, tz=tz, on_ingest=on_ingest)
        self._server: Any = create_server(
            self.app, host=host, port=port, threads=threads, ident="street-server",
            max_request_body_size=protocol.MAX_BODY_BYTES + 1, connection_limit=1000, channel_timeout=60,
            clear_untrusted_proxy_headers=True, expose_tracebacks=False)
        self.host, self.port = self._server.effective_host, int(self._server.effective_port)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve(self) -> None:
        """Serve in this thread until :meth:`stop` (from another thread or a signal handler)."""
        try:
            while not self._stop.is_set():
                self._server.asyncore.loop(timeout=LOOP_TIMEOUT_S, map=self._server._map, count=1,
                                           use_poll=True)
        finally:
            self._shutdown()

    def start(self) -> StreetServer:
        self._thread = threading.Thread(target=self.serve, name=f"street-server:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _shutdown(self) -> None:
        logging.getLogger("waitress").setLevel(logging.CRITICAL)
        server = self._server
        server.task_dispatcher.shutdown()      # let running requests finish their transaction
        for channel in list(server._map.values()):
            try:
                channel.handle_close()
            except OSError:
                pass
        self.db.close()

    def __enter__(self) -> StreetServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
