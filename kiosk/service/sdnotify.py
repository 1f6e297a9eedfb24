"""The systemd notify protocol in a few lines (sd_notify(3)); a no-op outside systemd.

One datagram to the AF_UNIX socket named in ``$NOTIFY_SOCKET`` (a leading ``@`` means the
abstract namespace). Written here rather than linking libsystemd, as the man page suggests.

Never blocking: the watchdog ping is sent from the gate loop's thread, and a blocking send to
a socket whose queue is full (a stalled or overloaded systemd; the queue holds about ten
datagrams) froze the loop — codes were still read, the gate never opened. Every send is
``MSG_DONTWAIT``: when the socket is full or gone the message is dropped (a later ping says the
same thing; a dropped READY or STATUS is sent again with the next one), counted, and logged once
per outage, never raised.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("kiosk.service.sdnotify")


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        addr = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self._addr = "\0" + addr[1:] if addr.startswith("@") else addr
        self._sock: socket.socket | None = None
        self.dropped = 0                  # messages not delivered (socket full or gone)
        self._failing = False
        self._owed: list[str] = []        # READY/STOPPING/STATUS not yet delivered: sent with the next message

    @property
    def enabled(self) -> bool:
        return bool(self._addr)

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields without ever blocking; False (nothing raised) when not under
        systemd, or when the message had to be dropped."""
        if not self._addr:
            return False
        owed = [f for f in self._owed if f.partition("=")[0] not in {x.partition("=")[0] for x in fields}]
        message = "\n".join([*owed, *fields]).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message, socket.MSG_DONTWAIT, self._addr)
        except OSError as exc:
            self.dropped += 1
            self._owed = [*owed, *(f for f in fields if not f.startswith("WATCHDOG="))]
            if not self._failing:
                self._failing = True
                log.warning("systemd notify socket %s: %s; notifications dropped until it takes them again",
                            self._addr.replace("\0", "@"), exc.strerror or exc)
            return False
        self._owed = []
        if self._failing:
            self._failing = False
            log.info("systemd notify socket takes messages again (%d dropped)", self.dropped)
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
