"""`street-server serve --workers N`: N server processes under gunicorn's arbiter.

Why gunicorn: a well-kept pre-fork process manager (the Python web's default for a decade). Its
arbiter binds the port once, forks the workers, restarts one that dies or stops answering its
heartbeat, stops them gracefully on SIGTERM (each finishes the requests it holds) and adds or
removes workers on TTIN/TTOU. Inside each worker the HTTP is still waitress with its two thread
pools (street/server.py): gunicorn's own workers would hand a slow client's socket to a thread
before its request is read, and could not keep the office's page loads out of the kiosks' pool.
So :class:`WaitressWorker` is a gunicorn worker class (its documented extension point) that
serves the inherited listening socket with waitress and calls ``notify()`` between polls.

The database is opened in each worker after the fork (``load``), never in the arbiter: a
connection pool must not be shared across processes. Several processes need a database with
several writers: PostgreSQL (street/storage/postgres.py).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.base import Worker

from kiosk.clock import SystemClock
from street.alerts.settings import AlertSettings
from street.alerts.worker import AlertWorker
from street.app import create_app, local_tz
from street.registry import server_key
from street.server import LOOP_TIMEOUT_S, PoolRouter, close_waitress, make_waitress
from street.storage import retention
from street.storage.db import StreetDB

NOTIFY_EVERY_S = 1.0        # the arbiter's heartbeat: gunicorn restarts a worker silent for `timeout` (60 s)


@dataclass(frozen=True)
class Settings:
    db: str
    host: str
    port: int
    workers: int
    threads: int = 8
    office_threads: int = 2
    offline_after: float = 1800.0
    tz: dt.tzinfo | None = None
    server_key: str | None = None       # the answers' signing key file (street/registry/server_key.py)
    retention_days: float = 0.0         # street/storage/retention.py; every worker runs it (idempotent)
    alerts: AlertSettings | None = None      # each worker runs an alert worker; a claim keeps sends single


class WaitressWorker(Worker):
    """A gunicorn worker serving with waitress (two pools) on the arbiter's listening socket."""

    def run(self) -> None:
        settings: Settings = self.app.settings
        socket_map: dict[int, Any] = {}
        router = PoolRouter(settings.threads, settings.office_threads)
        server = make_waitress(self.wsgi, socket_map, router, sockets=[s.sock for s in self.sockets])
        db = getattr(self.app, "db", None)
        alerts = None
        if settings.alerts is not None and db is not None:
            alerts = AlertWorker(db, settings.alerts, SystemClock(assume_synced=True), settings.tz or local_tz())
            alerts.start()
        notified = 0.0
        try:
            while self.alive:
                if time.monotonic() - notified >= NOTIFY_EVERY_S:
                    self.notify()           # touches a file: once per poll cost 8 % of a busy worker
                    notified = time.monotonic()
                server.asyncore.loop(timeout=LOOP_TIMEOUT_S, map=socket_map, count=1, use_poll=True)
                if self.ppid != os.getppid():       # the arbiter is gone: stop serving
                    break
        finally:
            if alerts is not None:
                alerts.stop()
            close_waitress(router, socket_map)
            if db is not None:
                db.close()


class DistrictServer(BaseApplication):
    """gunicorn's embedding API: the configuration comes from `street-server serve`, not a file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db: StreetDB | None = None
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        for key, value in {
            "bind": [f"[{s.host}]:{s.port}" if ":" in s.host else f"{s.host}:{s.port}"],
            "workers": s.workers,
            "worker_class": "street.workers.WaitressWorker",
            "timeout": 60,                  # a worker silent this long is restarted
            "graceful_timeout": 30,         # SIGTERM: this long to finish what a worker holds
            "proc_name": "street-server",
            "backlog": 4096,
            "when_ready": self._ready,
            "loglevel": "warning",
        }.items():
            self.cfg.set(key, value)

    def _ready(self, arbiter: Any) -> None:
        host, port = arbiter.LISTENERS[0].sock.getsockname()[:2]
        print(f"street-server: serving http://{host}:{port} (database {self._shown}, {self.settings.workers} "
              "workers)", flush=True)

    _shown = ""

    def load(self) -> Any:
        """In each worker, after the fork: the database and the app."""
        s = self.settings
        clock = SystemClock(assume_synced=True)
        self.db = StreetDB(s.db, clock, pool_size=s.threads + s.office_threads)
        key = server_key.load_or_create(Path(s.server_key)) if s.server_key else None
        retention.start(self.db, clock, s.retention_days, threading.Event())
        return create_app(self.db, clock, offline_after=s.offline_after, tz=s.tz, server_key=key)


def serve(settings: Settings, shown: str) -> int:
    """Run the arbiter until SIGTERM/SIGINT; its exit status."""
    server = DistrictServer(settings)
    server._shown = shown
    sys.argv = sys.argv[:1]                 # gunicorn's arbiter re-reads argv on USR2; nothing to parse
    server.run()
    return 0
