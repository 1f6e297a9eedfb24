"""Time, injected: the pass flow and stores never call ``time.time()`` themselves.

Two readings matter (docs/reliability.md §3, §3.2): the wall clock, which may be wrong after a
power cut on a Pi without RTC, and the monotonic clock, which orders events within a boot.
``clock_synced`` says whether the wall clock can be trusted: systemd-timesyncd creates
``/run/systemd/timesync/synchronized`` once NTP has synchronised, and any NTP daemon clears
the kernel's "unsynchronised" flag (adjtimex), which is what `timedatectl` shows.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import ctypes

TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


class Clock(Protocol):
    """What the kiosk needs to know about time."""

    def wall(self) -> float:
        """Unix time in seconds (may be wrong before the clock is synced)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps, for timeouts and latencies."""

    def synced(self) -> bool:
        """Whether the wall clock is known to be synchronised."""

    def boot_id(self) -> str:
        """Identifier of this boot; monotonic times only compare within one boot."""


class SystemClock:
    """The real clocks of the machine."""

    def __init__(self, flag: Path = TIMESYNC_FLAG, assume_synced: bool = False) -> None:
        self._flag = flag
        self._assume_synced = assume_synced
        self._boot_id = _read_boot_id()

    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def synced(self) -> bool:
        return self._assume_synced or self._flag.exists() or kernel_clock_synced()

    def boot_id(self) -> str:
        return self._boot_id


class FakeClock:
    """A clock tests move by hand; thread-safe so driver threads may read it."""

    def __init__(self, wall: float = 1_780_000_000.0, mono: float = 1000.0,
                 synced: bool = True, boot_id: str = "fake-boot") -> None:
        self._lock = threading.Lock()
        self._wall = wall
        self._mono = mono
        self._synced = synced
        self._boot_id = boot_id

    def wall(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def synced(self) -> bool:
        with self._lock:
            return self._synced

    def boot_id(self) -> str:
        return self._boot_id

    def advance(self, seconds: float) -> None:
        """Move both clocks forward together, as real time does."""
        if seconds < 0:
            raise ValueError("time only moves forward; use jump_wall() for clock steps")
        with self._lock:
            self._wall += seconds
            self._mono += seconds

    def jump_wall(self, seconds: float) -> None:
        """Step only the wall clock (an NTP step or a clock set by hand)."""
        with self._lock:
            self._wall += seconds

    def set_synced(self, synced: bool) -> None:
        with self._lock:
            self._synced = synced


TIME_ERROR = 5    # adjtimex(2): "clock not synchronized" (STA_UNSYNC set)


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    """libc, loaded once: the process's own symbols (dlopen(NULL)), where libc already is — no
    ctypes.util.find_library, whose import (subprocess, shutil …) cost a tenth of the kiosk's
    start under a quarter of a core (docs/benchmarks.md "Zero-class budget")."""
    import ctypes  # here: loading it (libffi) is not needed before READY when the timesync flag answers
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def kernel_clock_synced() -> bool:
    """What `timedatectl` reports as "System clock synchronized": the kernel's NTP state.

    Works whichever daemon disciplines the clock (timesyncd, chrony, ntpd); a read-only
    adjtimex call (modes = 0) needs no privileges and costs one system call.
    """
    libc = _libc()
    if libc is None:
        return False
    import ctypes
    timex = ctypes.create_string_buffer(512)      # larger than struct timex on every ABI
    try:
        state = libc.adjtimex(timex)
    except AttributeError:
        return False
    return state not in (-1, TIME_ERROR)


def _read_boot_id() -> str:
    try:
        return BOOT_ID_PATH.read_text().strip()
    except OSError:
        return f"unknown-{os.urandom(16).hex()}"   # no uuid import: it drags platform in
