"""Configuration: typed, frozen, range-checked, unknown keys rejected, errors naming section.key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kiosk import config as config_mod
from kiosk.config import Config, ConfigError
from tests.paths import REPO


def load_text(tmp_path: Path, text: str) -> Config:
    p = tmp_path / "kiosk.toml"
    p.write_text(text, encoding="utf-8")
    return config_mod.load(p)


def test_shipped_example_lists_every_key_and_loads() -> None:
    example = REPO / "config" / "kiosk.example.toml"
    assert example.read_text(encoding="utf-8").strip() == config_mod.example_toml().strip(), \
        "config/kiosk.example.toml is stale: python -m kiosk.config example > config/kiosk.example.toml"
    cfg = config_mod.load(example)
    assert cfg == dataclasses.replace(Config(), source=example)


def test_shipped_standin_config_loads_on_the_mock_factory() -> None:
    cfg = config_mod.load(REPO / "config" / "standin.toml")
    assert cfg.gpio.pin_factory == "mock"
    assert cfg.kiosk.state_dir == (REPO / "var" / "standin").resolve()


def test_config_is_frozen(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.gpio.relay_pin = 4  # type: ignore[misc]


@pytest.mark.parametrize("text, message", [
    ("[gpio]\nrelay_pinn = 17\n", "gpio.relay_pinn is not a known key"),
    ("[gipo]\n", "unknown section [gipo]"),
    ("[gpio]\nrelay_pin = 40\n", "gpio.relay_pin = 40 is out of range (allowed 0 … 27)"),
    ("[gpio]\ngate_pulse_s = 0.1\n", "gpio.gate_pulse_s = 0.1 is out of range (allowed 0.2 … 30)"),
    ("[gpio]\nrelay_pin = \"17\"\n", "gpio.relay_pin must be an integer"),
    ("[gpio]\nrelay_active_high = 1\n", "gpio.relay_active_high must be true or false"),
    ("[gpio]\npin_factory = \"pigpiod\"\n", "gpio.pin_factory = 'pigpiod' is not one of"),
    ("[temperature]\nfever_c = nan\n", "temperature.fever_c must be a number"),
    ("[kiosk]\nid = \"bad id!\"\n", "kiosk.id = 'bad id!' must match"),
    ("[gpio]\nled_red_pin = 17\n", "gpio.led_red_pin = 17: pin already used by gpio.relay_pin"),
    ("[gpio]\nbuzzer_pin = 14\n", "GPIO14 is the UART TXD"),
    ("[gpio]\nmock_journal = \"j.jsonl\"\n", "gpio.mock_journal is only allowed with gpio.pin_factory = 'mock'"),
    ("gpio = 3\n", "gpio must be a table"),
    ("[store]\npath = \"\"\n", "store.path must be a non-empty path"),
    ("[gpio\n", "is not valid TOML"),
    # a server URL the sync could never reach is refused at load, not retried for ten minutes
    ("[sync]\nserver_url = \"ftp://street.example/\"\n", "sync.server_url = 'ftp://street.example/' must be an http"),
    ("[sync]\nserver_url = \"not a url\"\n", "sync.server_url = 'not a url' must be an http"),
    ("[sync]\nserver_url = \"http://:8470\"\n", "must be an http:// or https:// URL with a host"),
    ("[sync]\nserver_url = \"http://street.example:99999\"\n", "must be an http"),
])
def test_errors_name_the_key_and_what_is_allowed(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_text(tmp_path, text)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not found .*KIOSK_CONFIG"):
        config_mod.load(tmp_path / "absent.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        config_mod.load(tmp_path / "bin.toml")


def test_path_resolution_order(tmp_path: Path) -> None:
    assert config_mod.resolve_path(None, {}) == Path("/etc/kiosk/kiosk.toml")
    assert config_mod.resolve_path(None, {"KIOSK_CONFIG": "/x.toml"}) == Path("/x.toml")
    assert config_mod.resolve_path("/y.toml", {"KIOSK_CONFIG": "/x.toml"}) == Path("/y.toml")


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, "[kiosk]\nstate_dir = \"state\"\n[store]\npath = \"/abs/p.db\"\n")
    assert cfg.kiosk.state_dir == tmp_path.resolve() / "state"
    assert cfg.db_path == Path("/abs/p.db")
    assert load_text(tmp_path, "[kiosk]\nstate_dir = \"s\"\n").db_path == tmp_path.resolve() / "s" / "passes.db"


def test_integers_are_accepted_for_float_keys(tmp_path: Path) -> None:
    assert load_text(tmp_path, "[gpio]\ngate_pulse_s = 2\n").gpio.gate_pulse_s == 2.0


def test_docs_reference_is_current() -> None:
    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert doc.strip() == config_mod.reference_document().strip(), \
        "docs/configuration.md is stale: python -m kiosk.config reference > docs/configuration.md"


def test_reference_documents_every_key() -> None:
    ref = config_mod.reference_markdown()
    for name, cls in config_mod.SECTIONS.items():
        for f in dataclasses.fields(cls):
            assert f"| `{f.name}` |" in ref, f"{name}.{f.name}"


def test_wiring_diagram_matches_the_default_pin_map() -> None:
    import runpy
    svg = runpy.run_path(str(REPO / "docs" / "wiring.py"))["svg"]()
    assert (REPO / "docs" / "wiring.svg").read_text(encoding="utf-8") == svg, \
        "docs/wiring.svg is stale: python docs/wiring.py"


def test_wiring_script_writes_the_file_the_readme_names(tmp_path: Path) -> None:
    """`python docs/wiring.py` (as the README says) writes docs/wiring.svg beside it, not stdout."""
    import os
    import shutil
    import subprocess
    import sys
    (tmp_path / "docs").mkdir()
    shutil.copy(REPO / "docs" / "wiring.py", tmp_path / "docs" / "wiring.py")
    proc = subprocess.run([sys.executable, "docs/wiring.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0 and proc.stdout.startswith("wrote ") and "<svg" not in proc.stdout, proc.stderr
    assert (tmp_path / "docs" / "wiring.svg").read_bytes() == (REPO / "docs" / "wiring.svg").read_bytes()


def test_wiring_diagram_colours_each_led_as_itself_and_shows_the_boards_power() -> None:
    import re
    svg = (REPO / "docs" / "wiring.svg").read_text(encoding="utf-8")
    fill = {int(n): c for c, n in re.findall(r'<circle cx="\d+" cy="\d+" r="9" fill="#(\w{6})"[^>]*/>\s*'
                                              r'<text[^>]*>(\d+)</text>', svg)}
    rgb = {pin: tuple(int(c[i:i + 2], 16) for i in (0, 2, 4)) for pin, c in fill.items()}
    header = {27: 13, 22: 15, 23: 16}               # BCM of the red, green, yellow LED → header pin
    gpio = Config().gpio
    red, green, yellow = (rgb[header[p]] for p in (gpio.led_red_pin, gpio.led_green_pin, gpio.led_yellow_pin))
    assert red[0] > 2 * max(red[1], red[2]), "red LED's dot is not red"
    assert green[1] > 2 * max(green[0], green[2]), "green LED's dot is not green"
    assert min(yellow[0], yellow[1]) > 2 * yellow[2], "yellow LED's dot is not yellow"
    assert fill[11] not in (fill[13], fill[15], fill[16])          # the relay is not drawn as an LED
    for board in ("relay board", "thermometer", "amplifier"):
        assert re.search(rf">5V {{2}}· {{2}}{board} VCC<|>{board} VCC {{2}}· {{2}}3V3<", svg), f"{board}: no supply"
        assert re.search(rf">GND {{2}}· {{2}}{board} GND<|>{board} GND {{2}}· {{2}}GND<", svg), f"{board}: no ground"


# The screening defaults are a product decision with a source (docs/thermometer.md §2.5–2.6: China's
# fever definition 37.3 °C, the low band below 35.0, 42.5 as the plausible maximum). The example
# config and docs/configuration.md are generated from kiosk/config.py, so they would follow a changed
# default silently; the hand-written band table and these literals do not.
SCREENING = {"no_target_c": 32.0, "low_c": 35.0, "fever_c": 37.3, "implausible_c": 42.5}


def test_the_screening_defaults_are_the_documented_ones() -> None:
    import re
    t = Config().temperature
    assert {k: getattr(t, k) for k in SCREENING} == SCREENING
    assert (Config().flow.rest_s, Config().flow.retest_window_s) == (180.0, 1800.0)
    doc = (REPO / "docs" / "thermometer.md").read_text(encoding="utf-8")
    table = {m.group(2): float(m.group(1)) for m in re.finditer(r"(\d+\.\d) °C \(`(\w+_c)`\)", doc)}
    assert table == SCREENING, "docs/thermometer.md's band table and the defaults disagree"
    assert "`flow.rest_s` (180 s)" in doc and "`flow.retest_window_s` (1800 s)" in doc
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for text in ("35.0–37.2 °C", "≥ 37.3 °C", "< 35.0 °C", "> 42.5 °C"):
        assert text in readme, text


def test_each_keys_type_is_read_from_its_annotation_as_typing_resolves_it() -> None:
    # load() reads the annotations itself (typing.get_type_hints cost the start ~3 ms before READY)
    import typing
    for section, cls in config_mod.SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            assert config_mod._key_type(f"{section}.{f.name}", str(f.type)) == hints[f.name], f"{section}.{f.name}"
