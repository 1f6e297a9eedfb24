"""Logging for the journal: decisions with structured fields over journald's native protocol, read
back from a real datagram socket standing where journald's is; priority-prefixed lines otherwise."""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core.records import Reading, Record
from kiosk.core.verdict import CodeVerdict
from kiosk.service import logs


def parse_native(data: bytes) -> dict[str, str]:
    """journald's native datagram format (systemd.io/JOURNAL_NATIVE_PROTOCOL), both field forms."""
    fields: dict[str, str] = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            key, _, value = line.partition(b"=")
            fields[key.decode()] = value.decode()
            i = nl + 1
        else:
            (size,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            fields[line.decode()] = data[nl + 9:nl + 9 + size].decode()
            assert data[nl + 9 + size:nl + 10 + size] == b"\n"
            i = nl + 10 + size
    return fields


@pytest.fixture
def journald(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "journal.socket"))
    sock.settimeout(5)
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.setup(level=logging.INFO, journal_socket=tmp_path / "journal.socket")
    yield sock
    for h in root.handlers:
        h.close()
    root.handlers[:], root.level = saved
    sock.close()


def a_deny() -> Record:
    return Record(kind="pass", t=1.0, decision="deny", cause="fever_retest",
                  verdict=CodeVerdict(reason="ok", kind="dynamic", colour="green", holder_ref="aa" * 16),
                  reading=Reading(38.21, 5, 0.1, 21.0, "high"), volunteer_ref=None)


def test_each_decision_reaches_the_journal_with_its_fields(journald: socket.socket) -> None:
    logs.log_decision(42, a_deny())
    fields = parse_native(journald.recv(65536))
    assert fields["MESSAGE_ID"] == logs.DECISION_MESSAGE_ID and fields["PRIORITY"] == "6"
    assert fields["SYSLOG_IDENTIFIER"] == "kiosk"
    assert (fields["KIOSK_SEQ"], fields["KIOSK_DECISION"], fields["KIOSK_CAUSE"], fields["KIOSK_REASON"],
            fields["KIOSK_TEMP_C"], fields["KIOSK_TEMP_BAND"]) == ("42", "deny", "fever_retest", "ok", "38.2", "high")
    assert "decision deny (fever_retest" in fields["MESSAGE"]
    assert "aa" * 16 not in str(fields)                     # no holder reference in the journal
    logs.log_decision(43, Record(kind="fault", t=2.0, device="camera", detail="gone"))   # not a decision
    logging.getLogger("kiosk.x").warning("two\nlines")
    fields = parse_native(journald.recv(65536))            # the next datagram is the warning, not the fault
    assert fields["PRIORITY"] == "4" and fields["MESSAGE"] == "kiosk.x: two\nlines"


def test_without_journald_the_line_carries_the_fields(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.setup(level=logging.INFO)
        logs.log_decision(7, a_deny())
    finally:
        root.handlers[:], root.level = saved
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("INFO kiosk.decision: decision deny (fever_retest, code ok, 38.2 °C), seq 7")
    assert "kiosk_decision=deny" in err[-1] and "kiosk_seq=7" in err[-1]
