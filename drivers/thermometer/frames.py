"""Byte-level framing of the IR thermometer modules, kept apart from the byte pump.

One :class:`Codec` per module protocol (docs/thermometer.md §1.6): the host commands it
understands, how its frames are laid out (byte order, scale, signedness, checksum), a strict
``decode`` that raises :class:`FrameError` for anything that is not a valid frame, and an
``encode`` of module frames that the simulator and the tests use. :class:`Framer` is the
incremental parser: it hunts for the header, verifies every frame, counts bad ones and
resynchronises byte by byte, so one corrupt byte costs at most the frame it landed in and a
value is never taken from a frame whose checksum failed.

No I/O here: :mod:`drivers.thermometer.link` pumps bytes, :mod:`hardware_mocks.thermometer` makes them.
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from drivers.errors import DeviceConfigError, FrameError

T = TypeVar("T")

# Sensor ranges of the MLX90614 family (docs/thermometer.md §1.5); a checksum-valid frame outside them is
# a corrupt or misparsed frame, never a reading.
OBJECT_RANGE_C = (-70.0, 380.0)
AMBIENT_RANGE_C = (-40.0, 125.0)


def sum8(data: bytes | bytearray) -> int:
    """The 8-bit additive checksum all three protocols use (low byte of the sum)."""
    return sum(data) & 0xFF


@dataclass(frozen=True)
class Frame:
    """One checksum-verified frame from a module (°C). ``body_c`` only from body-mode modules."""

    protocol: str
    raw: bytes
    object_c: float | None = None
    ambient_c: float | None = None
    body_c: float | None = None
    reply_to: int | None = None     # aa-a5-body: the command this frame answers
    status: int | None = None       # aa-a5-body command replies: 0 means OK

    @property
    def has_temperature(self) -> bool:
        return self.object_c is not None or self.body_c is not None


@dataclass(frozen=True)
class Command:
    """A host → module command as the module (simulator) sees it."""

    cmd: int
    args: bytes
    raw: bytes


def _check_range(what: str, value: float, rng: tuple[float, float], raw: bytes) -> float:
    if not rng[0] <= value <= rng[1]:
        raise FrameError(f"{what} {value:.2f} °C outside the sensor range {rng[0]:g}…{rng[1]:g}", raw)
    return value


def _s16(value_c: float, scale: int, what: str) -> bytes:
    """Signed 16-bit big-endian in units of 1/scale °C."""
    n = round(value_c * scale)
    if not -32768 <= n <= 32767:
        raise FrameError(f"{what} {value_c} °C does not fit the frame")
    return struct.pack(">h", n)


class Codec(ABC):
    """What the byte pump and the simulator need to know about one module protocol."""

    name: str
    bauds: tuple[int, ...]           # rates to probe, in order
    header: bytes                    # first bytes of every module frame
    command_header: bytes            # first bytes of every host command
    push_hz: float | None            # rate of frames the module sends unasked; None: query only
    can_query: bool                  # the module answers a query command
    value_step_c: float              # resolution of the frames (quantisation)
    min_length: int = 1              # the shortest module frame, header included

    # ---- host side
    def query(self) -> bytes | None:
        """Ask for one frame (None: the protocol has no query)."""
        return None

    def stream(self) -> bytes | None:
        """Ask the module to push frames continuously (None: it pushes anyway or never)."""
        return None

    def setup(self) -> tuple[bytes, ...]:
        """Commands sent after opening, each answered by an acknowledgement frame."""
        return ()

    # ---- module frames
    @abstractmethod
    def frame_length(self, buf: bytes | bytearray, start: int) -> int | None:
        """Total length of the frame whose header is at ``start``; None if more bytes are needed.
        Raises FrameError when the length field itself is impossible."""

    @abstractmethod
    def decode(self, raw: bytes) -> Frame:
        """A verified frame, or FrameError for any other bytes."""

    @abstractmethod
    def encode(self, object_c: float | None = None, ambient_c: float | None = None,
               body_c: float | None = None) -> bytes:
        """A module frame carrying these values (simulator and tests)."""

    # ---- host commands, as the module parses them
    def command_length(self, buf: bytes | bytearray, start: int) -> int | None:
        raise FrameError(f"{self.name} takes no commands")

    def decode_command(self, raw: bytes) -> Command:
        raise FrameError(f"{self.name} takes no commands", raw)

    def acknowledge(self, command: Command) -> bytes | None:
        """The module's reply to a setup command (None: no reply)."""
        return None

    def acknowledges(self, command: bytes, frame: Frame) -> bool:
        """Whether ``frame`` is the module's reply to the host ``command``."""
        return False

    # ---- parsers
    def parser(self, on_bad: Callable[[FrameError], None] | None = None) -> Framer[Frame]:
        return Framer(self.header, self.frame_length, self.decode, on_bad, min_length=self.min_length)

    def command_parser(self, on_bad: Callable[[FrameError], None] | None = None) -> Framer[Command]:
        return Framer(self.command_header, self.command_length, self.decode_command, on_bad)


# --------------------------------------------------------------------------- GY-MCU90614

class GyMcu90614(Codec):
    """GY-MCU90614/90615 (MLX9061x behind an STM32), docs/thermometer.md §1.2.

    Host ``A5 CMD SUM``; module ``5A 5A 45 04 TOh TOl TAh TAl SUM``: object and ambient as
    signed 16-bit big-endian in 0.01 °C, SUM = low byte of bytes 0..7. TO is raw skin
    temperature, not body temperature.
    """

    name = "gy-mcu90614"
    bauds = (9600, 115200)          # pages disagree on the default: probe both (docs/thermometer.md §1.2)
    header = b"\x5a\x5a"
    command_header = b"\xa5"
    push_hz = 14.0                  # seller: default auto-output rate
    can_query = True
    value_step_c = 0.01
    LENGTH = 9
    min_length = LENGTH
    QUERY, STREAM = 0x15, 0x45
    BAUD_9600, BAUD_115200, AUTO_ON, AUTO_OFF = 0xAE, 0xAF, 0x51, 0x52   # need a power cycle

    @staticmethod
    def command(cmd: int) -> bytes:
        return bytes((0xA5, cmd, (0xA5 + cmd) & 0xFF))

    def query(self) -> bytes:
        return self.command(self.QUERY)       # A5 15 BA

    def stream(self) -> bytes:
        return self.command(self.STREAM)      # A5 45 EA

    def frame_length(self, buf: bytes | bytearray, start: int) -> int | None:
        return self.LENGTH

    def decode(self, raw: bytes) -> Frame:
        raw = bytes(raw)
        if len(raw) != self.LENGTH:
            raise FrameError(f"frame is {len(raw)} bytes, not {self.LENGTH}", raw)
        if raw[:2] != self.header:
            raise FrameError("no 5A 5A header", raw)
        if raw[2] != 0x45 or raw[3] != 0x04:
            raise FrameError(f"type/length {raw[2]:02X} {raw[3]:02X} is not 45 04", raw)
        if sum8(raw[:8]) != raw[8]:
            raise FrameError(f"checksum {raw[8]:02X} should be {sum8(raw[:8]):02X}", raw)
        to, ta = struct.unpack(">hh", raw[4:8])
        return Frame(self.name, raw,
                     object_c=_check_range("object", to / 100, OBJECT_RANGE_C, raw),
                     ambient_c=_check_range("ambient", ta / 100, AMBIENT_RANGE_C, raw))

    def encode(self, object_c: float | None = None, ambient_c: float | None = None,
               body_c: float | None = None) -> bytes:
        if object_c is None or ambient_c is None:
            raise FrameError("gy-mcu90614 frames carry object and ambient temperature")
        body = b"\x5a\x5a\x45\x04" + _s16(object_c, 100, "object") + _s16(ambient_c, 100, "ambient")
        return body + bytes((sum8(body),))

    def command_length(self, buf: bytes | bytearray, start: int) -> int | None:
        return 3

    def decode_command(self, raw: bytes) -> Command:
        raw = bytes(raw)
        if len(raw) != 3 or raw[0] != 0xA5:
            raise FrameError("not an A5 command", raw)
        if (raw[0] + raw[1]) & 0xFF != raw[2]:
            raise FrameError(f"command checksum {raw[2]:02X} should be {(raw[0] + raw[1]) & 0xFF:02X}", raw)
        return Command(raw[1], b"", raw)


# --------------------------------------------------------------------------- AA A5 … 55

class AaA5Body(Codec):
    """The body-temperature module with ``AA A5 LEN CMD ARGS… SUM 55`` framing, docs/thermometer.md §1.3.

    LEN counts LEN+CMD+ARGS+SUM; SUM = (LEN + CMD + ΣARGS) & 0xFF (header and tail not summed).
    Commands: 01 measure, 02 set target (01 object, 02 body). Measure reply args
    ``[target, Th, Tl, TAh, TAl]`` in 0.1 °C big-endian; signed here (an assumption: ambient can
    be below zero outdoors). The only protocol here whose module reports a body-mode value.
    """

    name = "aa-a5-body"
    bauds = (38400,)
    header = b"\xaa\xa5"
    command_header = b"\xaa\xa5"
    push_hz = None
    can_query = True
    value_step_c = 0.1
    min_length = 6                  # AA A5 LEN CMD SUM 55 with no arguments
    TAIL = 0x55
    MEASURE, SET_TARGET = 0x01, 0x02
    TARGET_OBJECT, TARGET_BODY = 0x01, 0x02
    MAX_LEN = 32

    @classmethod
    def frame(cls, cmd: int, args: bytes = b"") -> bytes:
        length = 3 + len(args)
        core = bytes((length, cmd)) + bytes(args)
        return cls.header + core + bytes((sum8(core), cls.TAIL))

    def query(self) -> bytes:
        return self.frame(self.MEASURE)                               # AA A5 03 01 04 55

    def setup(self) -> tuple[bytes, ...]:
        return (self.frame(self.SET_TARGET, bytes((self.TARGET_BODY,))),)   # AA A5 04 02 02 08 55

    def frame_length(self, buf: bytes | bytearray, start: int) -> int | None:
        if len(buf) < start + 3:
            return None
        length = buf[start + 2]
        if not 3 <= length <= self.MAX_LEN:
            raise FrameError(f"length byte {length:02X} impossible", bytes(buf[start:start + 3]))
        return length + 3

    def _split(self, raw: bytes) -> tuple[int, bytes]:
        if len(raw) < 6 or raw[:2] != self.header:
            raise FrameError("no AA A5 header", raw)
        length = raw[2]
        if length + 3 != len(raw) or not 3 <= length <= self.MAX_LEN:
            raise FrameError(f"length byte {length:02X} does not match a {len(raw)}-byte frame", raw)
        if raw[-1] != self.TAIL:
            raise FrameError(f"tail {raw[-1]:02X} is not 55", raw)
        if sum8(raw[2:-2]) != raw[-2]:
            raise FrameError(f"checksum {raw[-2]:02X} should be {sum8(raw[2:-2]):02X}", raw)
        return raw[3], raw[4:-2]

    def decode(self, raw: bytes) -> Frame:
        raw = bytes(raw)
        cmd, args = self._split(raw)
        if cmd == self.MEASURE:
            if len(args) != 5:
                raise FrameError(f"measure reply has {len(args)} arguments, not 5", raw)
            target = args[0]
            value, ta = struct.unpack(">hh", args[1:5])
            ambient = _check_range("ambient", ta / 10, AMBIENT_RANGE_C, raw)
            measured = _check_range("measured", value / 10, OBJECT_RANGE_C, raw)
            if target == self.TARGET_BODY:
                return Frame(self.name, raw, body_c=measured, ambient_c=ambient, reply_to=cmd)
            if target == self.TARGET_OBJECT:
                return Frame(self.name, raw, object_c=measured, ambient_c=ambient, reply_to=cmd)
            raise FrameError(f"unknown measuring target {target:02X}", raw)
        if cmd in (0x02, 0x03, 0x04, 0x05):
            if len(args) < 1:
                raise FrameError(f"reply to command {cmd:02X} has no status", raw)
            return Frame(self.name, raw, reply_to=cmd, status=args[0])
        raise FrameError(f"unknown command {cmd:02X}", raw)

    def encode(self, object_c: float | None = None, ambient_c: float | None = None,
               body_c: float | None = None) -> bytes:
        if ambient_c is None or (object_c is None) == (body_c is None):
            raise FrameError("aa-a5-body frames carry ambient and either object or body temperature")
        target = self.TARGET_BODY if body_c is not None else self.TARGET_OBJECT
        value = body_c if body_c is not None else object_c
        assert value is not None
        args = bytes((target,)) + _s16(value, 10, "measured") + _s16(ambient_c, 10, "ambient")
        return self.frame(self.MEASURE, args)

    def reply(self, cmd: int, status: int) -> bytes:
        return self.frame(cmd, bytes((status,)))

    def command_length(self, buf: bytes | bytearray, start: int) -> int | None:
        return self.frame_length(buf, start)

    def decode_command(self, raw: bytes) -> Command:
        raw = bytes(raw)
        cmd, args = self._split(raw)
        return Command(cmd, args, raw)

    def acknowledges(self, command: bytes, frame: Frame) -> bool:
        return len(command) > 3 and frame.reply_to == command[3]

    def acknowledge(self, command: Command) -> bytes | None:
        if command.cmd == self.SET_TARGET:
            ok = len(command.args) == 1 and command.args[0] in (self.TARGET_OBJECT, self.TARGET_BODY)
            return self.reply(command.cmd, 0x00 if ok else 0x01)
        return None


# --------------------------------------------------------------------------- IDC-50

class Idc50Push(Codec):
    """IDC-50 kiosk board (HTPA32x32), binary push mode, docs/thermometer.md §1.4a.

    ``AA 55 06 INT FRAC SUM`` every 500 ms; body temperature = INT + FRAC/10; SUM = low byte of
    AA+55+06+INT+FRAC. No ambient in this frame.
    """

    name = "idc50-push"
    bauds = (115200,)
    header = b"\xaa\x55"
    command_header = b""
    push_hz = 2.0
    can_query = False       # the request bytes of its standby mode are not published
    value_step_c = 0.1
    LENGTH = 6
    min_length = LENGTH

    def frame_length(self, buf: bytes | bytearray, start: int) -> int | None:
        if len(buf) < start + 3:
            return None
        if buf[start + 2] != self.LENGTH:
            raise FrameError(f"length byte {buf[start + 2]:02X} is not 06", bytes(buf[start:start + 3]))
        return self.LENGTH

    def decode(self, raw: bytes) -> Frame:
        raw = bytes(raw)
        if len(raw) != self.LENGTH or raw[:3] != b"\xaa\x55\x06":
            raise FrameError("not an AA 55 06 frame", raw)
        if sum8(raw[:5]) != raw[5]:
            raise FrameError(f"checksum {raw[5]:02X} should be {sum8(raw[:5]):02X}", raw)
        if raw[4] > 9:
            raise FrameError(f"tenths byte {raw[4]:02X} is not a digit", raw)
        return Frame(self.name, raw, body_c=round(raw[3] + raw[4] / 10, 1))

    def encode(self, object_c: float | None = None, ambient_c: float | None = None,
               body_c: float | None = None) -> bytes:
        if body_c is None:
            raise FrameError("idc50-push frames carry a body temperature")
        tenths = round(body_c * 10)
        if not 0 <= tenths <= 2559:
            raise FrameError(f"body {body_c} °C does not fit the frame")
        core = b"\xaa\x55\x06" + bytes(divmod(tenths, 10))
        return core + bytes((sum8(core),))


PROTOCOLS: dict[str, Codec] = {c.name: c for c in (GyMcu90614(), AaA5Body(), Idc50Push())}


def codec(name: str) -> Codec:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise DeviceConfigError(f"unknown thermometer protocol {name!r} "
                                f"(known: {', '.join(PROTOCOLS)})") from None


def effective_mode(c: Codec, mode: str) -> str:
    """'stream' or 'query' for ``mode`` in auto/stream/query; DeviceConfigError if unsupported."""
    if mode == "auto":
        return "stream" if c.push_hz else "query"
    if mode == "stream" and not c.push_hz:
        raise DeviceConfigError(f"{c.name} only answers queries; use mode 'query' or 'auto'")
    if mode == "query" and not c.can_query:
        raise DeviceConfigError(f"{c.name} only pushes frames; use mode 'stream' or 'auto'")
    if mode not in ("stream", "query"):
        raise DeviceConfigError(f"unknown thermometer mode {mode!r} (auto, stream, query)")
    return mode


def sample_rate_hz(protocol: str, mode: str, poll_hz: float) -> float:
    """How many frames per second the kiosk will get from this module in this mode."""
    c = codec(protocol)
    if effective_mode(c, mode) == "stream":
        assert c.push_hz is not None
        return c.push_hz
    return poll_hz


# --------------------------------------------------------------------------- parser

class Framer(Generic[T]):
    """Incremental parser: bytes in (any chunking), verified items out.

    Hunts for the header; a header whose frame fails (length, checksum, value) is counted in
    ``bad`` and only its first byte is dropped, so a real frame hiding inside garbage is still
    found. Bytes skipped while hunting are counted in ``skipped``. Never raises on input.
    """

    def __init__(self, header: bytes, length: Callable[[bytes | bytearray, int], int | None],
                 decode: Callable[[bytes], T], on_bad: Callable[[FrameError], None] | None = None,
                 min_length: int = 1) -> None:
        if not header:
            raise DeviceConfigError("a framer needs a header")
        self.header = header
        self.min_length = max(min_length, len(header))
        self._length, self._decode, self.on_bad = length, decode, on_bad
        self._buf = bytearray()
        self.frames = 0
        self.bad = 0
        self.skipped = 0

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def needed(self) -> int:
        """Bytes the frame in progress still needs for certain (at least 1): a reader may wait for
        that many at once and never holds a complete frame back. Between frames, the shortest
        frame; so a streaming module's frame costs the reader one wake-up, not two (the first byte,
        then the rest)."""
        buf, header = self._buf, self.header
        if len(buf) < len(header):                     # nothing, or what may begin a header
            return self.min_length - len(buf) if header.startswith(buf) else 1
        try:
            length = self._length(buf, 0)
        except FrameError:
            return 1
        return max(1, (length if length is not None else self.min_length) - len(buf))

    def reset(self) -> None:
        """Forget partial input (after reopening a port or changing the baud rate)."""
        self._buf.clear()

    def flush(self) -> None:
        """The line went quiet mid-frame: whatever is held back was a truncated frame."""
        if self._buf:
            raw = bytes(self._buf)
            self._buf.clear()
            if raw.startswith(self.header):
                self._bad(FrameError("truncated frame", raw))
            else:
                self.skipped += len(raw)

    def _bad(self, err: FrameError) -> None:
        self.bad += 1
        if self.on_bad is not None:
            self.on_bad(err)

    def feed(self, data: bytes | bytearray) -> list[T]:
        buf = self._buf
        buf += data
        out: list[T] = []
        header, hlen = self.header, len(self.header)
        pos, n = 0, len(buf)
        while True:
            start = buf.find(header, pos)
            if start < 0:
                # keep a tail that may be the beginning of a header
                keep = 0
                for k in range(min(hlen - 1, n - pos), 0, -1):
                    if buf.endswith(header[:k]):
                        keep = k
                        break
                self.skipped += n - pos - keep
                pos = n - keep
                break
            self.skipped += start - pos
            pos = start
            try:
                length = self._length(buf, start)
            except FrameError as err:
                self._bad(err)
                pos = start + 1
                continue
            if length is None or start + length > n:
                break                      # wait for more bytes
            raw = bytes(buf[start:start + length])
            try:
                item = self._decode(raw)
            except FrameError as err:
                self._bad(err)
                pos = start + 1            # resynchronise byte by byte
                continue
            out.append(item)
            self.frames += 1
            pos = start + length
        del buf[:pos]
        return out
