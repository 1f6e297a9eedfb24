"""The running kiosk's state in a small JSON file under the runtime dir (read by `kiosk status`).

The kiosk rewrites the file atomically (temp file + rename) at most once a second and on
every change; `kiosk status` reads it without touching the kiosk, the pass log or the GPIO
lines (which the kiosk owns exclusively). A file older than ``STALE_S`` or naming a dead pid
means the kiosk is not running.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.errors import KioskError

STATUS_NAME = "status.json"
STALE_S = 10.0


def status_path(runtime_dir: Path) -> Path:
    return Path(runtime_dir) / STATUS_NAME


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Atomically replace the status file (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(status, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def read_status(path: Path, now: float | None = None) -> dict[str, Any]:
    """The last status, with ``running`` decided from its age and pid."""
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KioskError(f"no status file at {path}: the kiosk is not running (or runtime_dir differs)") from None
    except (OSError, ValueError) as exc:
        raise KioskError(f"status file {path} is unreadable: {exc}") from None
    now = time.time() if now is None else now
    age = now - float(status.get("written", 0))
    status["age_s"] = round(age, 1)
    status["running"] = age <= STALE_S and _alive(int(status.get("pid", 0)))
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


def base_status() -> dict[str, Any]:
    return {"version": __version__, "pid": os.getpid(), "started": time.time()}
