"""The sync client's own state, in its own file (``<state_dir>/sync-state.json``).

The pass log has one writer, the kiosk; the sync process only reads it (docs/reliability.md §1.6
§1.7), so what the sync must remember lives here: per ``db_epoch`` the ack watermark (every
record of that log with ``seq`` ≤ ``acked_through`` is durably on the server — the purge may
delete those, and a recovered log whose last seq is acknowledged), the server's own contiguous
mark and gap report, the seq ranges reported lost (``POST /v1/lost``), plus the backoff, the clock
offset estimate and the trust bundle's ETag. Written atomically (temp file, fsync, rename,
directory fsync) so a power cut leaves the old or the new state, never half of one.

File format (its top-level ``acked_through`` and ``last_ok`` are a contract: the kiosk reads them
with :func:`kiosk.statefiles.read_sync_progress` for the retention purge and the offline light)::

    {"version": 1, "kiosk_id": "...", "acked_through": {"<db_epoch>": 120},
     "epochs": {"<db_epoch>": {"acked_through": 120, "server_acked_through": 99,
                               "gaps": [[100, 120]], "updated": 1780000000.0,
                               "lost_reported": [], "sent_through": 120}},
     "failures": 0, "not_before": 0.0,
     "clock": {"offset_s": 0.01, "rtt_s": 0.004, "at": 1780000000.0},
     "bundle_etag": "\\"sha256:...\\""}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.durable import write_json
from sync.errors import StateError

VERSION = 1


@dataclass
class EpochState:
    acked_through: int = 0
    server_acked_through: int = 0
    gaps: list[list[int]] = field(default_factory=list)
    updated: float = 0.0
    lost_reported: list[list[int]] = field(default_factory=list)   # seq ranges told to the server as lost
    sent_through: int = 0     # the highest seq sent in a batch this server acknowledged: acks stop here


@dataclass
class SyncState:
    kiosk_id: str
    epochs: dict[str, EpochState] = field(default_factory=dict)
    failures: int = 0
    not_before: float = 0.0
    clock: dict[str, float] = field(default_factory=dict)
    bundle_etag: str | None = None
    last_ok: float = 0.0          # wall time of the last fully successful cycle (the kiosk's offline light)

    def epoch(self, db_epoch: str) -> EpochState:
        return self.epochs.setdefault(db_epoch, EpochState())

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "kiosk_id": self.kiosk_id,
                # the kiosk's view (kiosk.statefiles.read_sync_progress): db_epoch → acked seq
                "acked_through": {k: v.acked_through for k, v in self.epochs.items()},
                "epochs": {k: vars(v) for k, v in self.epochs.items()},
                "failures": self.failures, "not_before": self.not_before,
                "clock": self.clock, "bundle_etag": self.bundle_etag, "last_ok": self.last_ok}


def _parse(data: Any, path: Path, kiosk_id: str) -> SyncState:
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise StateError(f"sync state {path} is not a version-{VERSION} state file; move it aside")
    if data.get("kiosk_id") != kiosk_id:
        raise StateError(f"sync state {path} belongs to kiosk {data.get('kiosk_id')!r}, not {kiosk_id!r}")
    try:
        epochs = {str(k): EpochState(acked_through=int(v["acked_through"]),
                                     server_acked_through=int(v.get("server_acked_through", 0)),
                                     gaps=[[int(a), int(b)] for a, b in v.get("gaps", [])],
                                     updated=float(v.get("updated", 0.0)),
                                     lost_reported=[[int(a), int(b)] for a, b in v.get("lost_reported", [])],
                                     sent_through=int(v.get("sent_through", v["acked_through"])))
                  for k, v in data.get("epochs", {}).items()}
        return SyncState(kiosk_id=kiosk_id, epochs=epochs, failures=int(data.get("failures", 0)),
                         not_before=float(data.get("not_before", 0.0)),
                         clock={str(k): float(v) for k, v in data.get("clock", {}).items()},
                         bundle_etag=data.get("bundle_etag"), last_ok=float(data.get("last_ok", 0.0)))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:   # AttributeError: a list/null where a map belongs
        raise StateError(f"sync state {path} is malformed ({exc}); move it aside") from None


def load(path: Path, kiosk_id: str) -> SyncState:
    """The saved state, or a fresh one if the file does not exist yet."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return SyncState(kiosk_id=kiosk_id)
    except OSError as exc:
        raise StateError(f"cannot read sync state {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise StateError(f"sync state {path} is not JSON; move it aside") from None
    return _parse(data, path, kiosk_id)


def save(path: Path, state: SyncState) -> None:
    try:
        write_json(path, state.to_json(), mode=0o600, parents=True)
    except OSError as exc:
        raise StateError(f"cannot write sync state {path}: {exc.strerror or exc}") from None
