"""The running door node (`kiosk door run`): edges in, debounced events committed, then the buzzer.

One loop thread owns the watch and the pass log, as on the gate kiosk: gpiozero's event thread
only queues raw edges with their monotonic time. Each event is committed to the pass log (the
same file format, writer and `kiosk sync` as a gate kiosk, so it reaches the street server
exactly once) before anything else happens; the buzzer sounds only after the commit. A record
that cannot be written (disk full, I/O error) stays in memory, in order, and is retried every
loop until it is on disk — nothing is dropped while the process lives.

The status file (``[kiosk] runtime_dir``) is rewritten every second, so the sync's heartbeat
tells the office whether the node itself is running (sync/heartbeat.py ``kiosk_running``). A
clock that is not synchronised, or that the sync found more than a minute off the street
server's, cannot vouch for the allowed windows: openings then count as ``clock_unsynced``. A
marker file in the state directory says the node is running; finding it at start means the last
run ended without its stop record (power cut, crash), and the start record says so.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpiozero import Buzzer
from gpiozero.pins import Factory

from drivers.door import OpenInput
from drivers.gpio import build_device
from kiosk import __version__
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.core.records import Reading, Record
from kiosk.door import visits
from kiosk.door.household import Quarantine, parse_time, parse_windows
from kiosk.door.watch import ALERT_CAUSES, DoorWatch
from kiosk.errors import StoreError
from kiosk.passlog.store import PassLog
from kiosk.statefiles import read_clock_offset, read_sync_progress, write_status

RUNNING_MARK = "door-running"
CLOCK_TOLERANCE_S = 60.0      # a clock this far from the street server's cannot vouch for a window
STATUS_EVERY_S = 1.0
PURGE_EVERY_S = 3600.0
BEEP_S = 1.0


def quarantine_of(cfg: Config) -> Quarantine:
    """The [door] section as a Quarantine (ConfigError naming the key when it is wrong)."""
    d = cfg.door
    off = d.utc_offset_min
    return Quarantine(household=d.household, door=d.door,
                      starts=parse_time(d.quarantine_start, off, "door.quarantine_start"),
                      ends=parse_time(d.quarantine_end, off, "door.quarantine_end"),
                      windows=parse_windows(d.windows), offset_min=off)


@dataclass(frozen=True)
class _Edge:
    line: str          # "contact" | "tamper" | "more<i>" (door.more_doors[i])
    opened: bool
    t: float


class DoorNode:
    """A door node: its inputs, its watch and its pass log. Drive it with :meth:`step` on one thread."""

    def __init__(self, cfg: Config, clock: Clock, pin_factory: Factory, *,
                 on_commit: Callable[[int, Record], None] | None = None) -> None:
        self.cfg, self.clock = cfg, clock
        self.on_commit = on_commit
        self.quarantine = quarantine_of(cfg)
        self.edges: queue.SimpleQueue[_Edge] = queue.SimpleQueue()
        self.held: list[Record] = []
        self._visit_files: dict[int, Path] = {}     # id of a held visit record → its spool file
        self.committed = 0
        self._status_at = float("-inf")
        self._purged_at = float("-inf")
        self.offset_s: float | None = None        # the sync's last measure of this clock against the server's
        d = cfg.door
        self.log = PassLog(cfg.db_path, kiosk_id=cfg.kiosk.id, gate=d.door, direction="in", clock=clock,
                           max_db_mb=cfg.store.max_db_mb, keep_free_pct=cfg.store.keep_free_pct)
        self.inputs: list[OpenInput] = []
        self.buzzer: Buzzer | None = None
        try:
            self.contact = OpenInput(d.contact_pin, "door_contact", lambda o: self._edge("contact", o),
                                     pin_factory=pin_factory)
            self.inputs.append(self.contact)
            self.more: list[OpenInput] = []             # further doors of the household (door.more_doors)
            for i, (name, pin) in enumerate(d.extra_doors()):
                self.more.append(OpenInput(pin, f"door_contact_{name}", functools.partial(self._edge, f"more{i}"),
                                           pin_factory=pin_factory))
                self.inputs.append(self.more[-1])
            self.tamper: OpenInput | None = None
            if d.tamper_pin is not None:
                self.tamper = OpenInput(d.tamper_pin, "door_tamper", lambda o: self._edge("tamper", o),
                                        pin_factory=pin_factory)
                self.inputs.append(self.tamper)
            if d.buzzer_pin is not None:
                pin = d.buzzer_pin
                self.buzzer = build_device(pin_factory, pin, "door_buzzer",
                                           lambda: Buzzer(pin, pin_factory=pin_factory))
        except BaseException:
            self.close()
            raise
        self.watch = self._new_watch()
        self.more_watches = self._more_watches()

    def _new_watch(self) -> DoorWatch:
        """A watch that starts from the levels the pins read now."""
        d = self.cfg.door
        return DoorWatch(self.quarantine, debounce_s=d.debounce_ms / 1000, held_s=d.held_open_s,
                         door_open=self.contact.opened, loop_open=self.tamper.opened if self.tamper else False)

    def _more_watches(self) -> list[DoorWatch]:
        """One watch per further door: the same household and windows, its own name; the tamper
        loop belongs to the first door's watch."""
        d = self.cfg.door
        return [DoorWatch(dataclasses.replace(self.quarantine, door=name), debounce_s=d.debounce_ms / 1000,
                          held_s=d.held_open_s, door_open=inp.opened)
                for (name, _), inp in zip(d.extra_doors(), self.more, strict=True)]

    # ------------------------------------------------------------------ threads

    def _edge(self, line: str, opened: bool) -> None:
        """gpiozero's event thread: stamp and queue, nothing else."""
        self.edges.put(_Edge(line, opened, self.clock.monotonic()))

    # ------------------------------------------------------------------ the loop

    @property
    def mark_path(self) -> Path:
        return self.cfg.kiosk.state_dir / RUNNING_MARK

    def start(self) -> None:
        """The start record (saying whether the last run ended without its stop record). Edges
        before it are the wiring settling: the watch starts from the levels the pins read now."""
        while not self.edges.empty():
            self.edges.get_nowait()
        self.watch = self._new_watch()
        self.more_watches = self._more_watches()
        unclean = self.mark_path.exists()
        rec = self.watch.start(self.clock.monotonic())
        if unclean:
            rec = Record(kind=rec.kind, t=rec.t, cause=rec.cause, device=rec.device,
                         detail=f"{rec.detail} after=unclean_stop", household_ref=rec.household_ref)
        now, wall, synced = self.clock.monotonic(), self.clock.wall(), self.clock.synced()
        self._commit([rec, *(r for w in [self.watch, *self.more_watches] for r in w.open_at_start(now, wall, synced))])
        self.mark_path.parent.mkdir(parents=True, exist_ok=True)
        self.mark_path.touch()

    def step(self, timeout: float = 0.05) -> list[Record]:
        """Take the queued edges (waiting up to ``timeout`` for the first), settle, commit.
        Returns the records committed by this step."""
        try:
            edge: _Edge | None = self.edges.get(timeout=timeout) if timeout > 0 else self.edges.get_nowait()
        except queue.Empty:
            edge = None
        while edge is not None:
            if edge.line == "contact":
                self.watch.contact(edge.opened, edge.t)
            elif edge.line == "tamper":
                self.watch.tamper(edge.opened, edge.t)
            else:
                self.more_watches[int(edge.line[4:])].contact(edge.opened, edge.t)
            try:
                edge = self.edges.get_nowait()
            except queue.Empty:
                edge = None
        trusted = self.clock.synced() and (self.offset_s is None or abs(self.offset_s) <= CLOCK_TOLERANCE_S)
        records = self.watch.tick(self.clock.monotonic(), self.clock.wall(), trusted)
        for watch in self.more_watches:
            records += watch.tick(self.clock.monotonic(), self.clock.wall(), trusted)
        done = self._commit(records)
        if self.clock.monotonic() - self._status_at >= STATUS_EVERY_S:
            self._status_at = self.clock.monotonic()
            self.offset_s = read_clock_offset(self.cfg.kiosk.state_dir)
            done += self._take_visits()
            self.write_status()
        if self.clock.monotonic() - self._purged_at >= PURGE_EVERY_S:
            self._purged_at = self.clock.monotonic()
            self.purge()
        return done

    def purge(self) -> int:
        """The kiosks' retention rule on the node: records the street server acknowledged and
        older than store.keep_acked_days go (only on a synchronised clock; rows of this boot
        must be that old on the monotonic clock too, so a clock stepped forward deletes nothing)."""
        if not self.clock.synced():
            return 0
        keep_s = self.cfg.store.keep_acked_days * 86400
        acked = read_sync_progress(self.cfg.kiosk.state_dir).acked_through
        try:
            return self.log.purge(self.clock.wall() - keep_s, acked, boot_id=self.clock.boot_id(),
                                  before_mono_ns=int((self.clock.monotonic() - keep_s) * 1e9))
        except StoreError:
            return 0            # tried again next hour; the log keeps them meanwhile

    def _take_visits(self) -> list[Record]:
        """Commit the spooled temperature visits (kiosk/door/visits.py); a file goes only once its
        record is on disk."""
        done: list[Record] = []
        if self.held:
            return done                     # the disk is failing: the visits wait, durably, in the spool
        for path, visit in visits.pending(self.cfg.kiosk.state_dir):
            if visit is None:
                path.rename(path.with_suffix(".bad"))
                continue
            fever = visit.temp_c >= self.cfg.temperature.fever_c
            rec = Record(kind="door_visit", t=self.clock.monotonic(), cause="fever" if fever else "normal",
                         reading=Reading(value_c=visit.temp_c, samples=1, spread_c=0.0, ambient_c=None,
                                         band="high" if fever else "normal"),
                         volunteer_ref=visit.staff, device=self.quarantine.door, detail=visit.detail(),
                         household_ref=self.quarantine.household)
            self._visit_files[id(rec)] = path
            done += self._commit([rec])
        return done

    def stop(self) -> None:
        """The stop record; the running mark goes only once it is on disk."""
        self._commit([self.watch.stop(self.clock.monotonic())])
        if not self.held:
            self.mark_path.unlink(missing_ok=True)

    def run(self, stop: threading.Event, on_cycle: Callable[[], None] | None = None) -> None:
        self.start()
        while not stop.is_set():
            self.step(0.05)
            if on_cycle is not None:
                on_cycle()
        self.stop()

    # ------------------------------------------------------------------ commit, then act

    def _commit(self, records: list[Record]) -> list[Record]:
        self.held.extend(records)
        done: list[Record] = []
        while self.held:
            rec = self.held[0]
            try:
                seq = self.log.append(rec)
            except StoreError:
                break           # kept in memory, in order; retried next step
            self.held.pop(0)
            self.committed += 1
            spooled = self._visit_files.pop(id(rec), None)
            if spooled is not None:
                spooled.unlink(missing_ok=True)     # only now: the visit is on disk
            done.append(rec)
            if self.on_commit is not None:
                self.on_commit(seq, rec)
            if self.buzzer is not None and rec.cause in ALERT_CAUSES:
                self.buzzer.blink(on_time=BEEP_S, off_time=0.5, n=1)
        return done

    def write_status(self) -> None:
        is_open = any(w.is_open for w in [self.watch, *self.more_watches])
        status: dict[str, Any] = {
            "written": self.clock.wall(), "pid": os.getpid(), "kind": "door", "version": __version__,
            "kiosk_id": self.cfg.kiosk.id, "gate": self.quarantine.door, "door": self.quarantine.door,
            "state": "door open" if is_open else "door shut", "open": is_open,
            "db": str(self.cfg.db_path), "db_epoch": self.log.db_epoch, "last_seq": self.log.last_seq,
            "clock_synced": self.clock.synced(), "held_records": len(self.held),
            "committed": self.committed, "clock_offset_s": self.offset_s, "on_duty": None, "faults": {},
        }
        try:
            write_status(self.cfg.status_path, status)
        except OSError:
            pass                # the status file is a courtesy for the heartbeat; never stop the node for it

    def close(self) -> None:
        for inp in self.inputs:
            inp.close()
        if self.buzzer is not None and not self.buzzer.closed:
            self.buzzer.close()
        if getattr(self, "log", None) is not None:
            self.log.close()


