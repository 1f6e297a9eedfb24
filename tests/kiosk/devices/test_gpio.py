"""kiosk/devices/gpio.py: the kiosk's GPIO devices claimed from [gpio], relay first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drivers.errors import DeviceConfigError
from kiosk.config import Config, GpioSection
from kiosk.devices import gpio


def journal_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_start_closes_what_it_built_when_a_later_device_fails(tmp_path: Path) -> None:
    cfg = Config(gpio=GpioSection(pin_factory="mock", mock_journal=tmp_path / "j.jsonl", button_deny_pin=17))
    with pytest.raises(DeviceConfigError, match="button_deny: GPIO17 is already in use"):
        gpio.start(cfg, gpio.NoButtons())
    relay = [line["state"] for line in journal_lines(tmp_path / "j.jsonl") if line["name"] == "relay"]
    assert relay == [0]                      # driven off first, never on
