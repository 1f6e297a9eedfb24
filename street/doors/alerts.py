"""The one seam through which a door alert leaves the server.

Each alert is first a row of ``door_alerts`` (committed with the record that raised it, shown
on the quarantine board until a staff member acknowledges it) and, in the same transaction, an
alert of kind ``door`` in the office's outbox (street/alerts/outbox.py: raised once per door
alert, delivered once per channel — WeCom, DingTalk, webhook, mail — by the alert worker, never
by the ingest path). :func:`log_raised` then writes one line per alert to the ``street.alerts`` log for
the journal; it is called after the commit and must never raise into the ingest path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("street.alerts")


def N_(text: str) -> str:
    """Marks a text for the message catalogue (Babel extracts ``N_``); translated where shown."""
    return text


KINDS = {
    "opened_outside_window": N_("door opened outside its allowed window"),
    "clock_unsynced": N_("door opened while the node's clock was not synchronised"),
    "held_open": N_("door held open"),
    "tamper": N_("sensor tampered with, cable cut or unplugged"),
    "node_lost": N_("door node stopped sending heartbeats"),
    "power_lost": N_("door node restarted after a power cut or crash (events while it was down are unknown)"),
    "fever": N_("temperature visit found a fever"),
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


def log_raised(alert: DoorAlert) -> None:
    """One line in the server's log (the journal) for an alert just committed."""
    try:
        log.warning("door alert %d: %s", alert.alert_id, alert.text())
    except Exception:  # noqa: BLE001 - a broken log handler must not fail an upload already committed
        pass
