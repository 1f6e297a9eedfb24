"""A sound card stand-in for real aplay: ALSA's file plugin writing into a FIFO we read.

``aplay -D file:'<fifo>',raw`` runs the whole ALSA path and writes the PCM samples it would
send to a card into the FIFO. A reader thread keeps each playback's bytes and the moment its
first sample arrived, and can snapshot something (the amplifier pin) right then, so tests can
check what was played and that the amplifier was on while it played, and the benchmark can
time "decision → first audio sample". ALSA pads the last period with silence, so a playback
is the clip's samples followed by zeros.

The snapshot is taken when the reader gets the first bytes. aplay cannot finish a playback
longer than the pipe buffer (64 KiB on Linux) before the reader has started reading, so for
such playbacks the snapshot falls inside the playback; a shorter one may be read after aplay
has already exited.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 65536
F_SETPIPE_SZ = 1031          # fcntl(2), Linux: set a pipe's capacity (rounded up to a page)


@dataclass
class Playback:
    """What one aplay run wrote."""

    data: bytes
    first_sample_at: float          # time.perf_counter() when its first bytes arrived
    snapshot: Any = None            # what ``on_first_sample`` returned then
    last_sample_at: float = 0.0     # time.perf_counter() when its last bytes arrived


class FifoSink:
    """Collects every playback written to ``<dir>/pcm.fifo``. Use as a context manager."""

    def __init__(self, directory: Path, on_first_sample: Callable[[], Any] | None = None, *,
                 paced_bps: float | None = None, pipe_bytes: int | None = None) -> None:
        """``paced_bps``: consume like a sound card, this many bytes per second (a DAC drains its
        buffer at the sample rate; without it the FIFO is drained as fast as aplay writes), with
        the pipe shrunk to ``pipe_bytes`` so it plays the part of the card's buffer."""
        self.paced_bps, self.pipe_bytes = paced_bps, pipe_bytes
        self.path = Path(directory) / "pcm.fifo"
        if self.path.exists():
            self.path.unlink()
        os.mkfifo(self.path)
        self._on_first = on_first_sample
        self._cv = threading.Condition()
        self.playbacks: list[Playback] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="fifo-sink", daemon=True)
        self._thread.start()

    @property
    def device(self) -> str:
        """The ALSA PCM name to give aplay (``[voice] device``)."""
        return f"file:'{self.path}',raw"

    def _run(self) -> None:
        while True:
            with open(self.path, "rb", buffering=0) as fifo:     # blocks until aplay opens it
                shrunk = self.pipe_bytes is None
                chunks: list[bytes] = []
                first_at, snap, got = 0.0, None, 0
                step = CHUNK if self.paced_bps is None else max(64, int(self.paced_bps / 100))   # 10 ms at a time
                while chunk := fifo.read(step):
                    if not chunks:
                        first_at = time.perf_counter()
                        snap = self._on_first() if self._on_first is not None else None
                    chunks.append(chunk)
                    got += len(chunk)
                    if not shrunk:
                        try:        # EBUSY while the pipe holds more than the new size: retry after a read
                            fcntl.fcntl(fifo.fileno(), F_SETPIPE_SZ, self.pipe_bytes or 0)
                            shrunk = True
                        except OSError as exc:
                            if exc.errno != errno.EBUSY:
                                raise
                    if self.paced_bps is not None:
                        # a sound card drains at the sample rate: the next read waits for "the DAC"
                        ahead = first_at + got / self.paced_bps - time.perf_counter()
                        if ahead > 0:
                            time.sleep(ahead)
                last_at = time.perf_counter()
            with self._cv:
                if self._stop:
                    return
                if chunks:
                    self.playbacks.append(Playback(b"".join(chunks), first_at, snap, last_at))
                    self._cv.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Playback]:
        """Block until ``count`` playbacks have arrived; returns them (raises on timeout)."""
        with self._cv:
            if not self._cv.wait_for(lambda: len(self.playbacks) >= count, timeout):
                raise TimeoutError(f"only {len(self.playbacks)} of {count} playbacks arrived in {timeout} s")
            return list(self.playbacks)

    def close(self) -> None:
        with self._cv:
            self._stop = True
        for _ in range(100):      # wake the reader blocked in open(): be a writer for a moment
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError as exc:
                if exc.errno != errno.ENXIO:      # ENXIO: the reader is not in open() yet
                    raise
            self._thread.join(0.05)
            if not self._thread.is_alive():
                break
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> FifoSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
