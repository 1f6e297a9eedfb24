"""kiosk.service.logs, the log writer: under `kiosk run` a stderr nobody reads (journald stalled: the pipe full)
never blocks the thread that logs — the gate loop — and the dropped lines are counted and said."""

from __future__ import annotations

import fcntl
import logging
import os
import threading

import pytest

from kiosk.service import logs


class Journal:
    """stderr as a real pipe that nobody reads (journald stalled) until :meth:`resume`."""

    def __init__(self) -> None:
        self.r, w = os.pipe()
        fcntl.fcntl(w, 1031, 4096)        # F_SETPIPE_SZ: a small pipe fills after a few lines
        self.out = os.fdopen(w, "w", buffering=1)
        self.got = b""
        self._reader = threading.Thread(target=self._read, daemon=True)

    def resume(self) -> None:
        self._reader.start()

    def _read(self) -> None:
        while chunk := os.read(self.r, 65536):
            self.got += chunk

    def text(self) -> str:
        """Everything written, once the log writer is closed."""
        for h in logging.getLogger().handlers:
            h.close()
        self.out.close()
        self._reader.join(30)
        return self.got.decode()


@pytest.fixture
def journal():
    """A Journal; the test points sys.stderr at it (pytest's capture sets sys.stderr after fixtures)."""
    j = Journal()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield j
    root.handlers[:], root.level = saved
    os.close(j.r)


def test_a_stalled_journal_never_blocks_the_logging_thread(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", journal.out)
    logs.setup(level=logging.INFO, background=True)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logs.Background)
    done = threading.Event()

    def loop() -> None:                    # the gate loop logging a burst of faults
        for i in range(5000):
            logging.getLogger("kiosk.test").warning("fault %d", i)
        done.set()

    threading.Thread(target=loop, daemon=True).start()
    assert done.wait(60), "a log call blocked on the full pipe: the gate loop would have frozen"
    assert handler.dropped > 0             # a 4 KiB pipe and a 1,000-record queue cannot hold 5,000 lines
    journal.resume()
    handler.flush()
    logging.getLogger("kiosk.test").warning("after the stall")
    text = journal.text()
    assert "after the stall" in text
    assert "log lines dropped: stderr (the journal) was not taking them" in text
    assert "fault 0" in text               # what fitted came through in order


def test_records_keep_their_text_and_traceback(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", journal.out)
    logs.setup(level=logging.INFO, background=True)
    args = {"n": 1}
    logging.getLogger("kiosk.test").info("value %s", args)
    args["n"] = 2                          # formatted when logged, not when written
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("kiosk.test").exception("it failed")
    journal.resume()
    text = journal.text()
    assert "value {'n': 1}" in text and "Traceback" in text and "it failed" in text
