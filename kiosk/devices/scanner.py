"""A scanned payload becomes a verified code event: payload → verifier → ``sink.code_read``.

The camera's scan thread (kiosk/devices/camera.py) hands every new payload here, and so do the
stand-ins that show a code without a camera (the demo's director, tests). Verification runs in
the caller's thread, never on the flow loop: a slow or broken verifier cannot hold up a
decision, and the loop only ever sees a finished :class:`~kiosk.core.verdict.CodeVerdict`.
"""

from __future__ import annotations

from typing import Protocol

from kiosk.core.verdict import CodeVerdict
from kiosk.devices import Sink


class Verifies(Protocol):
    def verify(self, payload: bytes) -> CodeVerdict: ...


class Scanner:
    """Verifies payloads for a sink; also passes the camera's faults through to it."""

    def __init__(self, verifier: Verifies, sink: Sink) -> None:
        self.verifier, self.sink = verifier, sink

    def payload_seen(self, payload: bytes) -> None:
        self.sink.code_read(self.verifier.verify(payload))

    def device_fault(self, device: str, message: str) -> None:
        self.sink.device_fault(device, message)

    def device_recovered(self, device: str) -> None:
        self.sink.device_recovered(device)
