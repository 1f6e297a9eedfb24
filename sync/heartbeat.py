"""What a heartbeat tells the street office: device health, backlog, clock, who is on duty.

The sync runs as its own (oneshot) process, so it cannot ask the kiosk loop; it derives the
facts from the pass log (the last shift_start/shift_end says who is on duty; a device's last
fault/recovered record says whether it is faulted). When the kiosk is running, its status file
in ``[kiosk] runtime_dir`` (kiosk/service/status.py, rewritten every second) is fresher and wins for
duty and faults; the whole file is passed through as ``kiosk_status``.
"""

from __future__ import annotations

from typing import Any

from kiosk import __version__
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.statefiles import load_status
from sync.errors import LogReadError
from sync.logreader import LogReader
from sync.state import SyncState

MAX_ERROR_CHARS = 1000  # the server refuses a longer last_error (street/api/validate.py)
FRESH_S = 30.0          # the kiosk rewrites its status file every second while it runs


def heartbeat_payload(cfg: Config, clock: Clock, state: SyncState, reader: LogReader | None,
                      error: str | None) -> dict[str, Any]:
    """The heartbeat body: this cycle's ``error``, the sync's ``state``, the pass log through
    ``reader`` (None when it cannot be opened), and the running kiosk's status file."""
    status, status_state = load_status(cfg.status_path)
    payload: dict[str, Any] = {
        "kiosk_id": state.kiosk_id,
        "gate": cfg.kiosk.gate,
        "software_version": __version__,
        "sent_wall": clock.wall(),
        "sent_mono_ns": int(clock.monotonic() * 1e9),
        "boot_id": clock.boot_id(),
        "clock_synced": bool(clock.synced()),
        "clock_offset_s": state.clock.get("offset_s"),
        "bundle_etag": state.bundle_etag,
        "sync_failures": state.failures,
        "last_error": error[:MAX_ERROR_CHARS] if error else error,
        "status_file": status_state,
        "kiosk_status": status,
        "db_epoch": None, "last_seq": None, "acked_through": None, "backlog": None,
        "on_duty": None, "faults": [],
    }
    if reader is not None:
        try:
            ep = state.epoch(reader.db_epoch)
            payload.update(db_epoch=reader.db_epoch, last_seq=reader.last_seq(),
                           acked_through=ep.acked_through, backlog=reader.backlog(ep.acked_through),
                           on_duty=reader.on_duty(), faults=reader.faults())
        except LogReadError as exc:
            payload["last_error"] = payload["last_error"] or str(exc)[:MAX_ERROR_CHARS]
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
