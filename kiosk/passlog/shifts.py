"""Who is on duty, as the pass log tells it.

Shift start and end are records (kinds ``shift_start``/``shift_end``), written by the flow when
a volunteer scans their badge. After a restart the kiosk asks the log, so a crash or watchdog
restart in the middle of a shift does not leave the post looking unstaffed and every override
after it unattributed. A shift started more than :data:`MAX_SHIFT_S` ago is not resumed: the
volunteer forgot to sign off, and the next override must say that nobody signed in.
Works on the writer's connection and on a read-only one (sync's heartbeat, `kiosk status`).
"""

from __future__ import annotations

import sqlite3

MAX_SHIFT_S = 12 * 3600.0


def last_shift_record(conn: sqlite3.Connection) -> tuple[str, str | None, float] | None:
    """(kind, volunteer_ref, wall_ts) of the newest shift record, if any."""
    row = conn.execute("SELECT kind, volunteer_ref, wall_ts FROM records "
                       "WHERE kind IN ('shift_start', 'shift_end') ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return str(row[0]), row[1], float(row[2])


def on_duty(conn: sqlite3.Connection, now_wall: float) -> str | None:
    """The volunteer reference whose shift is open now, or None."""
    last = last_shift_record(conn)
    if last is None:
        return None
    kind, ref, started = last
    if kind != "shift_start" or ref is None:
        return None
    if not 0 <= now_wall - started <= MAX_SHIFT_S:
        return None
    return ref
