"""The running kiosk's control socket, ``<runtime_dir>/control.sock``: how `kiosk selftest` checks
the devices the service holds, and how the stand-in site presses its mock panel buttons.

Why: the service owns the GPIO lines and the serial port exclusively, so on an installed kiosk a
self-test run beside it could test nothing (and stopping the gate to test it is not what a
technician expects). Through this socket the kiosk tests its own devices, in its own process.

Protocol: one JSON line in, JSON lines back, then the connection closes.

- ``{"do": "selftest", "lang": "zh"|"en"}`` → for each device check ``{"start": NAME, "note":
  TEXT}`` as it begins (so "listen for the click" comes before the click), then ``{"result":
  {"name", "ok", "detail", "hint"}}``; finally ``{"done": true}``. NAME stays English (a key);
  note, detail and hint are worded in ``lang`` (kiosk/i18n; default the service's own language),
  so the technician reads them in the language the CLI was asked for.
- ``{"do": "press", "button": "pass"|"deny"|"remeasure"|"emergency"}`` → the button is pressed
  and let go (the emergency one held for ``gpio.emergency_hold_s``) through the real pin
  edges, then ``{"ok": true}``. Only on the mock pin factory: a real panel is pressed by hand.
- Anything else: ``{"error": TEXT}``.

Device work runs in the kiosk's loop thread, between events (:meth:`ControlServer.run_pending`,
called from the loop's cycle hook), and only while no resident is at the gate; the waiting (a
relay click, a clip, two looks at a frame counter) happens in the connection's thread, so the
loop is never held longer than one task. The socket is mode 0600: the kiosk's own user, and root.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from kiosk import i18n
from kiosk.core.events import Tick
from kiosk.core.flow import State
from kiosk.i18n import _
from kiosk.service.runtime import Kiosk

log = logging.getLogger("kiosk.service.control")

RELAY_TEST_S = 0.5
LED_STEP_S = 0.4
LOOK_S = 2.0                 # how long the thermometer and the camera are watched
CAMERA_START_S = 10.0        # a self-test right after start waits this long for the camera (started after READY)
TASK_TIMEOUT_S = 10.0        # the loop takes a task within a cycle; longer means it is stuck
MAX_REQUEST_BYTES = 4096
BUTTONS = ("pass", "deny", "remeasure", "emergency")


class Busy(Exception):
    """A resident is at the gate: the device checks that would disturb them wait for a free gate."""


def _result(name: str, ok: bool, detail: str, hint: str = "") -> dict[str, Any]:
    return {"result": {"name": name, "ok": ok, "detail": detail, "hint": hint}}


class ControlServer:
    """Listens on the control socket in a thread; hands device work to the kiosk's loop."""

    def __init__(self, kiosk: Kiosk, path: Path) -> None:
        self.kiosk, self.path = kiosk, Path(path)
        self._tasks: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._stop = threading.Event()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)          # a socket left by a killed kiosk
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.path))
        os.chmod(self.path, 0o600)
        self._sock.listen(4)
        self._sock.settimeout(0.5)
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sock.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- the loop's side

    def run_pending(self) -> None:
        """Run the device tasks waiting for the loop (called by the loop between events)."""
        while True:
            try:
                fn, fut = self._tasks.get_nowait()
            except queue.Empty:
                return
            try:
                fut.set_result(fn())
            except Exception as exc:  # noqa: BLE001 - handed to the waiting connection, never raised here
                fut.set_exception(exc)

    def _in_loop(self, fn: Callable[[], Any]) -> Any:
        fut: Future[Any] = Future()
        self._tasks.put((fn, fut))
        # wake the loop now rather than at its next half-second: a tick changes nothing that is not due
        self.kiosk.inbox.post(Tick(self.kiosk.clock.monotonic()))
        return fut.result(timeout=TASK_TIMEOUT_S)

    def _idle(self) -> None:
        state = self.kiosk.flow.state
        if state is not State.IDLE:
            raise Busy(_("a resident is at the gate (state {state}): run the self-test again when it is free").format(
                state=state.value))

    # ---------------------------------------------------------------- connections

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), name="control-conn", daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                request = json.loads(_read_line(conn))
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object")
                for answer in self.answer(request):
                    conn.sendall(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
            except (OSError, ValueError) as exc:
                try:
                    conn.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
                except OSError:
                    pass

    def answer(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        what = request.get("do")
        if what == "selftest":
            lang = request.get("lang")
            i18n.use(lang if lang in i18n.LANGUAGES else None)    # this connection's thread only
            yield from self.selftest()
            yield {"done": True}
        elif what == "press":
            yield self.press(str(request.get("button")))
        else:
            yield {"error": f"unknown request {what!r} (selftest or press)"}

    # ---------------------------------------------------------------- the stand-in panel

    def press(self, button: str) -> dict[str, Any]:
        cfg = self.kiosk.cfg
        if cfg.gpio.pin_factory != "mock":
            return {"error": "buttons are pressed remotely only on stand-in hardware (gpio.pin_factory = 'mock')"}
        if button not in BUTTONS:
            return {"error": f"no button {button!r} (one of {', '.join(BUTTONS)})"}
        pin = self.kiosk.devices.buttons.pin(button)
        hold = cfg.gpio.emergency_hold_s + 0.3 if button == "emergency" else 0.15
        pin.drive_low()                 # buttons pull up: pressed is low; gpiozero sees a real edge
        self._stop.wait(hold)
        pin.drive_high()
        return {"ok": True, "button": button}

    # ---------------------------------------------------------------- the self-test

    def selftest(self) -> Iterator[dict[str, Any]]:
        """Each device check, as the service holds the device; one ``start`` and one ``result`` each."""
        checks: tuple[tuple[str, str, Callable[[], dict[str, Any]]], ...] = (
            ("GPIO", "", self._gpio),
            ("gate relay", _("clicking the gate relay for {seconds:g} s now: listen for the click").format(
                seconds=RELAY_TEST_S), self._relay),
            ("LEDs and buzzer", _("green, red and yellow light in turn, then one beep: watch and listen"),
             self._lights),
            ("voice", _("saying 'please show your health code': listen"), self._voice),
            ("thermometer", _("reading the thermometer for {seconds:g} s").format(seconds=LOOK_S), self._thermometer),
            ("camera", _("watching the camera for {seconds:g} s").format(seconds=LOOK_S), self._camera),
        )
        for name, note, check in checks:
            yield {"start": name, "note": note}
            try:
                yield check()
            except Busy as exc:
                yield _result(name, False, str(exc), _("wait until nobody is at the gate"))
            except Exception as exc:    # a broken part is a failed check, not a dead service (logged)
                log.exception("self-test check %s failed", name)
                yield _result(name, False, f"{type(exc).__name__}: {exc}", _("see `journalctl -u kiosk`"))

    def _gpio(self) -> dict[str, Any]:
        return _result("GPIO", True, _("pin factory {factory}: relay, LEDs, buzzer, amplifier and buttons held by "
                                       "the running kiosk (pid {pid})").format(
            factory=self.kiosk.cfg.gpio.pin_factory, pid=os.getpid()))

    def _relay(self) -> dict[str, Any]:
        gpio = self.kiosk.cfg.gpio

        def click() -> None:
            self._idle()
            log.warning("self-test: gate relay energised for %.1f s by a technician", RELAY_TEST_S)
            self.kiosk.devices.relay.pulse(RELAY_TEST_S)

        self._in_loop(click)
        self._stop.wait(RELAY_TEST_S + 0.1)
        active = _("active high") if gpio.relay_active_high else _("active low")
        return _result("gate relay", True, _("energised {where} for {seconds:g} s: did it click (and the gate "
                                             "open)? If not, check the relay board's power and wiring").format(
            where=f"GPIO{gpio.relay_pin} ({active})", seconds=RELAY_TEST_S))

    def _lights(self) -> dict[str, Any]:
        ind = self.kiosk.devices.indicators

        def show(state: str) -> Callable[[], None]:
            def task() -> None:
                self._idle()
                ind.show(state)
            return task

        try:
            for state in ("pass", "deny", "measuring"):
                self._in_loop(show(state))
                self._stop.wait(LED_STEP_S)
        finally:
            self._in_loop(lambda: ind.show(self.kiosk.flow.idle_lights())
                          if self.kiosk.flow.state is State.IDLE else None)
        self._in_loop(lambda: ind.beep(1))
        return _result("LEDs and buzzer", True, _("green, red and yellow lit in turn and the buzzer beeped once: "
                                                  "check by eye and ear"))

    def _voice(self) -> dict[str, Any]:
        v = self.kiosk.cfg.voice
        if v.backend == "none" or v.mute:
            return _result("voice", True, _("voice is off ([voice] backend = {backend!r}, mute = {mute})").format(
                backend=v.backend, mute=v.mute))
        announcer = self.kiosk.executor.announcer
        self._in_loop(lambda: announcer.announce("please_scan"))
        waiter = getattr(announcer, "wait_idle", None)
        if waiter is not None:
            waiter(15.0)
        player = getattr(announcer, "player", None)
        error = getattr(player, "last_error", None)
        if error:
            return _result("voice", False, _("playing a clip failed: {fault}").format(fault=error),
                           _("check the speaker and [voice] device (= {device!r}; `aplay -l` lists cards)").format(
                               device=v.device))
        return _result("voice", True, _("'please_scan' played with backend {backend} on {device!r}").format(
            backend=v.backend, device=v.device))

    def _thermometer(self) -> dict[str, Any]:
        cfg = self.kiosk.cfg
        reader = self.kiosk.thermometer
        hint = _("check [thermometer] port (= {port!r}) and protocol, the cable and the module's power; the kiosk "
                 "user must be in group dialout").format(port=cfg.thermometer.port)
        if reader is None:
            return _result("thermometer", False, _("no thermometer configured ([thermometer] enabled = false)"), hint)
        before, t0 = reader.frames, time.monotonic()
        self._stop.wait(LOOK_S)
        rate = (reader.frames - before) / max(time.monotonic() - t0, 1e-6)
        fault = self.kiosk.flow.faults.get("thermometer")
        if fault or rate <= 0:
            silent = _("no valid frame in {seconds:g} s ({bad} bad frames)").format(
                seconds=LOOK_S, bad=reader.bad_frames)
            return _result("thermometer", False, fault or silent, hint)
        return _result("thermometer", True, _("{protocol} on {port}: {rate:.1f} frames/s, {bad} bad frames since the "
                                              "kiosk started").format(
            protocol=cfg.thermometer.protocol, port=reader.settings.port, rate=rate, bad=reader.bad_frames))

    def _camera(self) -> dict[str, Any]:
        cfg = self.kiosk.cfg.camera
        boot = self.kiosk.camera_boot
        if boot is not None:          # started after READY (kiosk/devices/camera_boot.py): wait for it
            boot.started.wait(CAMERA_START_S)
        feed = self.kiosk.camera
        hint = _("check [camera] source (= {source!r}), the USB cable or CSI ribbon, and that the kiosk "
                 "user is in group video (`v4l2-ctl --list-devices` lists cameras)").format(source=cfg.source)
        if feed is None and boot is not None:
            fault = self.kiosk.flow.faults.get("camera")
            return _result("camera", False, fault or _("camera still starting after {seconds:g} s").format(
                seconds=CAMERA_START_S), hint)
        if feed is None:
            return _result("camera", False, _("no camera configured ([camera] enabled = false)"), hint)
        before, t0 = feed.capture.frames, time.monotonic()
        self._stop.wait(LOOK_S)
        fps = (feed.capture.frames - before) / max(time.monotonic() - t0, 1e-6)
        fault = self.kiosk.flow.faults.get("camera")
        detail = _("{fps:.1f} fps (asked {asked:g}); {codes} codes read since the kiosk started "
                   "(hold one up and watch `journalctl -u kiosk -f`)").format(
            fps=fps, asked=cfg.fps, codes=feed.events)
        if fault:
            return _result("camera", False, fault, hint)
        if fps < cfg.fps / 2:
            return _result("camera", False, detail + _(" — too slow"), hint)
        return _result("camera", True, detail)


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1024)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST_BYTES:
            raise ValueError("request too long")
    return data


def request(path: Path, message: dict[str, Any], timeout_s: float = 60.0) -> Iterator[dict[str, Any]]:
    """Send one request to a running kiosk's control socket now (OSError if no kiosk listens
    there); the answers are yielded as they come."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(str(path))
        sock.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        sock.close()
        raise
    return _answers(sock)


def _answers(sock: socket.socket) -> Iterator[dict[str, Any]]:
    with sock, sock.makefile("rb") as lines:
        for line in lines:
            answer = json.loads(line)
            if isinstance(answer, dict):
                yield answer
