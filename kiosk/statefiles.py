"""The files the kiosk's processes share, named and read in one place.

Three processes work on one kiosk's files: the gate loop (`kiosk run`, the only writer of the
pass log), the sync (`kiosk sync`, a oneshot under a timer) and the commands a technician runs
(`kiosk status`, `purge`, `selftest`…). They never call each other; they meet in these files.
Every name and every cross-process reader lives here, so a rename or a format change has one
owner. Standard library only: the sync and the CLI import it without the kiosk's devices.

Under ``[kiosk] state_dir`` (persistent)::

    passes.db (+ -wal, -shm)        the pass log                 writer: kiosk run
    bundle.cbor                     the trust bundle             writer: kiosk sync (atomic)
    bundle.last-good.cbor           the bundle last accepted     writer: kiosk run
    codes-time.json                 trusted-time high-water mark writer: kiosk run
    thermometer-calibration.json    the thermometer offset       writer: kiosk thermometer calibrate
    sync-state.json                 the sync's own state         writer: kiosk sync
    voice/<language>/<key>.wav      rendered clips               writer: kiosk voice build
    quarantine/<UTC time>/          damaged pass logs            writer: kiosk run       } beside the
    recovered/<db_epoch>.db         records salvaged from them   writer: recovery child  } pass log
    retired/<UTC time>-<old id>/    a changed id's old log       writer: kiosk retire-log  }

Under ``[kiosk] runtime_dir`` (tmpfs)::

    status.json                     the running kiosk's state    writer: kiosk run, every second
    control.sock                    the running kiosk's door     owner: kiosk run (kiosk/service/control.py):
                                    for `kiosk selftest`, and the stand-in site's panel buttons

The sync state is the sync's own file (sync/state.py reads and writes all of it); the kiosk
reads exactly two of its keys, the contract below: ``acked_through`` (db_epoch → every seq up
to this is durably on the street server; the retention purge deletes nothing beyond it) and
``last_ok`` (wall time of the last fully successful sync cycle; the offline light).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.durable import write_json
from kiosk.errors import KioskError
from kiosk.i18n import _

log = logging.getLogger(__name__)

PASS_LOG = "passes.db"
BUNDLE = "bundle.cbor"
BUNDLE_LAST_GOOD = "bundle.last-good.cbor"
CODES_TIME = "codes-time.json"
CALIBRATION = "thermometer-calibration.json"
SYNC_STATE = "sync-state.json"
VOICE_DIR = "voice"
QUARANTINE_DIR = "quarantine"
RECOVERED_DIR = "recovered"
RETIRED_DIR = "retired"
STATUS = "status.json"
CONTROL = "control.sock"

STATUS_STALE_S = 10.0           # the kiosk rewrites its status every second; older means not running
MAX_STATUS_BYTES = 16 * 1024    # a status file larger than this is not the kiosk's


def quarantine_root(db_path: Path) -> Path:
    """Where damaged pass logs are moved: beside the pass log (kiosk/passlog/quarantine.py)."""
    return Path(db_path).parent / QUARANTINE_DIR


def recovered_root(db_path: Path) -> Path:
    """Where their salvaged records wait for the sync: beside the pass log."""
    return Path(db_path).parent / RECOVERED_DIR


def retired_root(db_path: Path) -> Path:
    """Where `kiosk retire-log` keeps the pass log of a kiosk id no longer used: beside the pass log."""
    return Path(db_path).parent / RETIRED_DIR


def control_path(runtime_dir: Path) -> Path:
    """The running kiosk's control socket (kiosk/service/control.py)."""
    return Path(runtime_dir) / CONTROL


# --------------------------------------------------------------------------- status.json

def status_path(runtime_dir: Path) -> Path:
    return Path(runtime_dir) / STATUS


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace the status file atomically (readers never see half a file). Not fsynced: it lives
    on a tmpfs and is rewritten every second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, status, durable=False)


def load_status(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The status file as written, if it is a small JSON object; and what happened
    (``ok``, ``missing``, ``unreadable``, ``too_large``, ``not_json``, ``not_object``)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, "missing"
    except OSError:
        return None, "unreadable"
    if len(raw) > MAX_STATUS_BYTES:
        return None, "too_large"
    try:
        data = json.loads(raw)
    except ValueError:
        return None, "not_json"
    if not isinstance(data, dict):
        return None, "not_object"
    return data, "ok"


def read_status(path: Path, now: float | None = None) -> dict[str, Any]:
    """The last status, with ``running`` decided from its age and pid; KioskError if there is none."""
    status, why = load_status(path)
    if status is None:
        if why == "missing":
            raise KioskError(_("no status file at {path}: the kiosk is not running (or runtime_dir differs)").format(
                path=path))
        raise KioskError(_("status file {path} is unreadable ({why})").format(path=path, why=why.replace("_", " ")))
    now = time.time() if now is None else now
    try:
        age = now - float(status.get("written", 0))
        pid = int(status.get("pid", 0))
    except (TypeError, ValueError):
        raise KioskError(_("status file {path} is unreadable ({why})").format(
            path=path, why="bad 'written' or 'pid'")) from None
    status["age_s"] = round(age, 1)
    status["running"] = age <= STATUS_STALE_S and _alive(pid)
    return status


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- sync-state.json

@dataclass(frozen=True)
class SyncProgress:
    """What the kiosk needs to know of the sync's state (see the module docstring)."""

    acked_through: dict[str, int] = field(default_factory=dict)
    last_ok: float = 0.0


def read_sync_progress(state_dir: Path) -> SyncProgress:
    """The sync's progress, read-only. A missing file means nothing acknowledged yet; an
    unreadable or malformed one is logged and also means nothing acknowledged (so nothing is
    purged and the kiosk soon shows it is offline): never more trust than the file gives."""
    path = Path(state_dir) / SYNC_STATE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return SyncProgress()
    except (OSError, ValueError) as exc:
        log.warning("sync state %s unreadable, purging nothing: %s", path, exc)
        return SyncProgress()
    if not isinstance(data, dict):
        log.warning("sync state %s is not a JSON object, purging nothing", path)
        return SyncProgress()
    try:
        acked = {str(k): int(v) for k, v in dict(data.get("acked_through", {})).items()}
    except (ValueError, TypeError, AttributeError) as exc:
        log.warning("sync state %s malformed, purging nothing: %s", path, exc)
        acked = {}
    try:
        last_ok = float(data.get("last_ok", 0.0))
    except (TypeError, ValueError):
        last_ok = 0.0
    return SyncProgress(acked_through=acked, last_ok=last_ok)


def read_clock_offset(state_dir: Path) -> float | None:
    """How far this device's clock was from the street server's at the sync's last measurement
    (seconds, server minus device), or None when the sync has not measured it (or its file is
    unreadable). The door node distrusts its allowed windows when this is large."""
    try:
        data = json.loads((Path(state_dir) / SYNC_STATE).read_text(encoding="utf-8"))
        value = data["clock"]["offset_s"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
