"""Housekeeping done by the kiosk's own loop, between events: the watchdog ping, the status
file, the disk-space guard and the retention purge.

All of it runs in the loop thread after a healthy cycle, so a hung loop stops the watchdog
pings (and systemd restarts the kiosk), and the purge is done by the pass log's single
writer. Every interval is measured on the injected clock.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kiosk.errors import StoreError
from kiosk.records import Record
from kiosk.runtime import Kiosk
from kiosk.sdnotify import Notifier
from kiosk.status import base_status, write_status

log = logging.getLogger("kiosk.maintenance")

DISK_CHECK_S = 2.0          # a full disk is noticed (and alarmed) within this, well under 5 s
STATUS_EVERY_S = 1.0
PURGE_EVERY_S = 3600.0
SYNC_STATE_NAME = "sync-state.json"
DAY_S = 86400.0


def read_acked(state_dir: Path) -> dict[str, int]:
    """Acknowledged seq per db_epoch, from the sync client's state file (missing → nothing acked)."""
    try:
        data = json.loads((state_dir / SYNC_STATE_NAME).read_text(encoding="utf-8"))
        return {str(k): int(v) for k, v in dict(data.get("acked_through", {})).items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("sync state unreadable, purging nothing: %s", exc)
        return {}


def free_mb(path: Path) -> float:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free / (1024 * 1024)


@dataclass
class Housekeeper:
    kiosk: Kiosk
    notifier: Notifier
    status_file: Path | None = None
    disk_free: Callable[[Path], float] = free_mb
    watchdog_every_s: float = 1.0
    _last: dict[str, float] = field(default_factory=dict)
    _purge_requested: bool = True        # once soon after start, then hourly
    _status: dict[str, Any] = field(default_factory=base_status)
    _free_mb: float | None = None

    def request_purge(self) -> None:
        """Ask for a purge at the next idle moment (SIGUSR1, `kiosk purge`)."""
        self._purge_requested = True

    def cycle(self) -> None:
        """Called by the loop after every healthy step."""
        now = self.kiosk.clock.monotonic()
        if self._due("watchdog", now, self.watchdog_every_s):
            self.notifier.watchdog()
        if self._due("disk", now, DISK_CHECK_S):
            self._check_disk()
        if self._due("purge", now, PURGE_EVERY_S):
            self._purge_requested = True
        if self._purge_requested and self.kiosk.flow.state.value == "idle":
            self._purge()
        if self.status_file is not None and self._due("status", now, STATUS_EVERY_S):
            self._write_status()

    def _due(self, what: str, now: float, every: float) -> bool:
        last = self._last.get(what)
        if last is not None and now - last < every:
            return False
        self._last[what] = now
        return True

    def _check_disk(self) -> None:
        cfg = self.kiosk.cfg
        self._free_mb = self.disk_free(cfg.db_path.parent)
        low = self._free_mb < cfg.store.min_free_mb
        faulted = "disk" in self.kiosk.flow.faults
        if low and not faulted:
            log.error("disk space low: %.0f MiB free under %s (alarm below %d MiB)",
                      self._free_mb, cfg.db_path.parent, cfg.store.min_free_mb)
            self.kiosk.device_fault("disk", f"{self._free_mb:.0f} MiB free, below {cfg.store.min_free_mb} MiB")
        elif not low and faulted:
            self.kiosk.device_recovered("disk")

    def _purge(self) -> None:
        self._purge_requested = False
        clock, cfg = self.kiosk.clock, self.kiosk.cfg
        if not clock.synced():
            log.warning("retention purge skipped: the wall clock is not synchronised")
            return
        acked = read_acked(cfg.kiosk.state_dir)
        now = clock.wall()
        try:
            deleted = self.kiosk.store.purge(now - cfg.store.keep_acked_days * DAY_S, acked)
            stale = self.kiosk.store.count_unacked_before(now - cfg.store.keep_acked_days * DAY_S, acked)
        except StoreError as exc:
            log.error("%s", exc)
            return
        if deleted:
            log.info("retention purge: %d acknowledged records older than %d days deleted",
                     deleted, cfg.store.keep_acked_days)
        if stale:
            detail = (f"{stale} records older than {cfg.store.keep_acked_days} days are not yet "
                      "acknowledged by the street server")
            log.warning("%s", detail)
            self.kiosk.record(Record(kind="alarm", t=clock.monotonic(), device="sync", detail=detail))

    def _write_status(self) -> None:
        k = self.kiosk
        self._status.update({
            "written": k.clock.wall(),
            "kiosk_id": k.cfg.kiosk.id, "gate": k.cfg.kiosk.gate,
            "state": k.flow.state.value, "on_duty": k.flow.on_duty, "faults": dict(k.flow.faults),
            "db": str(k.store.path), "db_epoch": k.store.db_epoch, "last_seq": k.store.last_seq,
            "clock_synced": k.clock.synced(),
            "disk_free_mb": None if self._free_mb is None else round(self._free_mb),
            "codes": codes_status(k),
        })
        try:
            assert self.status_file is not None
            write_status(self.status_file, self._status)
        except OSError as exc:
            log.warning("cannot write status file %s: %s", self.status_file, exc)


def codes_status(kiosk: Kiosk) -> str:
    """One line on the health-code trust material (which bundle is in force, or why none/refused).
    Looks at the bundle file first, so a new (or bad) bundle shows up even while no code is shown."""
    refresh = getattr(kiosk.verifier, "refresh", None)
    if refresh is not None:
        refresh()
    trust = getattr(kiosk.verifier, "trust", None)
    return str(getattr(trust, "message", "no trust material configured (codes.root_key unset)"))
