"""kiosk.service.statuswriter: the status file is written in its own thread; a stuck write (a slow
disk, a bundle being read) never holds the caller, only the newest snapshot waits, nothing grows."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from kiosk.service.statuswriter import StatusWriter


def test_a_stuck_write_holds_nobody_and_only_the_newest_snapshot_waits(tmp_path: Path) -> None:
    stuck, entered = threading.Event(), threading.Event()

    def fill() -> dict[str, object]:
        entered.set()
        stuck.wait(60)                     # the disk (or the bundle file) does not answer
        return {"codes": "ok"}

    path = tmp_path / "run" / "status.json"
    writer = StatusWriter(path, fill=fill)
    writer.offer({"n": 0})
    assert entered.wait(10)
    for n in range(1, 10_001):             # the loop goes on offering, once a second for hours
        writer.offer({"n": n})
    assert writer.coalesced == 9_999 and writer.written == 0
    stuck.set()
    assert writer.flush()
    writer.close()
    assert json.loads(path.read_text()) == {"n": 10_000, "codes": "ok"}
    assert writer.written == 2


def test_an_unwritable_status_file_is_logged_once_and_written_when_it_can_be(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.service.statuswriter")
    blocker = tmp_path / "run"
    blocker.write_text("a file where the directory should be")
    writer = StatusWriter(blocker / "status.json")
    for n in range(5):
        writer.offer({"n": n})
        assert writer.flush()
    assert caplog.text.count("cannot write status file") == 1
    blocker.unlink()
    writer.offer({"n": 5})
    assert writer.flush()
    writer.close()
    assert json.loads((blocker / "status.json").read_text()) == {"n": 5}
    assert "written again" in caplog.text
