"""Camera → QR decoder → scanner: the scan thread that turns frames into verified code events.

The capture thread (drivers/camera/capture.py) keeps only the newest frame; this thread
asks the presence gate (drivers/camera/presence.py) whether anything is in front of the camera
and only then decodes it (drivers/camera/qr.py), so an empty gate costs a thumbnail per frame,
not a decoder cascade. It takes at most ``[camera] fps`` frames a second, however fast the camera
delivers them (the capture thread keeps only the newest, so the rest cost a read, never memory; a
camera more than :data:`FAST_FACTOR` times faster than configured is said once in the log), and
only one every :data:`HELD_GAP_S` while a code stays in view (it was read on its first frame) —
until the kiosk has decided that code's case (:meth:`CameraFeed.release`): for
:data:`NEXT_CODE_S` after that, a frame showing only codes already read holds nothing off, so the
next resident's code, held up as soon as the gate opened for the one before, is read on its first
frame too, not up to :data:`HELD_GAP_S` later (a code still held up after that window costs a
decode every :data:`HELD_GAP_S` again); a *new* code holds again at once. Its looks spend at most
half the process's CPU limit (drivers/camera/budget.py: on a CPU quota the gate's threads keep the
rest, so the relay does not wait for the next quota period). It
hands each *new* payload to its payload sink — in the
running kiosk the :class:`~kiosk.devices.scanner.Scanner`, which verifies it here, off the flow
loop, and reports ``code_read``. A code held up for several seconds is one event: the same
payload seen again within ``[camera] dedupe_s`` of its last sighting is dropped. Camera faults
and recoveries go to the sink as device ``camera``.

Payloads are never logged: only their length and a short keyed hash, so the journal holds no
health-code content (docs/contracts.md §4).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

from drivers.camera.budget import CpuBudget, cpu_limit, thread_cpu
from drivers.camera.capture import CaptureThread, FrameSource, open_source
from drivers.camera.presence import PresenceGate
from drivers.camera.priority import background
from drivers.camera.qr import QrDecoder
from drivers.errors import DriverError
from kiosk.config import CameraSection, Config
from kiosk.core.digest import hmac_sha256, sha256
from kiosk.devices import DeviceSink, Sink
from kiosk.devices.scanner import Scanner, Verifies
from kiosk.errors import ConfigError
from kiosk.i18n import _

log = logging.getLogger("kiosk.devices.camera")
DEVICE = "camera"
HELD_GAP_S = 0.5           # a code in view: the next frame is decoded this much later (see _run)
NEXT_CODE_S = 1.0          # after a decision, spent codes in view hold nothing off this long (see release)
BUDGET_RECHECK_S = 0.1     # a spent CPU share is looked at again this often (its clock may be another's)
FAST_FACTOR = 1.5          # a camera delivering this many times [camera] fps is logged (once per connection)


class PayloadSink(DeviceSink, Protocol):
    """What the scan thread reports to (a :class:`~kiosk.devices.scanner.Scanner` in the kiosk)."""

    def payload_seen(self, payload: bytes) -> None: ...


_FINGERPRINT_KEY = os.urandom(16)     # per process: log lines correlate, payloads cannot be matched


def fingerprint(payload: bytes) -> str:
    """What may be logged about a payload: its length and a short keyed hash. Keyed with a
    per-process random key, so someone holding a payload (or a list of them) cannot find it in
    the journal, as an unkeyed hash would let them (T-PRIV-1)."""
    return f"{len(payload)} bytes, ref {hmac_sha256(_FINGERPRINT_KEY, payload).hex()[:12]}"


class Deduper:
    """The same payload seen again within ``window_s`` of its last sighting is one event.

    Sightings slide the window, so a phone held up for a minute is still one event; once
    the code has been out of sight for ``window_s`` it counts again. Payloads are kept as
    hashes only.
    """

    def __init__(self, window_s: float, now: Callable[[], float]) -> None:
        self.window_s = window_s
        self.now = now
        self._seen: dict[bytes, float] = {}

    def fresh(self, payload: bytes) -> bool:
        t = self.now()
        for key in [k for k, last in self._seen.items() if t - last > self.window_s]:
            del self._seen[key]
        key = sha256(payload).digest()
        is_new = key not in self._seen
        self._seen[key] = t
        return is_new


class CameraFeed:
    """Runs the capture thread and the scan thread for one camera; a context manager.

    :param source: the frame source (``open_source`` of ``[camera] source``, or a stand-in).
    :param sink: receives new payloads, faults and recoveries.
    :param now: the kiosk clock's monotonic time, for dedupe.
    """

    def __init__(self, source: FrameSource, sink: PayloadSink, cfg: CameraSection,
                 now: Callable[[], float], *, stall_s: float | None = None,
                 backoff_s: tuple[float, float] = (0.5, 10.0), decoder: QrDecoder | None = None,
                 budget: CpuBudget | None = None) -> None:
        self.sink = sink
        # decodes spend at most half the process's CPU limit (drivers/camera/budget.py)
        self.budget = budget or CpuBudget(*cpu_limit(), now=time.monotonic)
        self._deferring = False
        self._deferred_said = False
        self.decoder = decoder or QrDecoder(budget_ms=cfg.decode_budget_ms)
        self.presence = PresenceGate(now)
        self.fps_target = cfg.fps
        self.min_gap_s = 1.0 / cfg.fps
        self.dedupe = Deduper(cfg.dedupe_s, now)
        self.capture = CaptureThread(source, fps=cfg.fps, on_fault=self._fault, on_recovered=self._recovered,
                                     stall_s=stall_s if stall_s is not None else max(2.0, 5.0 / cfg.fps),
                                     backoff_s=backoff_s)
        self.frames_taken = 0                # frames the scan thread looked at (at most fps a second)
        self.frames_skipped = 0              # newer frames came before the scan thread was due
        self._fast_said = False
        self.frames_decoded = 0
        self.frames_damaged = 0              # frames that would not decode (logged once per run of them)
        self._damaged_run = False
        self.events = 0
        self.decode_ms = 0.0                 # of the last frame
        self.on_event: Callable[[bytes, float], None] | None = None   # (payload, capture time): bench hook
        self._stop = threading.Event()
        self._released = threading.Event()   # the case of the code last read is decided (see release)
        self._released_at = float("-inf")
        self._thread = threading.Thread(target=self._run, name="camera-scan", daemon=True)

    def start(self) -> CameraFeed:
        self.capture.start()
        self._thread.start()
        return self

    def release(self) -> None:
        """The case of the code last read is decided: stop holding off the next decode (see the
        module docstring). Called from the gate loop; wakes the scan thread if it is waiting."""
        self._released_at = time.monotonic()
        self._released.set()

    def close(self) -> None:
        self._stop.set()
        self._released.set()                 # wakes a scan thread waiting out a held gap
        self.capture.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(5.0)
        self.decoder.close()

    def __enter__(self) -> CameraFeed:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def fps(self) -> float:
        return self.capture.fps

    # ---- callbacks from the capture thread

    def _fault(self, message: str) -> None:
        self.sink.device_fault(DEVICE, message)

    def _recovered(self) -> None:
        self._fast_said = False
        self.decoder.forget()
        self.presence.reset()
        self.sink.device_recovered(DEVICE)

    # ---- the scan thread

    def _note_damage(self, damaged: bool) -> None:
        """A frame that does not decode (damaged JPEG from a failing camera or cable): one line
        when it starts, one when frames decode again; never one per frame."""
        if damaged:
            self.frames_damaged += 1
            if not self._damaged_run:
                log.warning("camera frames do not decode (damaged image data); skipping them")
            self._damaged_run = True
        elif self._damaged_run:
            self._damaged_run = False
            log.info("camera frames decode again (%d damaged so far)", self.frames_damaged)

    def _note_budget(self, deferred: bool) -> None:
        """Decodes held back because the scan thread spent its CPU share: said once at INFO (on a
        quota it happens with most residents: a run of decodes while one steps up), then each run's
        start and end at DEBUG; never one line per frame."""
        if deferred:
            self.budget.deferred += 1
            if not self._deferring:
                level = logging.DEBUG if self._deferred_said else logging.INFO
                self._deferred_said = True
                log.log(level, "camera decodes held back: the scan thread spent its CPU share (%.0f %% of a core)",
                        100 * self.budget.rate)
            self._deferring = True
        elif self._deferring:
            self._deferring = False
            log.debug("camera decodes at full rate again (%d held back so far)", self.budget.deferred)

    def _note_rate(self) -> None:
        """A camera faster than configured (it ignored the requested rate, or a clip plays fast):
        one line; the scan thread keeps its pace and skips the frames in between."""
        if self._fast_said or self.capture.frames < 30:
            return
        fps = self.capture.fps
        if fps > FAST_FACTOR * self.fps_target:
            self._fast_said = True
            log.warning("camera delivers %.0f frames/s, more than [camera] fps = %g: scanning %g a second and "
                        "skipping the rest (%d skipped so far)", fps, self.fps_target, self.fps_target,
                        self.frames_skipped)

    def _run(self) -> None:
        background()                # decodes yield to the gate's threads (drivers/camera/priority.py)
        seq = 0
        taken = float("-inf")
        gap = self.min_gap_s
        while not self._stop.is_set():
            due = taken + gap - time.monotonic()
            if due > 0 and gap > self.min_gap_s and not self._released.is_set():
                self._released.wait(due)                 # a code in view: until its case is decided
                due = taken + self.min_gap_s - time.monotonic()
            owed = self.budget.wait_s()                 # decodes spent the CPU share: later, newest frame
            self._note_budget(owed > max(0.0, due))
            wait = max(due, min(owed, BUDGET_RECHECK_S))
            if wait > 0 and self._stop.wait(wait):     # a camera faster than configured: skip frames
                break
            if self._stop.is_set():
                break
            if owed > wait:                             # still spent: look at the bucket again
                continue
            got = self.capture.latest(after=seq, timeout=0.5)
            if got is None:
                continue
            if seq:
                self.frames_skipped += got.seq - seq - 1
            seq, taken = got.seq, time.monotonic()
            self.frames_taken += 1
            self._note_rate()
            spent = thread_cpu()
            try:
                if not self.presence.wanted(got.frame):
                    continue
                result = self.decoder.decode(got.frame)
            except Exception:   # a decoder bug must not stop the camera; the next frame may do
                log.exception("decoding a frame failed")
                continue
            finally:
                self.budget.charge(thread_cpu() - spent)
            self.frames_decoded += 1
            self.decode_ms = result.ms
            # A code in view is read; decoding it again at the full rate while the resident holds it
            # through the measurement only costs CPU — on a quarter of a core, most of it
            # (docs/benchmarks.md "Zero-class budget").
            # Once that code's case is decided, only a new code holds again (release).
            fresh = [p for p in result.payloads if self.dedupe.fresh(p)]
            if fresh:
                self._released.clear()           # before the sink hears it: its decision releases
            open_for_next = self._released.is_set() and time.monotonic() - self._released_at < NEXT_CODE_S
            held = bool(fresh) or (bool(result.payloads) and not open_for_next)
            gap = max(self.min_gap_s, HELD_GAP_S) if held else self.min_gap_s
            self._note_damage(result.calls == 0)
            for payload in fresh:
                self.events += 1
                log.info("code read (%s) by %s", fingerprint(payload), result.hit)
                if self.on_event is not None:
                    self.on_event(payload, got.t)
                try:
                    self.sink.payload_seen(payload)
                except Exception:
                    log.exception("payload handler failed")


def start(cfg: Config, sink: Sink, verifier: Verifies, now: Callable[[], float],
          source: FrameSource | None = None) -> CameraFeed | None:
    """The camera of ``[camera]`` (or a stand-in ``source``) decoding into ``verifier`` and
    ``sink``; None when ``enabled = false`` and no stand-in is given."""
    return open_feed(cfg.camera, Scanner(verifier, sink), now, source)


def open_feed(cfg: CameraSection, sink: PayloadSink, now: Callable[[], float],
              source: FrameSource | None = None) -> CameraFeed | None:
    """A started camera feed for ``[camera]`` (or for a stand-in ``source``) reporting raw
    payloads to ``sink``; None when ``enabled = false`` and no stand-in is given. A bad source
    string is a ConfigError."""
    if source is None:
        if not cfg.enabled:
            log.warning("camera.enabled = false: no camera, codes cannot be scanned")
            return None
        try:
            source = open_source(cfg.source, width=cfg.width, height=cfg.height, fps=cfg.fps,
                                 exposure=cfg.exposure, gain=cfg.gain)
        except DriverError as exc:
            raise ConfigError(f"camera.source: {exc}") from None
    return CameraFeed(source, sink, cfg, now).start()



def self_check(cfg: CameraSection, seconds: float = 2.0) -> tuple[bool, str]:
    """For `kiosk selftest`: does the camera give frames, how fast, and does a code in view read?

    Passes when frames arrive at half the configured rate or better; a code held up to the
    camera during the check is decoded (with every variant) and reported by length and hash.
    """
    if not cfg.enabled:
        return False, _("no camera configured ([camera] enabled = false)")
    try:
        source = open_source(cfg.source, width=cfg.width, height=cfg.height, fps=cfg.fps,
                             exposure=cfg.exposure, gain=cfg.gain)
    except DriverError as exc:
        return False, f"camera.source: {exc}"
    faults: list[str] = []
    with CaptureThread(source, fps=cfg.fps, on_fault=faults.append, stall_s=seconds) as capture:
        deadline = time.monotonic() + seconds
        last = None
        while time.monotonic() < deadline and not faults:
            last = capture.latest(after=last.seq if last else 0, timeout=0.2) or last
        fps, frames = capture.fps, capture.frames
    if last is None:
        return False, faults[0] if faults else _("{source}: no frame in {seconds:g} s").format(
            source=source.name, seconds=seconds)
    h, w = last.frame.shape[:2]
    with QrDecoder() as decoder:
        result = decoder.decode_still(last.frame)
    code = (_("read a code ({code}) in {ms:.0f} ms").format(code=fingerprint(result.payloads[0]), ms=result.ms)
            if result.payloads else _("no code in view ({ms:.0f} ms; hold one up to test decoding)").format(
                ms=result.ms))
    ok = fps >= cfg.fps / 2 or (not source.live and frames > 0)
    detail = _("{source}: {w}x{h}, {fps:.1f} fps (asked {asked:g}); {code}").format(
        source=source.name, w=w, h=h, fps=fps, asked=cfg.fps, code=code)
    return ok, detail if ok else detail + _(" — too slow")
