"""The camera's threads run in the background: Linux ``SCHED_IDLE`` for the calling thread only.

Why: under a CPU quota (a Pi Zero-class budget, docs/benchmarks.md "Zero-class budget") the
scan thread's decodes ran at the same priority as the gate's path — the thermometer reader, the
flow loop, the relay, the pass log — and one decode (up to ~20 ms on a 25 ms quota period)
that was running when the deciding thermometer frame came delayed the relay by as much (and by
the rest of the period when it used the quota up). The QR engines and OpenCV release the GIL
while they work, so the operating system's priority is what decides who gets the core first:
with ``SCHED_IDLE`` a woken gate thread preempts the camera at once. This orders the threads on
the core; it does not ration the quota they share — the scan thread's CPU share is
drivers/camera/budget.py's job. (The ~70 ms relay tail once blamed on the quota was mostly the
bench timing the wrong thermometer frame: docs/benchmarks.md "The latency tail, issue 17".)

Why it is safe: the policy is per thread (Linux schedules threads, ``sched_setscheduler(2)`` with
a thread id changes that thread only), so nothing on the gate's path, the watchdog ping
included, is lowered. ``SCHED_IDLE`` is not starvation: the kernel still gives such a thread a
minimal weight (sched(7)), so on a core busy with other work the camera slows down — codes read
later — and never stops the gate. No privilege is needed to lower one's own priority. Where the
call is not available (not Linux) or refused, the thread keeps its priority: one log line.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("drivers.camera.priority")


def background() -> bool:
    """Put the calling thread in ``SCHED_IDLE``; False (and one log line) if the OS refuses."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))   # 0: the calling thread
    except (AttributeError, OSError) as exc:
        log.info("camera thread keeps its priority (SCHED_IDLE not available: %s)", exc)
        return False
    return True
