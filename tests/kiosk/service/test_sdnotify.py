"""kiosk.service.sdnotify: sd_notify datagrams to a real AF_UNIX socket; a full or vanished socket
never blocks the caller (the gate loop), drops and logs once, and owes READY/STATUS to the next send."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import pytest

from kiosk.service.sdnotify import Notifier


def receiver(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    return sock


def drain(sock: socket.socket) -> list[bytes]:
    sock.setblocking(False)
    out = []
    while True:
        try:
            out.append(sock.recv(4096))
        except BlockingIOError:
            return out


def test_messages_arrive(tmp_path: Path) -> None:
    rx = receiver(tmp_path / "n.sock")
    n = Notifier(str(tmp_path / "n.sock"))
    assert n.ready("gate 1") and n.watchdog()
    assert drain(rx) == [b"READY=1\nSTATUS=gate 1", b"WATCHDOG=1"]
    assert Notifier("").send("READY=1") is False          # not under systemd: a no-op


def test_a_full_socket_never_blocks_the_loop_and_is_logged_once(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    rx = receiver(tmp_path / "n.sock")           # nobody reads: its queue fills (systemd stalled)
    n = Notifier(str(tmp_path / "n.sock"))
    results: list[bool] = []
    done = threading.Event()

    def loop() -> None:                          # what the gate loop does: ping, ping, ping …
        while len(results) < 100_000 and (not results or results[-1]):
            results.append(n.watchdog())
        results.extend(n.watchdog() for _ in range(50))   # and keeps going while it is full
        done.set()

    with caplog.at_level(logging.INFO, logger="kiosk.service.sdnotify"):
        threading.Thread(target=loop, daemon=True).start()
        assert done.wait(60), "a send blocked: the gate loop would have frozen"
        assert results[-1] is False and n.dropped == 51
        assert n.status("still here") is False                    # dropped too, but owed
        delivered = drain(rx)
        assert delivered and all(d == b"WATCHDOG=1" for d in delivered)
        assert n.watchdog() is True                                # room again: the owed STATUS rides along
        assert drain(rx) == [b"STATUS=still here\nWATCHDOG=1"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "notifications dropped" in warnings[0].getMessage()
    assert any("takes messages again (52 dropped)" in r.getMessage() for r in caplog.records)


def test_a_vanished_socket_is_no_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    n = Notifier(str(tmp_path / "gone.sock"))
    with caplog.at_level(logging.WARNING, logger="kiosk.service.sdnotify"):
        assert n.ready() is False and n.watchdog() is False and n.dropped == 2
    assert len(caplog.records) == 1 and "gone.sock" in caplog.records[0].getMessage()
    rx = receiver(tmp_path / "gone.sock")        # systemd is back: READY was owed, WATCHDOG was not
    assert n.watchdog() is True
    assert drain(rx) == [b"READY=1\nWATCHDOG=1"]
