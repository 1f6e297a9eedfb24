"""Writing the pass log when the disk is full or failing: records wait in memory, in order.

The pass log's promise is "every pass, exactly once". When a write fails (``SQLITE_FULL`` at
the size cap or on a full filesystem, ``SQLITE_IOERR`` from the card) nothing of that
transaction was stored, so the record is kept here, in decision order, with the clocks of the
moment it was decided, and written again — oldest first, gap-free, seqs given at write time —
once the log takes writes again (docs/reliability.md §1.4, T-DB-5, T-DB-6).

Nothing is reported stored that was not: :attr:`Outcome.committed` lists only rows whose COMMIT
returned. While records are held, a new record never overtakes them, and writes are retried at
most every ``retry_every_s`` (so a full disk costs the gate loop one failed write a second, not
one per decision). Beyond ``max_held`` records are counted as lost; an alarm row says how many
once writing resumes. What the *gate* does meanwhile is the executor's fail policy
(kiosk/service/runtime.py), not this module's.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from kiosk.clock import Clock
from kiosk.core.records import Record
from kiosk.errors import StoreError
from kiosk.passlog.store import PassLog, Row

log = logging.getLogger("kiosk.passlog.holding")

RETRY_EVERY_S = 1.0
CHUNK = 200               # held rows per transaction when writing resumes


@dataclass
class Outcome:
    """What one call did. ``committed`` is in seq order and may include older held records."""

    committed: list[tuple[int, Record]] = field(default_factory=list)
    stored: bool = False          # the submitted record itself is committed
    held: bool = False            # the submitted record waits in memory
    lost: bool = False            # the submitted record could not even be held
    began_failing: bool = False   # this call found the log unwritable (it was fine before)
    recovered: bool = False       # this call wrote the last held record
    error: StoreError | None = None


class HoldingWriter:
    """The pass log's writer with a bounded, ordered in-memory hold. One thread (the kiosk loop)."""

    def __init__(self, store: PassLog, clock: Clock, max_held: int = 20000,
                 retry_every_s: float = RETRY_EVERY_S) -> None:
        self.store, self.clock = store, clock
        self.max_held, self.retry_every_s = max_held, retry_every_s
        self.held: deque[tuple[Row, Record]] = deque()
        self.lost = 0                       # records dropped since writing last worked
        self.lost_total = 0
        self.error: StoreError | None = None
        self._last_try: float | None = None

    @property
    def failing(self) -> bool:
        return self.error is not None

    def submit(self, record: Record, if_held: Record | None = None) -> Outcome:
        """Write ``record`` now, or hold it (as ``if_held`` when given) behind earlier held ones.

        ``if_held`` is what the record must say if it cannot be committed now — e.g. a pass
        that, under the 'deny' policy, did not open the gate. It keeps the original's clocks.
        """
        row = self.store.stamp(record)
        if len(self.held) >= self.max_held and not self._due():
            return self._lose(record)
        self.held.append((row, record))
        out = self._flush(force=not self.failing)
        if any(rec is record for _seq, rec in out.committed):
            out.stored = True
        elif self.held and self.held[-1][1] is record:
            if len(self.held) > self.max_held:
                self.held.pop()
                lost = self._lose(record)
                lost.committed, lost.began_failing = out.committed, out.began_failing
                return lost
            if if_held is not None:
                self.held[-1] = ({**row, **if_held.columns()}, if_held)
            out.held = True
        return out

    def flush(self) -> Outcome:
        """Retry the held records if it is time (called from the kiosk loop)."""
        if not self.held and self.lost == 0:
            return Outcome()
        return self._flush(force=False)

    def close(self) -> int:
        """A last try at shutdown; returns how many records are lost with the process."""
        if self.held:
            self._flush(force=True)
        if self.held:
            log.error("%d held records could not be written before shutdown and are lost", len(self.held))
        return len(self.held)

    # ------------------------------------------------------------------ internals

    def _due(self) -> bool:
        now = self.clock.monotonic()
        return self._last_try is None or now - self._last_try >= self.retry_every_s

    def _lose(self, record: Record) -> Outcome:
        self.lost += 1
        self.lost_total += 1
        if self.lost == 1:
            log.error("memory hold full (%d records): records are being lost", self.max_held)
        return Outcome(lost=True, error=self.error)

    def _flush(self, force: bool) -> Outcome:
        out = Outcome()
        if not force and not self._due():
            out.error = self.error
            return out
        self._last_try = self.clock.monotonic()
        was_failing = self.failing
        try:
            while self.held:
                chunk = [self.held[i] for i in range(min(CHUNK, len(self.held)))]
                seqs = self.store.write([row for row, _rec in chunk])
                for _ in chunk:
                    self.held.popleft()
                out.committed += [(seq, rec) for seq, (_row, rec) in zip(seqs, chunk, strict=True)]
            if self.lost:
                alarm = Record(kind="alarm", t=self.clock.monotonic(), device="store",
                               detail=f"{self.lost} records lost: the log was not writable and the "
                                      f"memory hold ({self.max_held}) was full")
                seq = self.store.write([self.store.stamp(alarm)])[0]
                out.committed.append((seq, alarm))
                self.lost = 0
        except StoreError as exc:
            if not was_failing:
                log.error("pass log not writable, holding records in memory: %s", exc)
            self.error = out.error = exc
            out.began_failing = not was_failing
            return out
        if was_failing:
            log.warning("pass log writable again: %d held records written", len(out.committed))
            out.recovered = True
        self.error = None
        return out
