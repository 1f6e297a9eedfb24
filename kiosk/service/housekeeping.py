"""Housekeeping done by the kiosk's own loop, between events: the watchdog ping, the status
file, the disk-space guard, the retention purge, the pass log's WAL checkpoint, and the camera's
state in systemd's ``STATUS=`` once its start (after READY) has finished.

All of it is decided in the loop thread after a healthy cycle, so a hung loop stops the watchdog
pings (and systemd restarts the kiosk), and the purge is done by the pass log's single
writer. Every interval is measured on the injected clock. Writing the status file is not done
here: the loop hands a snapshot to the status writer's thread (kiosk/service/statuswriter.py),
as the gate loop blocks on nothing but the commit (docs/architecture.md §5).

The purge trusts the wall clock only when it is synchronised and has not stepped since this
kiosk first saw it synchronised (T-TIME-2): a step of more than ``STEP_TOLERANCE_S`` raises an
alarm record and pauses the purge for ``STEP_HOLDOFF_S``; and rows of the current boot must be
old on the monotonic clock too, so even a forward step never deletes them early.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.core.records import Record
from kiosk.errors import StoreError
from kiosk.passlog import quarantine
from kiosk.passlog.store import disk_space
from kiosk.service.runtime import Kiosk
from kiosk.service.sdnotify import Notifier
from kiosk.service.statuswriter import StatusWriter
from kiosk.statefiles import read_sync_progress

log = logging.getLogger("kiosk.service.housekeeping")

DISK_CHECK_S = 2.0          # a full disk is noticed (and alarmed) within this, well under 5 s
SYNC_CHECK_S = 30.0         # how often the sync's state file is looked at (offline light)
STATUS_EVERY_S = 1.0
CHECKPOINT_EVERY_S = 5.0    # the pass log's WAL checkpointed this often, between passes (PassLog.checkpoint)
PURGE_EVERY_S = 3600.0
DAY_S = 86400.0
CLOCK_CHECK_S = 1.0         # the wall clock looked at this often (a stat and an adjtimex), not on every
                            # thermometer sample; a step is still seen within a second, and before any purge
STEP_TOLERANCE_S = 120.0    # wall − monotonic moving more than this while synced is a clock step
STEP_HOLDOFF_S = DAY_S      # no purge for this long after a step


def base_status() -> dict[str, Any]:
    """What the status file says of this process whatever happens (`kiosk status` shows it)."""
    return {"version": __version__, "pid": os.getpid(), "started": time.time()}


def free_mb(path: Path) -> float:
    return disk_space(path)[1] / (1024 * 1024)


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
    _clock_anchor: float | None = None   # wall − monotonic when first seen synchronised
    _last_step: float | None = None      # monotonic time of the last clock step
    _started: float | None = None        # monotonic time of the first cycle
    _writer: StatusWriter | None = None
    _checkpoint_failing: bool = False
    _camera_said: bool = False

    def __post_init__(self) -> None:
        try:
            self.kiosk.store.checkpoint_between_passes()
        except StoreError as exc:
            log.warning("%s; SQLite checkpoints inside commits as before", exc)
        if self.status_file is not None:
            self._writer = StatusWriter(self.status_file, fill=lambda: {"codes": codes_status(self.kiosk)})

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the status file shows the last snapshot taken (tests; shutdown)."""
        return self._writer.flush(timeout) if self._writer is not None else True

    def close(self) -> None:
        """Write the last status and stop the status writer's thread."""
        if self._writer is not None:
            self._writer.close()

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
            self._check_recoveries()
            if self.kiosk.store.wipe_pending:
                self._wipe()
        if self._due("clock", now, CLOCK_CHECK_S):
            self._check_clock()
        if self._due("sync", now, SYNC_CHECK_S):
            self._check_sync(now)
        if self._due("purge", now, PURGE_EVERY_S):
            self._purge_requested = True
        idle = self.kiosk.flow.state.value == "idle"
        if self._purge_requested and idle:
            self._purge()
        if idle and self.kiosk.store.unchecked and self._due("checkpoint", now, CHECKPOINT_EVERY_S):
            self._checkpoint()
        if self._writer is not None and self._due("status", now, STATUS_EVERY_S):
            self._write_status(self._writer)
        if not self._camera_said:
            self._say_camera()

    def _say_camera(self) -> None:
        """Once the camera's start has finished, say so in systemd's ``STATUS=`` (`systemctl status
        kiosk` shows the latest): READY comes before OpenCV is even imported
        (kiosk/devices/camera_boot.py), so READY's own status cannot say whether codes can be read.
        From the loop's thread, as every other notification (the notifier is not thread-safe)."""
        boot = self.kiosk.camera_boot
        if boot is None:                    # no camera configured: nothing will come to say
            self._camera_said = True
            return
        if not boot.started.is_set():
            return
        self._camera_said = True
        gate = self.kiosk.cfg.kiosk.gate
        self.notifier.status(f"gate {gate}, camera on" if boot.feed is not None
                             else f"gate {gate}, no camera: see the journal")

    def _due(self, what: str, now: float, every: float) -> bool:
        last = self._last.get(what)
        if last is not None and now - last < every:
            return False
        self._last[what] = now
        return True

    def _check_sync(self, now: float) -> None:
        """Offline (yellow blink, a `sync` fault record) once no sync succeeded for offline_after_s."""
        k = self.kiosk
        if self._started is None:
            self._started = now
        last_ok = read_sync_progress(k.cfg.kiosk.state_dir).last_ok
        silent_s = now - self._started          # never "offline" sooner than that after a start
        if last_ok > 0:
            silent_s = min(silent_s, k.clock.wall() - last_ok)
        offline = silent_s > k.cfg.sync.offline_after_s
        if offline and "sync" not in k.flow.faults:
            k.inbox.device_fault("sync", f"no successful sync with the street server for {silent_s / 60:.0f} min")
        elif not offline and "sync" in k.flow.faults:
            k.inbox.device_recovered("sync")

    def _check_disk(self) -> None:
        cfg = self.kiosk.cfg
        self._free_mb = self.disk_free(cfg.db_path.parent)
        low = self._free_mb < cfg.store.min_free_mb
        faulted = "disk" in self.kiosk.flow.faults
        if low and not faulted:
            log.error("disk space low: %.0f MiB free under %s (alarm below %d MiB)",
                      self._free_mb, cfg.db_path.parent, cfg.store.min_free_mb)
            self.kiosk.inbox.device_fault("disk", f"{self._free_mb:.0f} MiB free, below {cfg.store.min_free_mb} MiB")
        elif not low and faulted:
            self.kiosk.inbox.device_recovered("disk")

    def _check_clock(self) -> None:
        clock = self.kiosk.clock
        if not clock.synced():
            return
        offset = clock.wall() - clock.monotonic()
        if self._clock_anchor is None:
            self._clock_anchor = offset
            return
        step = offset - self._clock_anchor
        if abs(step) <= STEP_TOLERANCE_S:
            return
        self._clock_anchor, self._last_step = offset, clock.monotonic()
        detail = f"wall clock stepped {step:+.0f} s while synchronised; retention purge paused for 24 h"
        log.warning("%s", detail)
        self.kiosk.record(Record(kind="alarm", t=clock.monotonic(), device="clock", detail=detail))

    def _clock_trusted(self) -> bool:
        clock = self.kiosk.clock
        if not clock.synced():
            log.warning("retention purge skipped: the wall clock is not synchronised")
            return False
        if self._last_step is not None and clock.monotonic() - self._last_step < STEP_HOLDOFF_S:
            log.warning("retention purge skipped: the wall clock stepped %.0f s ago",
                        clock.monotonic() - self._last_step)
            return False
        return True

    def _purge(self) -> None:
        self._purge_requested = False
        clock, cfg = self.kiosk.clock, self.kiosk.cfg
        self._check_clock()
        if not self._clock_trusted():
            return
        acked = read_sync_progress(cfg.kiosk.state_dir).acked_through
        now = clock.wall()
        keep_s = cfg.store.keep_acked_days * DAY_S
        try:
            deleted = self.kiosk.store.purge(now - keep_s, acked, boot_id=clock.boot_id(),
                                             before_mono_ns=int((clock.monotonic() - keep_s) * 1e9))
            stale = self.kiosk.store.count_unacked_before(now - keep_s, acked)
        except StoreError as exc:
            log.error("%s", exc)
            return
        for gone in quarantine.prune(cfg.db_path, acked, now, cfg.store.retention_days):
            log.info("deleted %s (uploaded, or past %d days)", gone, cfg.store.retention_days)
        if deleted:
            log.info("retention purge: %d acknowledged records older than %d days deleted",
                     deleted, cfg.store.keep_acked_days)
        if stale:
            detail = (f"{stale} records older than {cfg.store.keep_acked_days} days are not yet "
                      "acknowledged by the street server")
            log.warning("%s", detail)
            self.kiosk.record(Record(kind="alarm", t=clock.monotonic(), device="sync", detail=detail))

    def _checkpoint(self) -> None:
        """The WAL's pages into the database while no resident is being measured, not inside
        the next pass's COMMIT (kiosk/passlog/store.py ``checkpoint_between_passes``)."""
        try:
            self.kiosk.store.checkpoint()
        except StoreError as exc:
            if not self._checkpoint_failing:       # once per run of failures, not every 5 s
                log.warning("%s; the WAL grows until a checkpoint succeeds (SQLite's own at 10,000 pages)", exc)
            self._checkpoint_failing = True
            return
        if self._checkpoint_failing:
            self._checkpoint_failing = False
            log.info("pass log checkpoint succeeded again")

    def _wipe(self) -> None:
        """Retry the TRUNCATE checkpoint a reader blocked after a purge (purged bytes leave the WAL)."""
        try:
            if self.kiosk.store.wipe_wal():
                log.info("WAL truncated after the purge")
        except StoreError as exc:
            log.error("%s", exc)

    def _check_recoveries(self) -> None:
        for item in list(self.kiosk.recoveries):
            qdir, proc = item
            if proc.poll() is None:
                continue
            self.kiosk.recoveries.remove(item)
            report = quarantine.read_json(qdir / quarantine.REPORT)
            if proc.returncode != 0 or not report:
                detail = f"recovery of quarantined log {qdir.name} failed (exit {proc.returncode}); run `kiosk recover`"
            else:
                got = [f"{e['rows']} records of epoch {e['db_epoch'][:8]} (seq {e['first_seq']}..{e['last_seq']}, "
                       f"{sum(b - a + 1 for a, b in e['missing'])} missing)" for e in report["epochs"]]
                detail = f"recovered from {qdir.name}: " + ("; ".join(got) or "nothing")
            log.warning("%s", detail)
            self.kiosk.record(Record(kind="alarm", t=self.kiosk.clock.monotonic(), device="store",
                                     detail=detail[:200]))

    def _write_status(self, writer: StatusWriter) -> None:
        """A snapshot of what the loop owns, for the writer's thread (which adds the codes line)."""
        k = self.kiosk
        self._status.update({
            "written": k.clock.wall(),
            "kiosk_id": k.cfg.kiosk.id, "gate": k.cfg.kiosk.gate,
            "state": k.flow.state.value, "on_duty": k.flow.on_duty, "faults": dict(k.flow.faults),
            "db": str(k.store.path), "db_epoch": k.store.db_epoch, "last_seq": k.store.last_seq,
            "clock_synced": k.clock.synced(),
            "disk_free_mb": None if self._free_mb is None else round(self._free_mb),
            "held_records": len(k.executor.writer.held), "lost_records": k.executor.writer.lost_total,
        })
        writer.offer(self._status)


def codes_status(kiosk: Kiosk) -> str:
    """One line on the health-code trust material (which bundle is in force, or why none/refused).
    Looks at the bundle file first, so a new (or bad) bundle shows up even while no code is shown
    (in the status writer's thread: the trust store has its own lock)."""
    refresh = getattr(kiosk.verifier, "refresh", None)
    if refresh is not None:
        refresh()
    trust = getattr(kiosk.verifier, "trust", None)
    return str(getattr(trust, "message", "no trust material configured (codes.root_key unset)"))
