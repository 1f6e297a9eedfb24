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
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 65536


@dataclass
class Playback:
    """What one aplay run wrote."""

    data: bytes
    first_sample_at: float          # time.perf_counter() when its first bytes arrived
    snapshot: Any = None            # what ``on_first_sample`` returned then


class FifoSink:
    """Collects every playback written to ``<dir>/pcm.fifo``. Use as a context manager."""

    def __init__(self, directory: Path, on_first_sample: Callable[[], Any] | None = None) -> None:
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
                chunks: list[bytes] = []
                first_at, snap = 0.0, None
                while chunk := fifo.read(CHUNK):
                    if not chunks:
                        first_at = time.perf_counter()
                        snap = self._on_first() if self._on_first is not None else None
                    chunks.append(chunk)
            with self._cv:
                if self._stop:
                    return
                if chunks:
                    self.playbacks.append(Playback(b"".join(chunks), first_at, snap))
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
