"""Shared fixtures: a fake clock, a config on the mock pin factory in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk import config as config_mod
from kiosk.clock import FakeClock
from kiosk.config import Config


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    """Stand-in hardware, state in tmp_path, short timings left at their defaults."""
    return config_mod.from_dict({
        "kiosk": {"id": "test-kiosk", "state_dir": str(tmp_path / "state"), "runtime_dir": str(tmp_path / "run")},
        "gpio": {"pin_factory": "mock", "mock_journal": str(tmp_path / "gpio.jsonl")},
        "camera": {"enabled": False},
    })
