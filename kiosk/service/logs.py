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
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import sys
from pathlib import Path
from typing import Any

from kiosk.core.records import Record

_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}
JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
IDENTIFIER = "kiosk"
# `journalctl MESSAGE_ID=…` finds every decision (a fixed 128-bit id, as sd-id128(3) suggests)
DECISION_MESSAGE_ID = "4f0c6d1e2b9a4c7e8d3f5a6b7c8d9e01"

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


def setup(verbose: bool = False, level: int = logging.WARNING, journal_socket: Path | None = None) -> None:
    """Configure the root logger once: journald's native protocol under systemd, stderr otherwise."""
    under_systemd = bool(os.environ.get("JOURNAL_STREAM"))
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(_StderrFormatter(prefix=under_systemd))
    handler: logging.Handler = stderr
    path = journal_socket or JOURNAL_SOCKET
    if under_systemd and path.is_socket():
        handler = JournalHandler(path, fallback=stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
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
