"""Logging for the journal: structured fields through journald's native protocol under systemd,
syslog priority prefixes on stderr otherwise, so `journalctl -p warning` works either way.

A log call may carry journal fields with ``extra={"journal": {"KIOSK_DECISION": "deny", ...}}``.
Under systemd (``JOURNAL_STREAM`` set and journald's socket present) each record is one datagram
in the native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL: ``KEY=value`` lines, or a key, a
64-bit little-endian length and the raw value when it holds a newline), so `journalctl -u kiosk
KIOSK_DECISION=deny` and ``MESSAGE_ID=`` filters work. Elsewhere the fields are appended to the
stderr line as ``key=value``. A datagram that cannot be sent goes to stderr instead: a log line
is never lost to a full socket buffer.

Every decision the kiosk commits is logged at INFO by :func:`log_decision` with
:data:`DECISION_MESSAGE_ID` — never a holder or volunteer reference (those stay in the pass log).

Under `kiosk run` the records go through a bounded queue to a ``log-writer`` thread
(``background=True``): stderr is a pipe to journald and its socket has a queue; a write to a full
one blocks until journald reads — on the gate loop's thread that would hold the gate
(docs/architecture.md §5). When the queue is full a record is dropped and counted, never waited
for; the writer says how many were dropped as soon as it can write again.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import socket
import struct
import sys
import threading
from pathlib import Path
from typing import Any

from kiosk.core.records import Record

_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}
JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
IDENTIFIER = "kiosk"
# `journalctl MESSAGE_ID=…` finds every decision (a fixed 128-bit id, as sd-id128(3) suggests)
DECISION_MESSAGE_ID = "4f0c6d1e2b9a4c7e8d3f5a6b7c8d9e01"
QUEUE_RECORDS = 1000         # records waiting for the writer at most (a burst of faults fits)
_PLAIN = logging.Formatter()

log = logging.getLogger("kiosk.decision")


def _fields(record: logging.LogRecord) -> dict[str, str]:
    extra = getattr(record, "journal", None)
    return {str(k): str(v) for k, v in extra.items() if v is not None} if isinstance(extra, dict) else {}


def encode_native(fields: dict[str, str]) -> bytes:
    """One journal entry in journald's native datagram format."""
    out = bytearray()
    for key, value in fields.items():
        data = value.encode("utf-8", "replace")
        if b"\n" in data:
            out += key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += key.encode() + b"=" + data + b"\n"
    return bytes(out)


class JournalHandler(logging.Handler):
    """Sends each record to journald's native socket, with its fields; stderr if that fails."""

    def __init__(self, path: Path = JOURNAL_SOCKET, fallback: logging.Handler | None = None) -> None:
        super().__init__()
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.fallback = fallback or logging.StreamHandler(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {"MESSAGE": f"{record.name}: {self.format(record)}",
                      "PRIORITY": str(_PRIORITY.get(record.levelno, 6)),
                      "SYSLOG_IDENTIFIER": IDENTIFIER, "LOGGER": record.name, **_fields(record)}
            self.sock.sendto(encode_native(fields), self.path)
        except OSError:
            self.fallback.handle(record)

    def close(self) -> None:
        self.sock.close()
        super().close()


class _StderrFormatter(logging.Formatter):
    """``<N>logger: message key=value …`` under systemd's stdout capture (sd-daemon(3) priority
    prefix), ``LEVEL logger: message key=value …`` on a terminal."""

    def __init__(self, prefix: bool) -> None:
        super().__init__("%(message)s")
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = " ".join(f"{k.lower()}={v}" for k, v in _fields(record).items() if k != "MESSAGE_ID")
        line = f"{record.name}: {text}" + (f" [{fields}]" if fields else "")
        if self.prefix:
            return f"<{_PRIORITY.get(record.levelno, 6)}>{line}"
        return f"{record.levelname} {line}"


class Background(logging.Handler):
    """Hands records to the ``log-writer`` thread, which passes them to ``target``; never blocks."""

    def __init__(self, target: logging.Handler, size: int = QUEUE_RECORDS) -> None:
        super().__init__()
        self.target = target
        self.dropped = 0
        self._reported = 0
        self._queue: queue.Queue[logging.LogRecord | None] = queue.Queue(size)
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.msg, record.args = record.getMessage(), None    # format now: args may change later
            if record.exc_info:
                record.exc_text, record.exc_info = _PLAIN.formatException(record.exc_info), None
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
        except Exception:  # noqa: BLE001 - logging must never raise into the caller (logging's own rule)
            self.handleError(record)

    def _run(self) -> None:
        while True:
            record = self._queue.get()
            try:
                if record is None:
                    return
                self._write(record)
            finally:
                self._queue.task_done()

    def _write(self, record: logging.LogRecord) -> None:
        dropped = self.dropped
        if dropped > self._reported:
            self.target.handle(logging.makeLogRecord({
                "name": "kiosk.service.logs", "levelno": logging.WARNING, "levelname": "WARNING",
                "msg": f"{dropped - self._reported} log lines dropped: stderr (the journal) was not "
                       f"taking them ({dropped} since start)"}))
            self._reported = dropped
        self.target.handle(record)

    def flush(self) -> None:
        """Wait until every queued record is written."""
        if self._thread.is_alive():
            self._queue.join()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the writer."""
        if self._thread.is_alive():
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(timeout)
        super().close()


def setup(verbose: bool = False, level: int = logging.WARNING, journal_socket: Path | None = None,
          background: bool = False) -> None:
    """Configure the root logger once: journald's native protocol under systemd, stderr otherwise.
    ``background``: write from the log-writer thread (the running kiosk)."""
    under_systemd = bool(os.environ.get("JOURNAL_STREAM"))
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(_StderrFormatter(prefix=under_systemd))
    handler: logging.Handler = stderr
    path = journal_socket or JOURNAL_SOCKET
    if under_systemd and path.is_socket():
        handler = JournalHandler(path, fallback=stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    for old in root.handlers:
        if isinstance(old, Background):
            old.close()
    if background:
        handler = Background(handler)
        atexit.register(handler.close)
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else level)


def log_decision(seq: int, record: Record) -> None:
    """A commit listener: each committed decision, one INFO line with structured fields."""
    if record.kind != "pass":
        return
    v, r = record.verdict, record.reading
    fields: dict[str, Any] = {
        "MESSAGE_ID": DECISION_MESSAGE_ID, "KIOSK_SEQ": seq, "KIOSK_DECISION": record.decision,
        "KIOSK_CAUSE": record.cause, "KIOSK_REASON": v.reason if v else None,
        "KIOSK_CODE_KIND": v.kind if v else None,
        "KIOSK_TEMP_C": f"{r.value_c:.1f}" if r else None, "KIOSK_TEMP_BAND": r.band if r else None,
    }
    temp = f", {r.value_c:.1f} °C" if r else ""
    reason = f", code {v.reason}" if v else ""
    log.info("decision %s (%s%s%s), seq %d", record.decision, record.cause, reason, temp, seq,
             extra={"journal": fields})
