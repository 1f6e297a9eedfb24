"""A thermometer module on a pseudo-terminal that speaks the real bytes (docs/thermometer.md §3).

:class:`PtyThermometer` opens a pty pair, puts the slave in raw mode at once and keeps it open
(so nothing the host has not read is line-disciplined, and the host closing its end does not
hang up the master), then plays one module protocol of :mod:`drivers.thermometer.frames` on the
master: it answers the host's commands, pushes frames at the module's rate, and paces every
write at the module's baud rate (10 bits per byte), which the pty itself does not enforce.

The module also notices a host on the wrong baud rate: it reads the line speed the host set
on the tty and, when it differs from its own, hears the host's commands as noise and sends
noise back — which is what a baud probe meets on a real UART.

What the sensor sees is a scenario (rows of time, object, ambient [, body] and an optional
fault), or a live target that the demo sets while a resident holds their forehead. With no
target the sensor sees the room (object = ambient). Faults: garbage bytes, split frames,
bad checksums, truncated frames, silence, unplug/replug (the pty vanishes and comes back,
with ``link`` re-pointed, as a udev ``/dev/serial/by-id`` link would).

Technicians run it with ``python -m hardware_mocks.thermometer --protocol gy-mcu90614 --link
/tmp/ttyTHERMO [--scenario FILE]``; it prints the port path and takes commands on stdin.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import os
import pty
import random
import select
import signal
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from drivers.errors import FrameError
from drivers.thermometer.frames import AMBIENT_RANGE_C, OBJECT_RANGE_C, AaA5Body, Codec, Command, GyMcu90614, codec

FAULTS = ("garbage", "split", "bad_checksum", "truncate", "silence", "unplug", "replug")
# What a UART hears from a line running at another speed: mostly all-ones/all-zeros bytes and
# framing errors. None of these is a header byte of any protocol.
_NOISE = bytes((0x00, 0x80, 0xC0, 0xE0, 0xF0, 0xF8, 0xFC, 0xFE, 0xFF))
_SPEEDS = {getattr(termios, f"B{r}"): r for r in
           (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
           if hasattr(termios, f"B{r}")}


@dataclass(frozen=True)
class Step:
    """From ``t`` seconds after start the sensor sees this (object None: nobody, only the room)."""

    t: float
    object_c: float | None
    ambient_c: float
    body_c: float | None = None
    fault: str | None = None          # one of FAULTS, optionally "name:seconds" / "name:count"


def load_scenario(path: str | os.PathLike[str]) -> list[Step]:
    """Read a CSV scenario: header ``t,object_c,ambient_c[,body_c][,fault]``; empty object_c = nobody."""
    steps: list[Step] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"t", "object_c", "ambient_c"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: scenario needs columns t, object_c, ambient_c "
                             f"(missing {', '.join(sorted(missing))})")
        for n, row in enumerate(reader, start=2):
            try:
                fault = (row.get("fault") or "").strip() or None
                if fault is not None and fault.split(":")[0] not in FAULTS:
                    raise ValueError(f"unknown fault {fault!r} (known: {', '.join(FAULTS)})")
                steps.append(Step(t=float(row["t"]), object_c=_opt(row["object_c"]),
                                  ambient_c=float(row["ambient_c"]), body_c=_opt(row.get("body_c")), fault=fault))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{n}: {exc}") from None
    return sorted(steps, key=lambda s: s.t)


def _clamp(value: float, rng: tuple[float, float]) -> float:
    return min(max(value, rng[0]), rng[1])


def _opt(text: str | None) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


class PtyThermometer:
    """One simulated module on a pty; runs in its own thread. Thread-safe controls."""

    def __init__(self, protocol: str, *, link: str | os.PathLike[str] | None = None, baud: int | None = None,
                 rate_hz: float | None = None, auto_output: bool = True, room_c: float = 22.0,
                 noise_c: float = 0.02, body_offset_c: float = 0.5, scenario: Sequence[Step] = (),
                 seed: int = 0, split_gap_s: float = 0.02) -> None:
        self.codec: Codec = codec(protocol)
        self.protocol = protocol
        self.link = Path(link) if link is not None else None
        self.baud = baud or self.codec.bauds[0]
        self.rate_hz = rate_hz or self.codec.push_hz or 0.0
        self.auto_output = auto_output
        self.noise_c, self.body_offset_c, self.split_gap_s = noise_c, body_offset_c, split_gap_s
        self.scenario = list(scenario)
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()
        self._master: int | None = None
        self._slave: int | None = None
        self._tty_name: str | None = None
        self._target: tuple[float, float, float | None] | None = None   # object, ambient, body
        self._room_c = room_c
        self._pending: dict[str, int] = {}
        self._silent_until: float | None = None
        self._replug_at: float | None = None
        self._next_step = 0
        self._t0 = 0.0
        # module state (reset at power-on)
        self._streaming = False
        self._body_mode = False
        self._saved_auto = auto_output
        self._saved_baud = self.baud
        self.frames_sent = 0
        self.commands_seen: list[bytes] = []
        self.bytes_dropped = 0
        self.noise_sent = 0
        self.last_write = 0.0        # wall time just before the last bytes went to the pty (bench timing)
        self._plug()

    # ---------------------------------------------------------------- pty lifetime

    @property
    def path(self) -> str:
        """Where the host opens the port: the link if one was asked for, else the pty itself."""
        if self.link is not None:
            return str(self.link)
        assert self._tty_name is not None
        return self._tty_name

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def _plug(self) -> None:
        master, slave = pty.openpty()
        tty.setraw(slave)                     # before anything is written (docs/thermometer.md §3.1 item 1)
        fcntl.fcntl(master, fcntl.F_SETFL, fcntl.fcntl(master, fcntl.F_GETFL) | os.O_NONBLOCK)
        self._master, self._slave, self._tty_name = master, slave, os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
            tmp.unlink(missing_ok=True)
            os.symlink(self._tty_name, tmp)
            os.replace(tmp, self.link)        # atomic, like udev re-creating a by-id link
        self._power_on()

    def _power_on(self) -> None:
        self.baud = self._saved_baud
        self._streaming = self._saved_auto and self.codec.push_hz is not None
        self._body_mode = False
        self._next_frame = time.monotonic()
        self._parser = (self.codec.command_parser() if self.codec.command_header else None)

    def _unplug_now(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        if self.link is not None:
            self.link.unlink(missing_ok=True)

    def start(self) -> PtyThermometer:
        if self._thread is None:
            self._t0 = time.monotonic()
            self._thread = threading.Thread(target=self._run, name=f"sim-{self.protocol}", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        with self._lock:
            self._unplug_now()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> PtyThermometer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- controls (any thread)

    def set_target(self, object_c: float, ambient_c: float | None = None, body_c: float | None = None) -> None:
        """Someone holds their forehead in front of the sensor."""
        with self._lock:
            self._target = (object_c, self._room_c if ambient_c is None else ambient_c, body_c)
            if ambient_c is not None:
                self._room_c = ambient_c

    def clear_target(self, ambient_c: float | None = None) -> None:
        """Nobody in front: the sensor sees the room."""
        with self._lock:
            self._target = None
            if ambient_c is not None:
                self._room_c = ambient_c

    def inject(self, fault: str, count: int = 1) -> None:
        """Corrupt the next ``count`` frames: garbage (before each), split, bad_checksum, truncate."""
        if fault not in ("garbage", "split", "bad_checksum", "truncate"):
            raise ValueError(f"unknown frame fault {fault!r}")
        with self._lock:
            self._pending[fault] = self._pending.get(fault, 0) + count

    def silence(self, seconds: float | None = None) -> None:
        """Stop sending (the module hangs) for ``seconds``, or until :meth:`resume`."""
        with self._lock:
            self._silent_until = float("inf") if seconds is None else time.monotonic() + seconds

    def resume(self) -> None:
        with self._lock:
            self._silent_until = None
        self._wake()

    def unplug(self, seconds: float | None = None) -> None:
        """The USB adapter is pulled: the pty and the link vanish (back after ``seconds`` if given)."""
        with self._lock:
            self._unplug_now()
            self._replug_at = None if seconds is None else time.monotonic() + seconds
        self._wake()

    def replug(self) -> None:
        """The adapter is plugged back in: a new pty, the link points at it, the module powers on."""
        with self._lock:
            if self._master is None:
                self._plug()
            self._replug_at = None
            self._changed.notify_all()
        self._wake()

    def wait_frames(self, n: int, timeout_s: float = 5.0) -> bool:
        """Block until ``n`` more frames were sent (tests synchronise on this, never on sleeps)."""
        with self._changed:
            goal = self.frames_sent + n
            return self._changed.wait_for(lambda: self.frames_sent >= goal, timeout=timeout_s)

    def wait_for(self, pred: Callable[[], bool], timeout_s: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(pred, timeout=timeout_s)

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    # ---------------------------------------------------------------- the module's thread

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            self._scenario_due(now)
            with self._lock:
                if self._replug_at is not None and now >= self._replug_at:
                    self.replug()
                master = self._master
                streaming = self._streaming and self.rate_hz > 0 and self._silent(now) is False
                due = self._next_frame if streaming else None
            timeout = 0.05
            if due is not None:
                timeout = min(timeout, max(0.0, due - now))
            if self._next_step < len(self.scenario):
                timeout = min(timeout, max(0.0, self._t0 + self.scenario[self._next_step].t - now))
            fds = [self._wake_r] + ([master] if master is not None else [])
            try:
                ready, _, _ = select.select(fds, [], [], timeout)
            except (OSError, ValueError):
                continue                         # the master was closed under us (unplug)
            if self._wake_r in ready:
                os.read(self._wake_r, 512)
            if master is not None and master in ready:
                self._host_bytes(master)
            if due is not None and time.monotonic() >= due:
                self._emit()
                with self._lock:
                    period = 1.0 / self.rate_hz
                    self._next_frame = max(self._next_frame + period, time.monotonic())

    def _silent(self, now: float) -> bool:
        until = self._silent_until
        if until is None:
            return False
        if now >= until:
            self._silent_until = None
            return False
        return True

    def _scenario_due(self, now: float) -> None:
        while self._next_step < len(self.scenario) and now >= self._t0 + self.scenario[self._next_step].t:
            step = self.scenario[self._next_step]
            self._next_step += 1
            if step.object_c is None:
                self.clear_target(step.ambient_c)
            else:
                self.set_target(step.object_c, step.ambient_c, step.body_c)
            if step.fault:
                self._scenario_fault(step.fault)

    def _scenario_fault(self, fault: str) -> None:
        name, _, arg = fault.partition(":")
        if name == "silence":
            self.silence(float(arg) if arg else None)
        elif name == "unplug":
            self.unplug(float(arg) if arg else None)
        elif name == "replug":
            self.replug()
        else:
            self.inject(name, int(arg) if arg else 1)

    def host_baud(self) -> int | None:
        """The line speed the host set on its end of the tty."""
        with self._lock:
            fd = self._slave
        if fd is None:
            return None
        try:
            return _SPEEDS.get(termios.tcgetattr(fd)[4])
        except termios.error:
            return None

    def _host_bytes(self, master: int) -> None:
        try:
            data = os.read(master, 1024)
        except OSError:
            return
        if not data or self._parser is None:
            return
        if self.host_baud() != self.baud:
            return                                 # noise at this speed; the module hears nothing
        for command in self._parser.feed(data):
            with self._lock:
                self.commands_seen.append(command.raw)
            self._command(command)

    def _command(self, command: Command) -> None:
        c = self.codec
        if isinstance(c, GyMcu90614):
            if command.cmd == c.QUERY:
                time.sleep(0.002)                  # the MCU reads the sensor
                self._emit()
            elif command.cmd == c.STREAM:
                with self._lock:
                    self._streaming, self._next_frame = True, time.monotonic()
            elif command.cmd in (c.BAUD_9600, c.BAUD_115200):
                self._saved_baud = 9600 if command.cmd == c.BAUD_9600 else 115200   # after power cycle
            elif command.cmd in (c.AUTO_ON, c.AUTO_OFF):
                self._saved_auto = command.cmd == c.AUTO_ON
        elif isinstance(c, AaA5Body):
            if command.cmd == c.MEASURE:
                time.sleep(0.002)
                self._emit()
            else:
                if command.cmd == c.SET_TARGET and command.args[:1] in (b"\x01", b"\x02"):
                    self._body_mode = command.args[:1] == b"\x02"
                ack = c.acknowledge(command)
                if ack is not None:
                    self._send(ack)

    def _values(self) -> tuple[float, float, float]:
        """Object, ambient and body temperature the sensor reads now (with its noise)."""
        with self._lock:
            target, room = self._target, self._room_c
        noise = self._rng.uniform(-self.noise_c, self.noise_c) if self.noise_c else 0.0
        if target is None:
            obj, amb, body = room, room, None
        else:
            obj, amb, body = target
        obj += noise
        body = (obj + self.body_offset_c) if body is None else body + noise
        # a sensor's output saturates at the ends of its range rather than vanishing
        obj, amb = _clamp(obj, OBJECT_RANGE_C), _clamp(amb, AMBIENT_RANGE_C)
        return obj, amb, _clamp(body, (0.0, OBJECT_RANGE_C[1]))

    def _emit(self) -> None:
        with self._lock:
            if self._master is None or self._silent(time.monotonic()):
                return
            faults = {k: v for k, v in self._pending.items() if v > 0}
            for k in faults:
                self._pending[k] -= 1
        obj, amb, body = self._values()
        c = self.codec
        try:
            if isinstance(c, GyMcu90614):
                frame = c.encode(object_c=obj, ambient_c=amb)
            elif isinstance(c, AaA5Body):
                frame = (c.encode(body_c=body, ambient_c=amb) if self._body_mode
                         else c.encode(object_c=obj, ambient_c=amb))
            else:
                frame = c.encode(body_c=body)
        except FrameError:
            return                                 # the module cannot express it; it sends nothing
        if "bad_checksum" in faults:
            i = -2 if isinstance(c, AaA5Body) else -1
            frame = frame[:i] + bytes(((frame[i] + 1) & 0xFF,)) + (frame[i + 1:] if i == -2 else b"")
        if "garbage" in faults:
            self._send(bytes(self._rng.randrange(256) for _ in range(self._rng.randrange(3, 24))))
        if "truncate" in faults:
            self._send(frame[: len(frame) // 2])
        elif "split" in faults:
            cut = self._rng.randrange(1, len(frame))
            self._send(frame[:cut])
            self._stop.wait(self.split_gap_s)
            self._send(frame[cut:])
        else:
            self._send(frame)
        with self._changed:
            self.frames_sent += 1
            self._changed.notify_all()

    def _send(self, data: bytes) -> None:
        """Write as the UART would: no faster than the baud rate, as noise if the host's speed differs."""
        self._stop.wait(len(data) * 10 / self.baud)
        if self.host_baud() != self.baud:
            data = bytes(self._rng.choice(_NOISE) for _ in data)
            self.noise_sent += len(data)
        with self._lock:
            master = self._master
            if master is None:
                return
            try:
                self.last_write = time.time()
                written = os.write(master, data)
            except BlockingIOError:
                written = 0                        # nobody reads: the bytes are lost, as on a wire
            except OSError:
                return
            self.bytes_dropped += len(data) - written


# -------------------------------------------------------------------- command line

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hardware_mocks.thermometer",
                                description="Simulated IR thermometer module on a pseudo-terminal.")
    p.add_argument("--protocol", required=True, choices=("gy-mcu90614", "aa-a5-body", "idc50-push"))
    p.add_argument("--link", help="create this symlink to the pty (kept across unplug/replug)")
    p.add_argument("--scenario", help="CSV: t,object_c,ambient_c[,body_c][,fault]")
    p.add_argument("--baud", type=int, help="the module's baud rate (default: its first documented rate)")
    p.add_argument("--rate", type=float, help="frames per second when pushing (default: the module's)")
    p.add_argument("--no-auto-output", action="store_true", help="GY: do not stream at power-on")
    p.add_argument("--room", type=float, default=22.0, help="room temperature seen with nobody in front")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, help="exit after this many seconds")
    return p


HELP = ("commands: target OBJECT [AMBIENT [BODY]] | clear [AMBIENT] | garbage|split|bad_checksum|truncate [N] "
        "| silence [S] | resume | unplug [S] | replug | quit")


def _control(sim: PtyThermometer, line: str) -> bool:
    words = line.split()
    if not words:
        return True
    cmd, args = words[0], [float(w) for w in words[1:]]
    if cmd == "target":
        sim.set_target(*args)
    elif cmd == "clear":
        sim.clear_target(*args)
    elif cmd in ("garbage", "split", "bad_checksum", "truncate"):
        sim.inject(cmd, int(args[0]) if args else 1)
    elif cmd == "silence":
        sim.silence(*args)
    elif cmd == "resume":
        sim.resume()
    elif cmd == "unplug":
        sim.unplug(*args)
    elif cmd == "replug":
        sim.replug()
    elif cmd == "quit":
        return False
    else:
        print(HELP, file=sys.stderr, flush=True)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        scenario = load_scenario(args.scenario) if args.scenario else []
    except (OSError, ValueError) as exc:
        print(f"thermometer simulator: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with PtyThermometer(args.protocol, link=args.link, baud=args.baud, rate_hz=args.rate,
                        auto_output=not args.no_auto_output, room_c=args.room, scenario=scenario,
                        seed=args.seed) as sim:
        print(sim.path, flush=True)

        def read_stdin() -> None:
            for line in sys.stdin:
                try:
                    if not _control(sim, line):
                        break
                except (TypeError, ValueError) as exc:
                    print(f"? {exc}; {HELP}", file=sys.stderr, flush=True)
            else:
                return                             # stdin closed: keep running until a signal
            done.set()

        threading.Thread(target=read_stdin, daemon=True).start()
        done.wait(args.duration)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
