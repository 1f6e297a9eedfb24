"""Camera frame sources and the capture thread that keeps only the newest frame.

A :class:`FrameSource` is anything with ``open()``, ``read()`` and ``close()``: OpenCV's
``VideoCapture`` for USB (UVC/V4L2) cameras, video files, image sequences and stream URLs
(:class:`OpenCVSource`), and picamera2 for the Pi's CSI camera, which libcamera-based
Raspberry Pi OS no longer serves through ``VideoCapture`` (opencv #22820, #25072; see
docs/ecosystem.md §2.3 "Camera mocks").

:class:`CaptureThread` reads one source in its own thread and keeps only the newest frame,
so a slow decoder never works through a backlog of stale frames; it measures the frame
rate, and when the camera vanishes it reports a fault once, reconnects with backoff, and
reports the recovery with the first good frame.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from drivers.camera.encoded import Encoded
from drivers.camera.priority import background
from drivers.camera.spec import check_spec, describe_spec
from drivers.errors import DeviceUnavailable
from drivers.health import Health

log = logging.getLogger("drivers.camera.capture")

# OpenCV prints backend warnings ("can't open camera by index") straight to stderr; the
# driver reports those conditions itself, once, as DeviceUnavailable.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
try:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
except AttributeError:  # pragma: no cover - very old OpenCV builds
    pass


Frame = np.ndarray | Encoded     # decoded (BGR or grey), or compressed as the camera sent it


class FrameSource(Protocol):
    """Where frames come from. ``live`` sources (cameras, streams) block in ``read()`` until
    the next frame; others (files) return at once and are paced by the capture thread."""

    name: str
    live: bool

    def open(self) -> None:
        """Acquire the device; raise :class:`DeviceUnavailable` if it is not there."""

    def read(self) -> Frame | None:
        """The next frame (BGR, grey or compressed), or None when there is none this time."""

    def close(self) -> None:
        """Release the device; safe to call twice."""


# --------------------------------------------------------------------------- OpenCV

class OpenCVSource:
    """``cv2.VideoCapture`` on a device index or path, a video file or a stream URL; an image
    sequence (``frames/img_%04d.png``) read from its files.

    Resolution and frame rate are requests; the camera may pick the nearest mode it has
    (the chosen one is logged). ``exposure`` and ``gain`` are in the driver's own units and
    switch auto-exposure off where the backend allows it. Files and image sequences start
    over at their end when ``loop`` is set, so a recorded clip can stand in for a camera.

    ``compressed``: hand frames over as the camera sent them (:class:`Encoded`: an MJPG
    device, an MJPG video file, the files of an image sequence), to be decoded only if the
    presence gate wants them (drivers/camera/encoded.py); other sources give decoded frames.
    """

    def __init__(self, spec: str | int, *, width: int | None = None, height: int | None = None,
                 fps: float | None = None, exposure: float | None = None, gain: float | None = None,
                 loop: bool = True, compressed: bool = False) -> None:
        self.spec = str(spec)
        self.kind = describe_spec(self.spec)
        self.live = self.kind in ("device", "url")
        self.name = f"camera {self.spec}"
        self.width, self.height, self.fps = width, height, fps
        self.exposure, self.gain = exposure, gain
        self.loop = loop
        self.compressed = compressed
        self.raw = False                  # frames come compressed (see open())
        self._want = (width, height) if width and height else None
        self._cap: Any = None
        self._index: int | None = None    # image sequence: the next file's number
        self._first = 0
        self._lock = threading.Lock()

    def open(self) -> None:
        with self._lock:
            self._release()
            if self.kind == "sequence":
                self._open_sequence()
                return
            if self.kind == "file" and not Path(self.spec).exists():
                raise DeviceUnavailable(f"{self.name}: no such file")
            if self.kind == "device":
                index: str | int = int(self.spec) if self.spec.isdigit() else self.spec
                cap = cv2.VideoCapture(index, cv2.CAP_V4L2)
            else:
                cap = cv2.VideoCapture(self.spec)
            if not cap.isOpened():
                cap.release()
                raise DeviceUnavailable(f"{self.name} could not be opened")
            self._cap = cap
            if self.kind == "device":
                self._configure(cap)
            self.raw = self._raw_mode(cap)

    def _open_sequence(self) -> None:
        """Number 0 or 1 starts the sequence (as OpenCV's image reader does)."""
        for first in (0, 1):
            if Path(self.spec % first).is_file():
                self._first = self._index = first
                self.raw = self.compressed
                return
        raise DeviceUnavailable(f"{self.name}: no such file")

    def _raw_mode(self, cap: Any) -> bool:
        """Ask OpenCV for the compressed frames where it can give them (an MJPG camera or file)."""
        if not self.compressed or int(cap.get(cv2.CAP_PROP_FOURCC)) != cv2.VideoWriter.fourcc(*"MJPG"):
            return False
        if self.kind == "device":
            return bool(cap.set(cv2.CAP_PROP_CONVERT_RGB, 0))       # V4L2: the MJPG buffer as one row
        if self.kind == "file":
            return bool(cap.set(cv2.CAP_PROP_FORMAT, -1))           # FFmpeg: the packet
        return False

    def _configure(self, cap: Any) -> None:
        """Ask for MJPG at the configured mode (UVC cameras give 720p at full rate only in MJPG),
        a one-frame driver buffer (fresh frames, not queued ones) and manual exposure/gain."""
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self.exposure is not None:
            # V4L2 menu: 1 = manual, 3 = aperture priority; libv4l builds used 0.25 for manual
            if not (cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1) or cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 0.25)):
                log.warning("%s: auto exposure cannot be switched off", self.name)
            if not cap.set(cv2.CAP_PROP_EXPOSURE, self.exposure):
                log.warning("%s: exposure %s not supported", self.name, self.exposure)
        if self.gain is not None and not cap.set(cv2.CAP_PROP_GAIN, self.gain):
            log.warning("%s: gain %s not supported", self.name, self.gain)
        log.info("%s: %dx%d at %.1f fps", self.name, cap.get(cv2.CAP_PROP_FRAME_WIDTH),
                 cap.get(cv2.CAP_PROP_FRAME_HEIGHT), cap.get(cv2.CAP_PROP_FPS))

    def read(self) -> Frame | None:
        with self._lock:
            if self.kind == "sequence":
                return self._read_file()
            cap = self._cap
            if cap is None:
                return None
            ok, frame = cap.read()
            if not ok and self.loop and not self.live:
                cap.release()             # end of the clip: start over
                cap = cv2.VideoCapture(self.spec)
                self._cap = cap if cap.isOpened() else None
                if self._cap is not None and self.raw:
                    self.raw = self._raw_mode(cap)
                ok, frame = cap.read() if self._cap is not None else (False, None)
            if not ok:
                return None
            if self.raw and isinstance(frame, np.ndarray) and frame.ndim == 2 and frame.shape[0] == 1:
                return Encoded.of(frame, self._want)
            return frame  # type: ignore[no-any-return]

    def _read_file(self) -> Frame | None:
        """The next file of an image sequence; past the last one, the first again (``loop``)."""
        if self._index is None:
            return None
        for _attempt in range(2):
            try:
                with open(self.spec % self._index, "rb") as fh:     # not pathlib: 15 times a second
                    data = fh.read()
            except OSError:
                if not self.loop or self._index == self._first:
                    return None
                self._index = self._first
                continue
            self._index += 1
            frame = Encoded.of(data, self._want)
            return frame if self.raw else frame.color()
        return None

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._index = None

    def close(self) -> None:
        with self._lock:
            self._release()

    def __enter__(self) -> OpenCVSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- picamera2

class Picamera2Source:
    """The Pi's CSI camera through picamera2 (``apt install python3-picamera2``; the venv needs
    ``--system-site-packages`` to see it). Frames are the Y plane of YUV420: the grey image
    the decoder wants, with no colour conversion."""

    live = True

    def __init__(self, camera_num: int = 0, *, width: int = 1280, height: int = 720, fps: float = 15.0,
                 exposure: float | None = None, gain: float | None = None) -> None:
        self.camera_num, self.width, self.height, self.fps = camera_num, width, height, fps
        self.exposure, self.gain = exposure, gain
        self.name = f"picamera2 camera {camera_num}"
        self._cam: Any = None

    def open(self) -> None:  # pragma: no cover - needs a Raspberry Pi with a CSI camera
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise DeviceUnavailable("picamera2 is not installed (apt install python3-picamera2)") from None
        try:
            cam = Picamera2(self.camera_num)
            controls: dict[str, Any] = {"FrameRate": float(self.fps)}
            if self.exposure is not None:
                controls.update(AeEnable=False, ExposureTime=int(self.exposure))   # microseconds
            if self.gain is not None:
                controls["AnalogueGain"] = float(self.gain)
            config = cam.create_video_configuration(
                main={"size": (self.width, self.height), "format": "YUV420"}, controls=controls)
            cam.configure(config)
            cam.start()
        except Exception as exc:  # noqa: BLE001 - libcamera fails with RuntimeError, IndexError, OSError …
            raise DeviceUnavailable(f"{self.name} could not be opened: {exc}") from None
        self._cam = cam

    def read(self) -> Frame | None:  # pragma: no cover - needs the camera
        if self._cam is None:
            return None
        try:
            yuv = self._cam.capture_array("main")
        except Exception as exc:  # noqa: BLE001 - a libcamera error is a lost frame, not a crash
            log.warning("%s: capture failed: %s", self.name, exc)
            return None
        frame: np.ndarray = yuv[: self.height, : self.width]
        return frame

    def close(self) -> None:  # pragma: no cover - needs the camera
        cam, self._cam = self._cam, None
        if cam is not None:
            try:
                cam.stop()
            finally:
                cam.close()

    def __enter__(self) -> Picamera2Source:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(spec: str, *, width: int = 1280, height: int = 720, fps: float = 15.0,
                exposure: float | None = None, gain: float | None = None, compressed: bool = True) -> FrameSource:
    """The frame source a ``[camera] source`` string names (not opened yet).

    ``0`` / ``/dev/video0`` a V4L2 device; ``picamera2`` or ``picamera2:N`` a CSI camera; a
    URL (``rtsp://…``); an image-sequence pattern (``frames/img_%04d.png``); else a video file.
    ``compressed``: frames as the camera sent them where it can (:class:`OpenCVSource`).
    """
    s, csi = check_spec(spec)
    if csi is not None:
        return Picamera2Source(csi, width=width, height=height, fps=fps, exposure=exposure, gain=gain)
    return OpenCVSource(s, width=width, height=height, fps=fps, exposure=exposure, gain=gain,
                        compressed=compressed)


# --------------------------------------------------------------------------- capture thread

@dataclass(frozen=True)
class Captured:
    """One frame as the capture thread got it: ``seq`` counts frames, ``t`` is monotonic time."""

    frame: Frame
    seq: int
    t: float


def usable(frame: object) -> bool:
    """A frame the decoder can work on: a non-empty 2-D grey or 3-/4-channel uint8 image, or
    compressed bytes that look like a JPEG or PNG."""
    if isinstance(frame, Encoded):
        return frame.usable
    return (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.size > 0
            and (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3, 4))))


class CaptureThread:
    """Reads ``source`` in a thread, keeps the newest frame, reconnects when it vanishes.

    :param fps: pace for non-live sources (files); live cameras set their own pace.
    :param on_fault: called once with a message when the camera stops giving frames.
    :param on_recovered: called once with the first good frame after a fault.
    :param stall_s: no usable frame for this long means the camera is gone.
    :param backoff_s: first and longest wait between reconnection attempts (doubling).
    """

    def __init__(self, source: FrameSource, *, fps: float = 15.0,
                 on_fault: Callable[[str], None] | None = None, on_recovered: Callable[[], None] | None = None,
                 stall_s: float = 2.0, backoff_s: tuple[float, float] = (0.5, 10.0)) -> None:
        self.source = source
        self.fps_target = fps
        self.health = Health("camera", on_fault, on_recovered, log)
        self.stall_s = stall_s
        self.backoff_s = backoff_s
        self.frames = 0
        self.reconnects = 0
        self._latest: Captured | None = None
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._times: collections.deque[float] = collections.deque(maxlen=30)
        self._thread = threading.Thread(target=self._run, name="camera-capture", daemon=True)

    # ---- consumer side

    def latest(self, after: int = 0, timeout: float | None = None) -> Captured | None:
        """The newest frame newer than ``after`` (a previous ``seq``), waiting up to ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while not self._stop.is_set() and (self._latest is None or self._latest.seq <= after):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cv.wait(left)
            latest = self._latest
            return latest if latest is not None and latest.seq > after else None

    @property
    def fps(self) -> float:
        """Frames per second over the last 30 frames (0 until there are two)."""
        with self._cv:
            times = list(self._times)
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    # ---- lifecycle

    def start(self) -> CaptureThread:
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def __enter__(self) -> CaptureThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the thread

    @property
    def faulted(self) -> bool:
        return self.health.faulted

    @property
    def fault_message(self) -> str | None:
        return self.health.message

    def _fault(self, message: str) -> None:
        self.health.down(message)

    def _publish(self, frame: Frame) -> None:
        now = time.monotonic()
        with self._cv:
            self.frames += 1
            self._latest = Captured(frame, self.frames, now)
            self._times.append(now)
            self._cv.notify_all()
        self.health.up()

    def _run(self) -> None:
        background()                # below the gate's threads (drivers/camera/priority.py)
        delay = self.backoff_s[0]
        while not self._stop.is_set():
            try:
                self.source.open()
            except (OSError, ValueError) as exc:
                self._fault(str(exc))
            else:
                if self._pump():
                    delay = self.backoff_s[0]
            finally:
                try:
                    self.source.close()
                except Exception:
                    log.exception("closing %s failed", self.source.name)
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.backoff_s[1])
            self.reconnects += 1

    def _pump(self) -> bool:
        """Read until the source stalls or we stop; True if it gave at least one frame."""
        period = 1.0 / self.fps_target if self.fps_target > 0 else 0.0
        last_ok = next_t = time.monotonic()
        got_any = False
        while not self._stop.is_set():
            if not self.source.live and period:
                next_t += period
                wait = next_t - time.monotonic()
                if wait > 0:
                    if self._stop.wait(wait):
                        break
                else:
                    next_t = time.monotonic()     # fell behind: do not try to catch up
            try:
                frame = self.source.read()
            except Exception as exc:  # noqa: BLE001 - a backend error is a vanished camera, not a crash
                frame = None
                log.debug("%s: read failed: %s", self.source.name, exc)
            now = time.monotonic()
            if frame is not None and usable(frame):
                got_any = True
                last_ok = now
                self._publish(frame)
                continue
            if now - last_ok >= self.stall_s:
                self._fault(f"{self.source.name}: no frames for {self.stall_s:g} s")
                break
            if self.source.live or not period:
                self._stop.wait(0.01)    # a dead device returns at once: do not spin
        return got_any
