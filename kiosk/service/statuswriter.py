"""The status file, written off the gate loop.

The gate loop may block on the pass log's commit and nothing else (docs/architecture.md §5). Once
a second it takes a snapshot of what it owns (state, faults, last seq …) and hands it here; this
thread fills in what needs file access of its own — the trust bundle's state, which looks at the
bundle file and may take a new one — and replaces the status file. Only the newest snapshot is
kept: one offered while another is being written replaces the waiting one (counted as
``coalesced``), so a slow or failing disk costs the file its freshness, never the loop's time
or memory. A failed write is logged once per outage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.statefiles import write_status

log = logging.getLogger("kiosk.service.statuswriter")


class StatusWriter:
    """Writes the newest status snapshot to ``path`` in the ``status-writer`` thread.

    :param fill: called in this thread before each write; its keys are added to the snapshot.
    """

    def __init__(self, path: Path, fill: Callable[[], dict[str, Any]] | None = None) -> None:
        self.path = path
        self.fill = fill
        self.written = 0
        self.coalesced = 0
        self._offered = 0
        self._cv = threading.Condition()
        self._pending: dict[str, Any] | None = None
        self._stop = False
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="status-writer", daemon=True)
        self._thread.start()

    def offer(self, status: dict[str, Any]) -> None:
        """Queue ``status`` (the caller's copy is not touched afterwards); never waits for the disk."""
        with self._cv:
            if self._pending is not None:
                self.coalesced += 1
            self._pending = dict(status)
            self._offered += 1
            self._cv.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything offered so far is written (tests, shutdown); False on timeout."""
        with self._cv:
            target = self._offered
            return self._cv.wait_for(lambda: self.written + self.coalesced >= target or not self._thread.is_alive(),
                                     timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is pending, then stop the thread."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending is not None or self._stop)
                status, self._pending = self._pending, None
                if status is None:
                    return
            self._write(status)
            with self._cv:
                self.written += 1
                self._cv.notify_all()

    def _write(self, status: dict[str, Any]) -> None:
        try:
            if self.fill is not None:
                status.update(self.fill())
            write_status(self.path, status)
        except OSError as exc:
            if not self._failing:
                log.warning("cannot write status file %s: %s (retrying every second)", self.path, exc)
            self._failing = True
            return
        except Exception:   # a bug in fill must not end the status file for good (logged with its traceback)
            log.exception("building the status failed")
            return
        if self._failing:
            log.info("status file %s written again", self.path)
            self._failing = False
