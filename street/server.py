"""Running the street server: waitress with one thread pool for kiosks and one for the office.

Why waitress: a production-grade, pure-Python WSGI server (Pylons project) with no C
extensions, so it installs the same on a street office PC or a Pi. Its asyncore front end reads
each request *completely* before a worker thread sees it, so thousands of kiosks on slow mobile
links hold sockets, not threads; it caps request bodies and closes idle channels itself.
Embeddable: the demo, tests and the benchmark start it on a free port and stop it again.

Two pools: when a request is complete, :class:`PoolRouter` hands it to the kiosk pool or to the
office pool by its path (street/app.py ``is_kiosk_path``), so a flood of status-page loads waits
in the office's queue and never in front of an upload. One process (:class:`StreetServer`)
serves a street on SQLite; `street-server serve --workers N` runs N such processes under
gunicorn's arbiter on PostgreSQL (street/workers.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import resource
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from waitress.server import create_server
from waitress.task import ThreadedTaskDispatcher

from kiosk.clock import Clock, SystemClock
from street.alerts.settings import AlertSettings
from street.alerts.worker import AlertWorker
from street.app import QUEUED_HEADER, IngestHook, create_app, is_kiosk_path, local_tz
from street.storage import retention
from street.storage.db import StreetDB
from sync import protocol

LOOP_TIMEOUT_S = 0.2
CONNECTION_LIMIT = 8000          # kiosks keep connections open between uploads; waitress polls, no select() cap


class PoolRouter:
    """A waitress task dispatcher of two pools: kiosk requests and office requests never share a
    thread or a queue. Waitress calls :meth:`add_task` from its I/O thread with a channel whose
    next request has been read completely."""

    def __init__(self, kiosk_threads: int, office_threads: int, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock(assume_synced=True)
        self.kiosk = ThreadedTaskDispatcher()
        self.office = ThreadedTaskDispatcher()
        self.kiosk.set_thread_count(kiosk_threads)
        self.office.set_thread_count(office_threads)

    def add_task(self, channel: Any) -> None:
        requests = getattr(channel, "requests", None)
        path = requests[0].path if requests else ""
        if requests and is_kiosk_path(path):
            # when it joined the queue (street/app.py sheds what waited too long); overwrites any client value
            requests[0].headers[QUEUED_HEADER] = f"{self.clock.monotonic():.6f}"
            self.kiosk.add_task(channel)
        else:
            self.office.add_task(channel)

    def set_thread_count(self, count: int) -> None:        # waitress' interface; the pools are sized above
        pass

    def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> bool:
        a = self.kiosk.shutdown(cancel_pending, timeout)
        b = self.office.shutdown(cancel_pending, timeout)
        return a and b


def raise_fd_limit() -> int:
    """Lift the open-files soft limit to the hard one (a socket per connected kiosk)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def make_waitress(app: Any, socket_map: dict[int, Any], router: PoolRouter, *, host: str = "127.0.0.1",
                  port: int = 0, sockets: list[Any] | None = None) -> Any:
    """A waitress server for ``app`` on ``host:port`` (or on pre-bound ``sockets``), dispatching
    through ``router``; polled by the caller with ``socket_map``."""
    where: dict[str, Any] = {"sockets": sockets} if sockets else {"host": host, "port": port}
    # waitress warns "Task queue depth is N" on every request queued behind busy threads: under a
    # district's load that is a log line (a findCaller, a format and a write) per request, 4 % of a
    # heartbeat's CPU, and a log nobody reads. Queueing is measured and bounded here instead
    # (street/app.py sheds what waited longer than MAX_QUEUE_WAIT_S).
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return create_server(app, map=socket_map, _dispatcher=router, ident="street-server",
                         max_request_body_size=protocol.MAX_BODY_BYTES + 1, connection_limit=CONNECTION_LIMIT,
                         channel_timeout=60, clear_untrusted_proxy_headers=True, expose_tracebacks=False, backlog=4096,
                         **where)


class StreetServer:
    """The street server on ``host:port`` (port 0 picks a free one); a context manager.

    ``db``: a file path (SQLite) or a ``postgresql://`` URL. ``threads`` serve kiosks,
    ``office_threads`` the status page."""

    def __init__(self, db: Path | str, host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None,
                 threads: int = 8, office_threads: int = 2, offline_after: float = 1800.0,
                 tz: dt.tzinfo | None = None, on_ingest: IngestHook | None = None,
                 server_key: Ed25519PrivateKey | None = None, retention_days: float = 0.0,
                 alerts: AlertSettings | None = None) -> None:
        self.clock = clock or SystemClock(assume_synced=True)
        self.db = StreetDB(db, self.clock, pool_size=threads + office_threads + 1)
        try:
            self.app = create_app(self.db, self.clock, offline_after=offline_after, tz=tz, on_ingest=on_ingest,
                                  server_key=server_key)
            # alerts go out from a thread of their own (street/alerts/worker.py): ingest never waits on them
            self.alerts = AlertWorker(self.db, alerts, self.clock, tz or local_tz()) if alerts else None
            self._map: dict[int, Any] = {}
            self._router = PoolRouter(threads, office_threads, self.clock)
            self._server = make_waitress(self.app, self._map, self._router, host=host, port=port)
        except BaseException:
            self.db.close()
            raise
        self.host, self.port = self._server.effective_host, int(self._server.effective_port)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.retention_days = retention_days       # 0 (tests' default): keep everything

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve(self) -> None:
        """Serve in this thread until :meth:`stop` (from another thread or a signal handler)."""
        if self.alerts is not None:
            self.alerts.start()
        retention.start(self.db, self.clock, self.retention_days, self._stop)
        try:
            while not self._stop.is_set():
                self._server.asyncore.loop(timeout=LOOP_TIMEOUT_S, map=self._map, count=1, use_poll=True)
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
        if self.alerts is not None:
            self.alerts.stop()
        close_waitress(self._router, self._map)
        self.db.close()

    def __enter__(self) -> StreetServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def close_waitress(router: PoolRouter, socket_map: dict[int, Any]) -> None:
    """Let running requests finish their transaction, then close every channel."""
    logging.getLogger("waitress").setLevel(logging.CRITICAL)
    router.shutdown()
    for channel in list(socket_map.values()):
        try:
            channel.handle_close()
        except OSError:
            pass
