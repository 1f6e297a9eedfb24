"""The running kiosk: drivers post events into one queue; one loop feeds the flow and carries
out its actions. Only this loop touches the flow, the log and the gate.

The executor's one hard rule: a ``Store`` action commits first and runs its gate actions only
after COMMIT returned; if the commit fails, the gate stays shut and the flow hears about it.
The one exception is ``store.fail_policy = "hold"``, chosen on purpose: then a decision whose
record is held in memory (kiosk/passlog/holding.py) still opens the gate. Under the default "deny" a
pass that cannot be committed is held as a denial (cause ``log_failure``) and the volunteer is
called; only the emergency hold-open opens the gate while the log is down.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.core import actions as A
from kiosk.core.events import ButtonEdge, CodeRead, DeviceFault, DeviceRecovered, Event, RecordFailed, TempSample, Tick
from kiosk.core.flow import Flow
from kiosk.core.records import Record
from kiosk.core.verdict import CodeVerdict
from kiosk.devices.gpio import Devices
from kiosk.devices.scanner import Scanner
from kiosk.devices.voice import Announcer
from kiosk.passlog.holding import HoldingWriter, Outcome
from kiosk.passlog.store import PassLog

if TYPE_CHECKING:   # OpenCV and pyserial are imported only where a device is used
    from drivers.thermometer.link import Thermometer
    from kiosk.devices.camera import CameraFeed
    from kiosk.devices.camera_boot import CameraBoot

log = logging.getLogger("kiosk.service.runtime")

CommitListener = Callable[[int, Record], None]
MAX_WAIT_S = 0.5     # the loop wakes at least this often (watchdog, status file)


class Verifier(Protocol):
    """Turns a scanned payload into a verdict, and remembers which codes are used up
    (kiosk.codes.verifier.CodeVerifier is the real one)."""

    def verify(self, payload: bytes) -> CodeVerdict:
        """Any byte string in, one verdict out; never raises for bad input."""

    def mark_used(self, verdict: CodeVerdict) -> None:
        """The gate opened for this code (the flow's UseCode action): showing it again is a replay."""


class NoTrustVerifier:
    """Until trust material is configured nothing can be verified, so nothing is accepted."""

    def verify(self, payload: bytes) -> CodeVerdict:
        return CodeVerdict(reason="unsupported_format", code_format="other")

    def mark_used(self, verdict: CodeVerdict) -> None:
        pass


@dataclass
class Executor:
    """Carries out actions in order on the log, the devices, the announcer and the verifier."""

    store: PassLog
    devices: Devices
    announcer: Announcer
    post: Callable[[Event], None]
    clock: Clock
    verifier: Verifier = field(default_factory=NoTrustVerifier)
    listeners: list[CommitListener] = field(default_factory=list)
    fail_policy: str = "deny"
    hold_max_records: int = 20000

    def __post_init__(self) -> None:
        self.writer = HoldingWriter(self.store, self.clock, max_held=self.hold_max_records)

    def run(self, actions: list[A.Action]) -> None:
        for action in actions:
            try:
                self._one(action)
            except Exception:   # a misbehaving LED must not stop the gate logic
                log.exception("action %r failed", action)

    def _one(self, action: A.Action) -> None:
        if isinstance(action, A.Store):
            self._store(action)
        elif isinstance(action, A.PulseGate):
            self.devices.relay.pulse()
        elif isinstance(action, A.EndPulse):
            self.devices.relay.end_pulse()
        elif isinstance(action, A.HoldGate):
            if action.open:
                self.devices.relay.hold()
            else:
                self.devices.relay.release()
        elif isinstance(action, A.SetLights):
            self.devices.indicators.show(action.state)
        elif isinstance(action, A.Alert):
            log.warning("volunteer alert: %s", action.reason)
            self.devices.indicators.beep()
        elif isinstance(action, A.Announce):
            self.announcer.announce(action.key)
        elif isinstance(action, A.UseCode):
            self.verifier.mark_used(action.verdict)
        else:
            raise TypeError(f"unknown action {action!r}")

    def _store(self, action: A.Store) -> None:
        record = action.record
        opens = any(isinstance(a, A.PulseGate) or (isinstance(a, A.HoldGate) and a.open)
                    for a in action.on_commit)
        refused = _refused(record) if opens and self.fail_policy == "deny" else None
        out = self.writer.submit(record, if_held=refused)
        self._settle(out)
        if out.stored or (out.held and self.fail_policy == "hold"):
            for gate_action in action.on_commit:   # only now may the gate move (and its code be spent)
                self._one(gate_action)
        if out.stored:
            return
        # one line per record at debug: the journal lives on the same failing card
        log.log(logging.ERROR if out.lost else logging.DEBUG, "record not stored (%s), %s: %s",
                "held in memory" if out.held else "LOST",
                "gate opens (fail_policy=hold)" if out.held and self.fail_policy == "hold" and opens
                else "gate stays shut", out.error)
        if record.kind == "pass" and (self.fail_policy == "deny" or out.lost):
            self.post(RecordFailed(str(out.error), self.clock.monotonic()))

    def retry(self) -> None:
        """Write held records if the log takes writes again (called from the loop)."""
        self._settle(self.writer.flush())

    def _settle(self, out: Outcome) -> None:
        if out.began_failing:
            self.post(DeviceFault("store", str(out.error)[:200], self.clock.monotonic()))
        if out.recovered:
            self.post(DeviceRecovered("store", self.clock.monotonic()))
        for seq, rec in out.committed:
            for listener in self.listeners:
                try:
                    listener(seq, rec)
                except Exception:
                    log.exception("commit listener failed")


def _refused(record: Record) -> Record:
    """What a pass that could not be committed under the 'deny' policy truly was: a denial."""
    return dataclasses.replace(record, decision="deny", cause="log_failure",
                               detail=f"{record.decision} refused: pass log not writable")


class Inbox:
    """The kiosk's event queue: device adapters report here from their own threads (it is the
    :class:`kiosk.devices.Sink`); each call is stamped with the kiosk's monotonic clock when it
    arrives. Only the kiosk loop takes events out."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.events: queue.Queue[Event] = queue.Queue()

    def post(self, event: Event) -> None:
        self.events.put(event)

    def button_edge(self, button: str, pressed: bool) -> None:
        """A raw button edge (gpiozero's event thread)."""
        self.post(ButtonEdge(button, pressed, self.clock.monotonic()))

    def code_read(self, verdict: CodeVerdict) -> None:
        """A scanned code, already verified (the camera's scan thread)."""
        self.post(CodeRead(verdict, self.clock.monotonic()))

    def sample_seen(self, object_c: float | None, ambient_c: float | None, body_c: float | None) -> None:
        """One valid thermometer frame (the thermometer's thread)."""
        self.post(TempSample(object_c, ambient_c, body_c, self.clock.monotonic()))

    def device_fault(self, device: str, message: str) -> None:
        self.post(DeviceFault(device, message, self.clock.monotonic()))

    def device_recovered(self, device: str) -> None:
        self.post(DeviceRecovered(device, self.clock.monotonic()))


class Kiosk:
    """Owns the flow and runs the loop: events from the :class:`Inbox` in, the flow's actions
    out through the :class:`Executor`."""

    def __init__(self, cfg: Config, clock: Clock, store: PassLog, devices: Devices,
                 announcer: Announcer, verifier: Verifier | None = None, calibration_c: float = 0.0,
                 sample_hz: float | None = None, inbox: Inbox | None = None) -> None:
        self.cfg, self.clock = cfg, clock
        self.verifier: Verifier = verifier or NoTrustVerifier()
        self.flow = Flow(cfg, calibration_c=calibration_c, sample_hz=sample_hz)
        self.inbox = inbox or Inbox(clock)
        self.events = self.inbox.events
        self.scanner = Scanner(self.verifier, self.inbox)
        self.executor = Executor(store, devices, announcer, self.post, clock, verifier=self.verifier,
                                 fail_policy=cfg.store.fail_policy, hold_max_records=cfg.store.hold_max_records)
        self.devices = devices
        self.store = store
        self.recoveries: list[tuple[Path, subprocess.Popen[bytes]]] = []   # kiosk/passlog/quarantine.py
        self.thermometer: Thermometer | None = None    # the readers, set by assembly (a self-test watches them)
        self.camera_boot: CameraBoot | None = None     # the camera, started after READY (set by assembly)

    @property
    def camera(self) -> CameraFeed | None:
        """The running camera feed; None without a camera or while it is still starting."""
        return self.camera_boot.feed if self.camera_boot is not None else None

    def post(self, event: Event) -> None:
        self.inbox.post(event)

    def payload_seen(self, payload: bytes) -> None:
        """A payload as if the camera had read it (stand-ins and tests): verified in the
        caller's thread, as the scan thread does."""
        self.scanner.payload_seen(payload)

    def on_commit(self, listener: CommitListener) -> None:
        self.executor.listeners.append(listener)

    def handle(self, event: Event) -> None:
        actions = self.flow.handle(event)
        self.executor.run(actions)
        if any(isinstance(a, A.Store) and a.record.kind == "pass" for a in actions):
            camera = self.camera       # a case decided: the next resident's code is read on its
            if camera is not None:     # first frame, not after the held code's gap (kiosk/devices/camera.py)
                camera.release()

    def record(self, record: Record) -> None:
        """Store a record that is not the flow's decision (alarms from housekeeping)."""
        self.executor.run([A.Store(record)])

    def pump(self) -> int:
        """Handle every queued event, then the deadlines due now; never blocks. Returns events handled."""
        self.executor.retry()
        n = 0
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            self.handle(event)
            n += 1
        self._tick_if_due()
        return n

    def _tick_if_due(self) -> None:
        deadline = self.flow.next_deadline()
        if deadline is not None and self.clock.monotonic() >= deadline:
            self.handle(Tick(self.clock.monotonic()))

    def step(self) -> None:
        """Wait for one event or the next deadline (at most MAX_WAIT_S), then handle it."""
        self.executor.retry()
        deadline = self.flow.next_deadline()
        wait = MAX_WAIT_S if deadline is None else min(MAX_WAIT_S, max(0.0, deadline - self.clock.monotonic()))
        try:
            event = self.events.get(timeout=wait)
        except queue.Empty:
            pass
        else:
            self.handle(event)
        self._tick_if_due()

    def run(self, stop: threading.Event, on_cycle: Callable[[], None] | None = None) -> None:
        """The main loop; ``on_cycle`` runs after every healthy cycle (watchdog ping, status)."""
        while not stop.is_set():
            self.step()
            if on_cycle is not None:
                on_cycle()
