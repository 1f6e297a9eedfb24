"""What a heartbeat tells the street office: device health, backlog, clock, who is on duty.

The sync runs as its own (oneshot) process, so it cannot ask the kiosk loop; it derives the
facts from the pass log (the last shift_start/shift_end says who is on duty; a device's last
fault/recovered record says whether it is faulted). When the kiosk is running, its status file
in ``[kiosk] runtime_dir`` (kiosk/service/status.py, rewritten every second) is fresher and wins for
duty and faults; the whole file is passed through as ``kiosk_status``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk import __version__
from kiosk.statefiles import load_status
from sync.errors import LogReadError

if TYPE_CHECKING:   # the client imports this module; only type names flow back
    from sync.client import CycleReport, SyncClient
    from sync.logreader import LogReader

FRESH_S = 30.0          # the kiosk rewrites its status file every second while it runs


def heartbeat_payload(client: "SyncClient", reader: "LogReader | None", report: "CycleReport") -> dict[str, Any]:
    clock = client.clock
    status, status_state = load_status(client.status_path)
    payload: dict[str, Any] = {
        "kiosk_id": client.kiosk_id,
        "gate": client.cfg.kiosk.gate,
        "software_version": __version__,
        "sent_wall": clock.wall(),
        "sent_mono_ns": int(clock.monotonic() * 1e9),
        "boot_id": clock.boot_id(),
        "clock_synced": bool(clock.synced()),
        "clock_offset_s": client.state.clock.get("offset_s"),
        "bundle_etag": client.state.bundle_etag,
        "sync_failures": client.state.failures,
        "last_error": report.error,
        "status_file": status_state,
        "kiosk_status": status,
        "db_epoch": None, "last_seq": None, "acked_through": None, "backlog": None,
        "on_duty": None, "faults": [],
    }
    if reader is not None:
        try:
            ep = client.state.epoch(reader.db_epoch)
            payload.update(db_epoch=reader.db_epoch, last_seq=reader.last_seq(),
                           acked_through=ep.acked_through, backlog=reader.backlog(ep.acked_through),
                           on_duty=reader.on_duty(), faults=reader.faults())
        except LogReadError as exc:
            payload["last_error"] = payload["last_error"] or str(exc)
    live = _fresh(status, clock.wall())
    payload["kiosk_running"] = live
    if live and status is not None:
        # the running kiosk's own view is the freshest (kiosk/service/status.py writes it every second)
        duty = status.get("on_duty")
        payload["on_duty"] = {"volunteer_ref": duty} if isinstance(duty, str) and duty else None
        faults = status.get("faults")
        if isinstance(faults, dict):
            payload["faults"] = [{"device": str(d), "detail": str(m)[:200]} for d, m in sorted(faults.items())]
    return payload


def _fresh(status: dict[str, Any] | None, now: float) -> bool:
    written = (status or {}).get("written")
    return isinstance(written, (int, float)) and abs(now - written) <= FRESH_S
