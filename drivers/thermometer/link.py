"""The IR thermometer's byte pump: pyserial in, verified frames out (framing: thermo_frames).

:class:`ThermometerLink` is one synchronous connection — open with ``serial_for_url`` (so
``/dev/ttyUSB0``, ``/dev/serial0``, pseudo-terminals, ``socket://`` and ``loop://`` all work),
probe the baud rates the module may use, send its setup commands, then read frames either as
they stream in or by querying. Every read and write has a timeout. The CLI and the selftest
use it directly (:meth:`ThermometerLink.frames`).

:class:`Thermometer` runs a link in a reader thread for the kiosk: each valid frame goes to
``on_sample``, an outage (port vanished, no valid frame for ``silence_s``) to ``on_fault``
once, and the first valid frame after it to ``on_recovered``. It reconnects with exponential
backoff, so an unplugged USB adapter that comes back needs no restart.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import serial

try:
    import termios
    _TTY_ERRORS: tuple[type[BaseException], ...] = (termios.error,)   # tcflush on a vanished tty
except ImportError:  # pragma: no cover - not a POSIX system
    _TTY_ERRORS = ()

from drivers.errors import DeviceConfigError, DeviceTimeout, DeviceUnavailable, DriverError, FrameError
from drivers.health import Health
from drivers.thermometer.frames import Codec, Frame, codec, effective_mode

log = logging.getLogger("drivers.thermometer.link")

SerialFactory = Callable[..., Any]


@dataclass(frozen=True)
class LinkSettings:
    """Where the module is and how to talk to it."""

    port: str
    protocol: str
    baud: int = 0                  # 0: probe the protocol's known rates in order
    mode: str = "auto"             # auto, stream or query
    poll_hz: float = 8.0           # queries per second in query mode (GY seller: below 10)
    read_timeout_s: float = 0.2    # one read, one query, one write

    def __post_init__(self) -> None:
        c = codec(self.protocol)
        effective_mode(c, self.mode)
        if self.baud < 0:
            raise DeviceConfigError(f"baud rate {self.baud} is negative")
        if not 0.1 <= self.poll_hz <= 50:
            raise DeviceConfigError(f"poll rate {self.poll_hz} Hz outside 0.1…50")
        if not 0.01 <= self.read_timeout_s <= 10:
            raise DeviceConfigError(f"read timeout {self.read_timeout_s} s outside 0.01…10")


class ThermometerLink:
    """One open connection to the module. Not thread-safe: one thread reads it."""

    def __init__(self, settings: LinkSettings, on_bad: Callable[[FrameError], None] | None = None,
                 serial_for_url: SerialFactory = serial.serial_for_url) -> None:
        self.settings = settings
        self.codec: Codec = codec(settings.protocol)
        self.mode = effective_mode(self.codec, settings.mode)
        self.parser = self.codec.parser(on_bad)
        self._serial_for_url = serial_for_url
        self._port: Any = None
        self._held: list[Frame] = []
        self.baud: int | None = None
        self._next_query = 0.0

    # ---------------------------------------------------------------- open / close

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> ThermometerLink:
        """Open the port and find the module; DeviceUnavailable or DeviceTimeout if that fails."""
        s = self.settings
        rates = (s.baud,) if s.baud else self.codec.bauds
        try:
            self._port = self._serial_for_url(s.port, baudrate=rates[0], timeout=s.read_timeout_s,
                                              write_timeout=s.read_timeout_s, exclusive=True)
        except (serial.SerialException, OSError, ValueError, *_TTY_ERRORS) as exc:
            raise DeviceUnavailable(f"cannot open thermometer port {s.port}: {_why(exc)}") from None
        try:
            for rate in rates:
                if self._probe(rate):
                    self.baud = rate
                    log.info("thermometer %s on %s at %d baud (%s mode)", s.protocol, s.port, rate, self.mode)
                    return self
            tried = " or ".join(str(r) for r in rates)
            raise DeviceTimeout(f"no valid {s.protocol} frame from {s.port} at {tried} baud "
                                f"({self.parser.bad} bad frames): wrong protocol, baud rate or wiring?")
        except BaseException:
            self.close()
            raise

    def _probe(self, rate: int) -> bool:
        """Talk to the module at ``rate``; True once a valid frame came back."""
        port, c = self._port, self.codec
        self._io(lambda: setattr(port, "baudrate", rate))
        self._io(port.reset_input_buffer)      # power-on auto-output may have queued frames
        self.parser.reset()
        wait = self.settings.read_timeout_s
        for command in c.setup():
            ack = self._exchange(command, wait, functools.partial(_acknowledges, c, command))
            if ack is None:
                return False
            if ack.status != 0:
                raise DeviceConfigError(f"{c.name} refused setup command {command.hex(' ')} "
                                        f"(status {ack.status:02X})")
        if self.mode == "query":
            frame = self._exchange(c.query(), wait, lambda f: f.has_temperature)
        else:
            start = c.stream()
            if start is not None:
                self._write(start)
            # a pushing module needs time for its next frame: two frame periods at least
            assert c.push_hz is not None
            frame = self._wait_for(max(wait, 2.5 / c.push_hz), lambda f: f.has_temperature)
        if frame is None:
            return False
        self._held.append(frame)
        self._next_query = time.monotonic() + self.period_s
        return True

    def close(self) -> None:
        port, self._port = self._port, None
        self._held.clear()
        if port is not None:
            try:
                port.close()
            except Exception:  # noqa: BLE001 - a vanished device may fail to close; it is gone either way
                pass

    def cancel(self) -> None:
        """Abort a blocking read from another thread (close() follows in the reading thread)."""
        port = self._port
        if port is not None and hasattr(port, "cancel_read"):
            try:
                port.cancel_read()
            except Exception:  # noqa: BLE001 - closing a vanished device must not raise
                pass

    def __enter__(self) -> ThermometerLink:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- I/O with timeouts

    def _io(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except serial.SerialTimeoutException as exc:
            raise DeviceTimeout(f"thermometer port {self.settings.port}: write timed out") from exc
        except (serial.SerialException, OSError, *_TTY_ERRORS) as exc:
            raise DeviceUnavailable(f"thermometer port {self.settings.port} failed: {_why(exc)}") from exc

    def _write(self, data: bytes) -> None:
        self._io(lambda: self._port.write(data))

    def _read(self) -> list[Frame]:
        """One read (at most read_timeout_s); verified frames out. Quiet line: partial frame is bad."""
        port = self._port
        if port is None:
            raise DeviceUnavailable(f"thermometer port {self.settings.port} is not open")
        data = self._io(lambda: port.read(max(self.parser.needed(), port.in_waiting)))
        if not data:
            self.parser.flush()
            return []
        return self.parser.feed(data)

    def _wait_for(self, timeout_s: float, want: Callable[[Frame], bool]) -> Frame | None:
        """Read until a frame satisfying ``want`` arrives or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            for frame in self._read():
                if want(frame):
                    return frame
            if time.monotonic() >= deadline:
                return None

    def _exchange(self, command: bytes | None, timeout_s: float, want: Callable[[Frame], bool]) -> Frame | None:
        self._io(self._port.reset_input_buffer)    # answer, not an unsolicited frame from before
        self.parser.reset()
        if command is not None:
            self._write(command)
        return self._wait_for(timeout_s, want)

    # ---------------------------------------------------------------- reading

    @property
    def period_s(self) -> float:
        """Time between frames in this mode."""
        if self.mode == "query":
            return 1.0 / self.settings.poll_hz
        assert self.codec.push_hz is not None
        return 1.0 / self.codec.push_hz

    def poll(self, stop: threading.Event | None = None) -> list[Frame]:
        """The next frames with a temperature: one read when streaming, one paced query otherwise.

        Returns [] when nothing valid arrived within the read timeout. Raises DeviceUnavailable
        when the port fails (unplugged) — never returns a frame that failed its checksum.
        """
        if self._held:
            held, self._held = self._held, []
            return held
        if self.mode == "stream":
            return [f for f in self._read() if f.has_temperature]
        wait = self._next_query - time.monotonic()
        if wait > 0:
            if stop is not None:
                if stop.wait(wait):
                    return []
            else:
                time.sleep(wait)
        self._next_query = max(self._next_query, time.monotonic()) + self.period_s
        frame = self._exchange(self.codec.query(), self.settings.read_timeout_s, lambda f: f.has_temperature)
        return [] if frame is None else [frame]

    def frames(self, count: int | None = None, duration_s: float | None = None,
               silence_s: float = 2.0) -> Iterator[Frame]:
        """Valid frames until ``count`` came or ``duration_s`` passed (synchronous; CLI, selftest).

        Raises DeviceTimeout when no valid frame arrives for ``silence_s``.
        """
        if self._port is None:
            self.open()
        start = last = time.monotonic()
        got = 0
        while (count is None or got < count) and (duration_s is None or time.monotonic() - start < duration_s):
            batch = self.poll()
            now = time.monotonic()
            if batch:
                last = now
            elif now - last > silence_s:
                raise DeviceTimeout(f"no valid frame from {self.settings.port} for {silence_s:g} s "
                                    f"({self.parser.bad} bad frames)")
            for frame in batch:
                yield frame
                got += 1
                if count is not None and got >= count:
                    return


class Thermometer:
    """The thermometer for the kiosk: a reader thread that reports samples, faults, recovery."""

    def __init__(self, settings: LinkSettings, on_sample: Callable[[Frame], None],
                 on_fault: Callable[[str], None], on_recovered: Callable[[], None], *,
                 on_bad: Callable[[FrameError], None] | None = None, silence_s: float = 2.0,
                 backoff_min_s: float = 0.2, backoff_max_s: float = 5.0,
                 serial_for_url: SerialFactory = serial.serial_for_url) -> None:
        self.link = ThermometerLink(settings, on_bad, serial_for_url)   # validates settings now
        self.settings = settings
        self.on_sample = on_sample
        self.health = Health("thermometer", on_fault, on_recovered, log)
        self.silence_s = silence_s
        self.backoff_min_s, self.backoff_max_s = backoff_min_s, max(backoff_min_s, backoff_max_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reconnects = 0
        self.frames = 0             # valid frames since start (a self-test's rate: two looks, apart)

    @property
    def faulted(self) -> bool:
        return self.health.faulted

    @property
    def fault_message(self) -> str | None:
        return self.health.message

    @property
    def bad_frames(self) -> int:
        return self.link.parser.bad

    def start(self) -> Thermometer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="thermometer", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the reader thread and close the port (within about one read timeout)."""
        self._stop.set()
        self.link.cancel()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.settings.read_timeout_s + self.link.period_s + 2.0)

    def __enter__(self) -> Thermometer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- the reader thread

    def _fault(self, message: str) -> None:
        self.health.down(message)

    def _run(self) -> None:
        backoff = self.backoff_min_s
        while not self._stop.is_set():
            try:
                self.link.open()
                backoff = self.backoff_min_s       # the module answered: start backing off afresh
                if self._stop.is_set():
                    break
                self._pump()
            except (DriverError, OSError) as exc:
                self._fault(str(exc))
            except Exception as exc:
                log.exception("thermometer reader failed")
                self._fault(f"thermometer driver error: {type(exc).__name__}: {exc}")
            finally:
                self.link.close()
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.backoff_max_s)
            self.reconnects += 1

    def _pump(self) -> None:
        """Read until stopped; raise when the port fails or stays silent."""
        last_valid = time.monotonic()
        while not self._stop.is_set():
            frames = self.link.poll(self._stop)
            now = time.monotonic()
            if frames:
                last_valid = now
                self.frames += len(frames)
                self.health.up()
                for frame in frames:
                    _call(self.on_sample, frame)
            elif now - last_valid > self.silence_s:
                raise DeviceTimeout(f"thermometer on {self.settings.port} sent no valid frame for "
                                    f"{self.silence_s:g} s ({self.link.parser.bad} bad frames)")


def _call(fn: Callable[..., None], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("thermometer callback %r failed", fn)


def _why(exc: BaseException) -> str:
    """One readable clause for an OS/pyserial error (pyserial repeats itself: '[Errno 2] could
    not open port X: [Errno 2] No such file or directory: X')."""
    code = getattr(exc, "errno", None)
    if code is None and _TTY_ERRORS and isinstance(exc, _TTY_ERRORS) and exc.args:
        code = exc.args[0]
    if code in (errno.EAGAIN, errno.EWOULDBLOCK):
        return "the port is in use by another program (is the kiosk service running?)"
    if isinstance(code, int) and code > 0:
        return os.strerror(code)
    return str(exc)


def _acknowledges(codec: Codec, command: bytes, frame: Frame) -> bool:
    return codec.acknowledges(command, frame)
