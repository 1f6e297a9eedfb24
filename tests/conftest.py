"""Shared fixtures: a fake clock, a config on the mock pin factory in a temp dir.

The suite reads the commands' output in English (``KIOSK_LANG``/``STREET_LANG``, inherited by the
commands the tests start); tests/kiosk/test_i18n.py and tests/street/test_cli_i18n.py clear them to
check the Chinese default.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk import config as config_mod
from kiosk.clock import FakeClock
from kiosk.config import Config
from street.server import StreetServer
from tests.synckit import Signer

os.environ.setdefault("KIOSK_LANG", "en")
os.environ.setdefault("STREET_LANG", "en")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    """Stand-in hardware, state in tmp_path, short timings left at their defaults.

    No thermometer is started (tests post samples themselves or start the pty simulator)."""
    return config_mod.from_dict({
        "kiosk": {"id": "test-kiosk", "state_dir": str(tmp_path / "state"), "runtime_dir": str(tmp_path / "run")},
        "gpio": {"pin_factory": "mock", "mock_journal": str(tmp_path / "gpio.jsonl")},
        "thermometer": {"enabled": False},
        "voice": {"backend": "none"},     # tests of the voice itself choose their backend
        "camera": {"enabled": False},
    })


class ManualTimers:
    """A timer factory for GateRelay whose timers fire only when the test says so."""

    class Timer:
        def __init__(self, delay_s: float, fn) -> None:
            self.delay_s, self.fn, self.cancelled = delay_s, fn, False

        def cancel(self) -> None:
            self.cancelled = True

    def __init__(self) -> None:
        self.pending: list[ManualTimers.Timer] = []

    def __call__(self, delay_s: float, fn) -> ManualTimers.Timer:
        timer = ManualTimers.Timer(delay_s, fn)
        self.pending.append(timer)
        return timer

    def fire(self) -> int:
        """Fire every pending, uncancelled timer; return how many fired."""
        due, self.pending = self.pending, []
        fired = 0
        for timer in due:
            if not timer.cancelled:
                timer.fn()
                fired += 1
        return fired


@pytest.fixture
def timers() -> ManualTimers:
    return ManualTimers()


# The street server on 127.0.0.1 with one registered kiosk (modules may define their own `street`).
@pytest.fixture
def street(tmp_path: Path) -> Iterator[StreetServer]:
    with StreetServer(tmp_path / "street.db") as server:
        yield server


@pytest.fixture
def k1(street: StreetServer) -> Signer:
    return Signer(street.url, "k1", street.db.add_kiosk("k1"))
