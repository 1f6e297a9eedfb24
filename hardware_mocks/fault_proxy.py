"""A fault-injecting TCP proxy for the sync link, in the spirit of toxiproxy's toxics.

Neither toxiproxy's server nor ``tc netem`` is available on CI (docs/reliability.md §6; docs/ecosystem.md §2.4),
so this small asyncio proxy sits between the kiosk's client and the street server on
127.0.0.1 and breaks the link on purpose. It frames HTTP/1.1 messages (Content-Length or
chunked) so that each *request* gets one fault even on a kept-alive connection:

- ``pass``            forward untouched
- ``delay``           hold the request ``delay_s`` before forwarding (latency)
- ``drop``            read the request, then close: it never reaches the server
- ``blackhole``       read the request and never answer (the client's read timeout must fire)
- ``reset_request``   forward only ``keep_bytes`` of the request, then reset both sides (RST)
- ``cut_response``    forward the request, let the server commit and answer, deliver only
                      ``keep_bytes`` of the answer, then reset: the ambiguous outcome
- ``duplicate``       deliver the request to the server twice (the copy's answer is discarded)
- ``status``          answer ``status`` (default 503, with ``Retry-After``) without forwarding

Faults come from a schedule (a queue; empty means ``pass``) or, with ``seed``, at random by
weights. With ``capture=True`` every whole request and response message that passes is kept in
:attr:`captured` (the privacy canary reads the bodies). The proxy runs its own event loop in a
thread; it is a context manager.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KINDS = ("pass", "delay", "drop", "blackhole", "reset_request", "cut_response", "duplicate", "status")
MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Fault:
    kind: str = "pass"
    delay_s: float = 0.0
    keep_bytes: int = 0
    status: int = 503
    retry_after: int | None = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r} (known: {', '.join(KINDS)})")
        if self.delay_s < 0 or self.keep_bytes < 0:
            raise ValueError("delay_s and keep_bytes must not be negative")


def random_fault(rng: random.Random, weights: Mapping[str, float]) -> Fault:
    kinds = list(weights)
    kind = rng.choices(kinds, [weights[k] for k in kinds])[0]
    return Fault(kind, delay_s=round(rng.uniform(0.0, 0.2), 3) if kind == "delay" else 0.0,
                 keep_bytes=rng.randrange(0, 400), retry_after=rng.choice((None, 0, 1)))


async def _read_message(reader: asyncio.StreamReader, is_response: bool, method: bytes = b"") -> bytes | None:
    """One HTTP/1.1 message as raw bytes, or None at a clean end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ConnectionError("stream ended inside a message head") from None
    except asyncio.LimitOverrunError:
        raise ConnectionError("message head too large") from None
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if is_response:
        status = int(lines[0].split(b" ")[1])
        if status in (204, 304) or 100 <= status < 200 or method == b"HEAD":
            return head
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            body += size_line
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:
                    trailer = await reader.readuntil(b"\r\n")
                    body += trailer
                    if trailer == b"\r\n":
                        return head + bytes(body)
            body += await reader.readexactly(size + 2)
    if b"content-length" in headers:
        return head + await reader.readexactly(int(headers[b"content-length"]))
    if is_response:
        return head + await reader.read()      # delimited by the end of the connection
    return head


def _reset(writer: asyncio.StreamWriter | None) -> None:
    """Close with RST rather than FIN (SO_LINGER 0), as a crashed peer or middlebox would."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()


class FaultProxy:
    """Listens on ``host:port`` (0 = free port) and forwards to ``upstream`` with faults."""

    def __init__(self, upstream: tuple[str, int], schedule: Iterable[Fault] = (), *, seed: int | None = None,
                 weights: Mapping[str, float] | None = None, host: str = "127.0.0.1", port: int = 0,
                 capture: bool = False) -> None:
        self.upstream = upstream
        self.captured: list[tuple[str, bytes]] | None = [] if capture else None
        self._queue: deque[Fault] = deque(schedule)
        self._rng = random.Random(seed) if seed is not None else None
        self._weights = dict(weights or {"pass": 6, "delay": 1, "drop": 1, "reset_request": 1,
                                         "cut_response": 1, "duplicate": 1, "status": 1})
        for k in self._weights:
            Fault(k)     # validates the names
        self.history: list[str] = []
        self._lock = threading.Lock()
        self._host, self._port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ control (any thread)

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    def push(self, *faults: Fault) -> None:
        """Queue faults for the next requests, in order."""
        with self._lock:
            self._queue.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def set_upstream(self, upstream: tuple[str, int]) -> None:
        """Point new requests at another address (the server restarted on a new port)."""
        with self._lock:
            self.upstream = upstream

    def _keep(self, what: str, message: bytes) -> None:
        if self.captured is not None:
            with self._lock:
                self.captured.append((what, message))

    def _next(self) -> Fault:
        with self._lock:
            if self._queue:
                fault = self._queue.popleft()
            elif self._rng is not None:
                fault = random_fault(self._rng, self._weights)
            else:
                fault = Fault()
            self.history.append(fault.kind)
            return fault

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the event loop

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start() if it happens before ready
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                await self._serve_client(reader, writer)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                _reset(writer)
            except asyncio.CancelledError:      # the proxy is stopping
                _reset(writer)
            finally:
                tasks.discard(task)

        server = await asyncio.start_server(on_client, self._host, self._port, limit=MAX_HEAD)
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stopping.wait()
            server.close()
            for t in list(tasks):
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        with self._lock:
            host, port = self.upstream
        return await asyncio.open_connection(host, port, limit=MAX_HEAD)

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r: asyncio.StreamReader | None = None
        up_w: asyncio.StreamWriter | None = None
        try:
            while True:
                request = await _read_message(reader, is_response=False)
                if request is None:
                    return
                method = request.split(b" ", 1)[0]
                self._keep("request", request)
                fault = self._next()
                if fault.kind == "drop":
                    return
                if fault.kind == "blackhole":
                    assert self._stopping is not None
                    eof = asyncio.ensure_future(reader.read())
                    stop = asyncio.ensure_future(self._stopping.wait())
                    await asyncio.wait({eof, stop}, return_when=asyncio.FIRST_COMPLETED)
                    eof.cancel()
                    stop.cancel()
                    return
                if fault.kind == "status":
                    extra = f"Retry-After: {fault.retry_after}\r\n" if fault.retry_after is not None else ""
                    body = b'{"error": "injected by the fault proxy", "code": "injected"}'
                    writer.write(f"HTTP/1.1 {fault.status} Injected\r\nContent-Type: application/json\r\n"
                                 f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n".encode() + body)
                    await writer.drain()
                    return
                if fault.delay_s:
                    await asyncio.sleep(fault.delay_s)
                if up_w is None:
                    try:
                        up_r, up_w = await self._open_upstream()
                    except OSError:
                        _reset(writer)       # the server is down: the client sees a refused/reset link
                        return
                assert up_r is not None
                if fault.kind == "reset_request":
                    up_w.write(request[:fault.keep_bytes])
                    await up_w.drain()
                    _reset(up_w)
                    _reset(writer)
                    up_w = None
                    return
                up_w.write(request)
                await up_w.drain()
                response = await _read_message(up_r, is_response=True, method=method)
                if response is None:
                    _reset(writer)
                    return
                self._keep("response", response)
                if fault.kind == "duplicate":
                    await self._send_copy(request, method)
                if fault.kind == "cut_response":
                    writer.write(response[:fault.keep_bytes])
                    await writer.drain()
                    _reset(writer)
                    return
                writer.write(response)
                await writer.drain()
        finally:
            _close(up_w)
            _close(writer)

    async def _send_copy(self, request: bytes, method: bytes) -> None:
        try:
            r, w = await self._open_upstream()
        except OSError:
            return
        try:
            w.write(request)
            await w.drain()
            await _read_message(r, is_response=True, method=method)
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            _close(w)
