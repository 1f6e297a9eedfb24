"""The one seam through which a door alert leaves the server.

Each alert is first a row of ``door_alerts`` (committed with the record that raised it, shown
on the quarantine board until a named staff member acknowledges it). :func:`send` then tells
people. Until the office's alert channels (issue 15) are integrated this is a stand-in that
writes one line per alert to the ``street.alerts`` log; integration replaces the body of
:func:`send` with a call to those channels and nothing else changes. It is called after the
commit and must never raise into the ingest path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("street.alerts")

KINDS = {
    "opened_outside_window": "door opened outside its allowed window",
    "clock_unsynced": "door opened while the node's clock was not synchronised",
    "held_open": "door held open",
    "tamper": "sensor tampered with, cable cut or unplugged",
    "node_lost": "door node stopped sending heartbeats",
    "power_lost": "door node restarted after a power cut or crash (events while it was down are unknown)",
    "fever": "temperature visit found a fever",
}


@dataclass(frozen=True)
class DoorAlert:
    alert_id: int
    household_ref: str
    kiosk_id: str
    kind: str
    at: float
    detail: str = ""

    def text(self) -> str:
        return f"{KINDS.get(self.kind, self.kind)}: household {self.household_ref} (node {self.kiosk_id})"


def send(alert: DoorAlert) -> None:
    """Tell the office about ``alert`` (stand-in until issue 15's channels: the server's log)."""
    try:
        log.warning("door alert %d: %s", alert.alert_id, alert.text())
    except Exception:  # noqa: BLE001 - a broken log handler must not fail an upload already committed
        pass
