"""Server-side retention: a thread that purges acknowledged records older than ``days`` once an
hour (street.storage.db.StreetDB.purge; `street-server serve --retention-days`, default 21 as on
the kiosks). ``days`` 0 keeps everything. It stops with the server's stop event."""

from __future__ import annotations

import logging
import threading

from kiosk.clock import Clock
from street.errors import ServerStoreError
from street.storage.db import StreetDB

DAY_S = 86400.0
EVERY_S = 3600.0
DEFAULT_DAYS = 21.0
log = logging.getLogger("street.retention")


def purge_once(db: StreetDB, clock: Clock, days: float) -> int:
    n = db.purge(clock.wall() - days * DAY_S)
    if n:
        log.info("retention: deleted %d acknowledged records older than %g days", n, days)
    return n


def start(db: StreetDB, clock: Clock, days: float, stop: threading.Event) -> threading.Thread | None:
    if days <= 0:
        return None

    def run() -> None:
        while True:
            try:
                purge_once(db, clock, days)
            except ServerStoreError as exc:        # busy or unreachable now: the next hour tries again
                log.warning("retention purge failed: %s", exc)
            if stop.wait(EVERY_S):
                return

    t = threading.Thread(target=run, name="street-retention", daemon=True)
    t.start()
    return t
