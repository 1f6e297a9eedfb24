"""Start the camera after READY: the gate does not wait for OpenCV.

OpenCV, numpy and the QR engines take about half a second of CPU to import — two seconds on a
quarter of a core, which was most of the kiosk's time to READY (docs/benchmarks.md "Zero-class
budget"). Nothing else at the gate needs them: the relay, the log, the thermometer and the
buttons work without a camera. So :func:`start_soon` checks the ``[camera] source`` string at
once (a bad one still stops the start with one line, as before) and then imports and opens the
camera in its own thread. Until the camera is up the kiosk reads no codes, as while a camera
reconnects; a failure there is a camera fault (the volunteer light and a log line), never a crash.
A ``prepare`` step runs in the same thread first (`kiosk run` builds its code verifier there,
kiosk/service/lateverifier.py); when it reports failure the camera is not opened.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from drivers.camera.spec import check_spec
from drivers.errors import DriverError
from kiosk.config import Config
from kiosk.devices import Sink
from kiosk.devices.scanner import Verifies
from kiosk.errors import ConfigError

if TYPE_CHECKING:
    from drivers.camera.capture import FrameSource
    from kiosk.devices.camera import CameraFeed

log = logging.getLogger("kiosk.devices.camera_boot")


class CameraBoot:
    """The camera being started in the ``camera-start`` thread; :meth:`close` at any time."""

    def __init__(self, start: Callable[[], CameraFeed | None], sink: Sink,
                 prepare: Callable[[], bool] | None = None) -> None:
        self._start = start
        self._prepare = prepare
        self._sink = sink
        self._lock = threading.Lock()
        self._closed = False
        self.feed: CameraFeed | None = None
        self.started = threading.Event()      # set once the feed runs, or the start gave up
        self._thread = threading.Thread(target=self._run, name="camera-start", daemon=True)

    def start(self) -> CameraBoot:
        """Begin the start (once; not after :meth:`close`)."""
        with self._lock:
            if not self._closed and self._thread.ident is None:
                self._thread.start()
        return self

    def _run(self) -> None:
        if self._prepare is not None and not self._prepare():
            self.started.set()          # it said why; without it the camera is no use
            return
        try:
            feed = self._start()
        except Exception as exc:  # noqa: BLE001 - any failure here is a camera fault, never a crash
            log.error("camera did not start: %s", exc)
            self._sink.device_fault("camera", f"camera did not start: {exc}"[:200])
            self.started.set()
            return
        with self._lock:
            if self._closed and feed is not None:
                feed.close()
                feed = None
            self.feed = feed
        self.started.set()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the camera, waiting for a start in progress (an import cannot be interrupted)."""
        with self._lock:
            self._closed = True
            feed, self.feed = self.feed, None
        if feed is not None:
            feed.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        with self._lock:
            feed, self.feed = self.feed, None
        if feed is not None:
            feed.close()


def start_soon(cfg: Config, sink: Sink, verifier: Verifies, now: Callable[[], float],
               source: FrameSource | None = None, *, start: bool = True,
               prepare: Callable[[], bool] | None = None) -> CameraBoot:
    """The camera of ``[camera]`` (or a stand-in ``source``), started in its own thread. A bad
    source string is a :class:`ConfigError` now; everything else is reported to ``sink``.
    ``start=False``: the caller calls :meth:`CameraBoot.start` (`kiosk run`, once READY is sent:
    under a CPU quota the import would otherwise share the quota with the rest of the start).
    ``prepare`` runs first in the thread; False from it: the camera is not started."""
    if source is None:
        try:
            check_spec(cfg.camera.source)
        except DriverError as exc:
            raise ConfigError(f"camera.source: {exc}") from None

    def open_camera() -> CameraFeed | None:
        from kiosk.devices import camera  # OpenCV, numpy, the QR engines: off the start path
        return camera.start(cfg, sink, verifier, now, source)

    boot = CameraBoot(open_camera, sink, prepare)
    return boot.start() if start else boot
