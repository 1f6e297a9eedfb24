"""`kiosk thermometer read|calibrate` and the technician's simulator command."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hardware_mocks.thermometer import PtyThermometer
from kiosk import config as config_mod
from kiosk.cli.main import main
from kiosk.clock import FakeClock
from kiosk.devices import calibration
from kiosk.errors import CalibrationError
from kiosk.service.assembly import assembled

KEYS = ["object_c", "ambient_c", "body_c", "raw_hex", "t"]


def test_technician_runs_the_simulator_and_reads_it(tmp_path: Path) -> None:
    scenario = tmp_path / "forehead.csv"
    scenario.write_text("t,object_c,ambient_c\n0,35.8,19.5\n")
    link = tmp_path / "ttyTHERMO"
    sim = subprocess.Popen([sys.executable, "-m", "hardware_mocks.thermometer", "--protocol", "gy-mcu90614",
                            "--link", str(link), "--scenario", str(scenario)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert sim.stdout is not None
        assert sim.stdout.readline().strip() == str(link)       # printed once the port exists
        out = subprocess.run([sys.executable, "-m", "kiosk", "thermometer", "read", "--port", str(link),
                              "--protocol", "gy-mcu90614", "--count", "3"],
                             capture_output=True, text=True, timeout=30)
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert list(line) == KEYS
        assert line["body_c"] is None and line["ambient_c"] == 19.5
        assert abs(line["object_c"] - 35.8) <= 0.021
        assert bytes.fromhex(line["raw_hex"])[:4] == bytes.fromhex("5A5A4504")
    assert [line["t"] for line in lines] == sorted(line["t"] for line in lines)
    assert sim.returncode == 0


def test_read_reports_bad_frames_on_stderr_and_skips_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "ttyTHERMO"
    with PtyThermometer("aa-a5-body", link=link, noise_c=0.0) as sim:
        sim.set_target(35.9, 20.0, body_c=36.4)

        def corrupt_after_probe() -> None:          # queries come 1/8 s apart: ample time to arm
            if sim.wait_for(lambda: sim.frames_sent >= 1, timeout_s=10):
                sim.inject("bad_checksum", 2)

        threading.Thread(target=corrupt_after_probe, daemon=True).start()
        code = main(["thermometer", "read", "--port", str(link), "--protocol", "aa-a5-body", "--count", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(d["object_c"], d["ambient_c"], d["body_c"]) for d in lines] == [(None, 20.0, 36.4)] * 3
    bad = [line for line in err.splitlines() if line.startswith("bad frame: ")]
    assert len(bad) == 2 and all("checksum" in line for line in bad)


@pytest.mark.parametrize("argv, message", [
    (["--port", "/nonexistent/ttyUSB9", "--protocol", "gy-mcu90614"],
     "cannot open thermometer port /nonexistent/ttyUSB9: No such file or directory"),
    (["--port", "loop://", "--protocol", "idc50-push", "--count", "-2"], "--count -2 must be 0 or more"),
    (["--protocol", "gy-mcu90614", "--config", "/nonexistent/kiosk.toml"],
     "config file /nonexistent/kiosk.toml not found"),
])
def test_read_errors_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["thermometer", "read", *argv]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.strip().count("\n") == 0 and message in err


def test_read_on_a_silent_port_times_out_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    # pyserial's own loop:// port: our query comes straight back, which is not a frame
    assert main(["thermometer", "read", "--port", "loop://", "--protocol", "gy-mcu90614", "--mode", "query"]) == 1
    err = capsys.readouterr().err
    assert "no valid gy-mcu90614 frame from loop:// at 9600 or 115200 baud" in err


def _config_file(tmp_path: Path, link: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f"""
[kiosk]
id = "test-kiosk"
state_dir = "{tmp_path / 'state'}"
runtime_dir = "{tmp_path / 'run'}"
[gpio]
pin_factory = "mock"
[thermometer]
port = "{link}"
protocol = "gy-mcu90614"
""")
    return path


def test_calibrate_stores_the_offset_the_kiosk_then_applies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "ttyTHERMO"
    cfg_path = _config_file(tmp_path, link)
    with PtyThermometer("gy-mcu90614", link=link, noise_c=0.0) as sim:
        sim.set_target(36.0, 22.0)                  # the kiosk estimates 36.0 + 0.5 skin offset
        code = main(["thermometer", "calibrate", "--reference", "36.8", "--config", str(cfg_path)])
        out, err = capsys.readouterr()
        assert code == 0, err
        result = json.loads(out)
        assert result["offset_c"] == pytest.approx(0.3) and result["measured_c"] == pytest.approx(36.5)
        assert result["samples"] == 5
        cfg = config_mod.load(cfg_path)
        assert Path(result["file"]) == cfg.calibration_path == tmp_path / "state" / "thermometer-calibration.json"
        stored = calibration.load(cfg.calibration_path)
        assert stored is not None and stored.reference_c == 36.8 and stored.protocol == "gy-mcu90614"
        with assembled(cfg, FakeClock()) as kiosk:
            assert kiosk.flow.window.calibration_c == pytest.approx(0.3)


@pytest.mark.parametrize("reference, target, message", [
    ("30.0", (36.0, 22.0), "reference 30.0 °C is not a body temperature"),
    ("41.5", (36.0, 22.0), "beyond ±3 °C"),
    ("36.8", None, "no target in front of the sensor"),
])
def test_calibrate_refuses_what_it_cannot_trust(tmp_path: Path, capsys: pytest.CaptureFixture[str], reference: str,
                                                target: tuple[float, float] | None, message: str) -> None:
    link = tmp_path / "ttyTHERMO"
    cfg_path = _config_file(tmp_path, link)
    with PtyThermometer("gy-mcu90614", link=link) as sim:
        if target is not None:
            sim.set_target(*target)
        code = main(["thermometer", "calibrate", "--reference", reference, "--seconds", "1",
                     "--config", str(cfg_path)])
    err = capsys.readouterr().err
    assert code == 1 and message in err
    assert not (tmp_path / "state" / "thermometer-calibration.json").exists()


def test_an_unreadable_calibration_file_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    cfg = config_mod.from_dict({
        "kiosk": {"id": "test-kiosk", "state_dir": str(tmp_path / "state"), "runtime_dir": str(tmp_path / "run")},
        "gpio": {"pin_factory": "mock"},
        "thermometer": {"port": str(tmp_path / "nope")},
    })
    cfg.calibration_path.parent.mkdir(parents=True)
    cfg.calibration_path.write_text("{\"offset_c\": 0.2")
    with pytest.raises(CalibrationError, match=r"is not valid .*run `kiosk thermometer calibrate` again"):
        with assembled(cfg, FakeClock()):
            pass
    cfg.calibration_path.write_text(json.dumps({**_cal(), "offset_c": 7.0}))
    with pytest.raises(CalibrationError, match="beyond ±3"):
        calibration.load(cfg.calibration_path)


def _cal() -> dict[str, object]:
    return {"offset_c": 0.2, "reference_c": 36.8, "measured_c": 36.6, "samples": 5, "spread_c": 0.1,
            "protocol": "gy-mcu90614", "port": "/dev/serial0", "at": "2026-01-01T00:00:00Z"}


def test_relative_port_is_taken_relative_to_the_config_file_and_self_check_reads_it(tmp_path: Path) -> None:
    from kiosk.devices.thermometer import link_settings, self_check
    cfg_path = _config_file(tmp_path, Path("ttyTHERMO"))
    cfg = config_mod.load(cfg_path)
    assert link_settings(cfg).port == str(tmp_path / "ttyTHERMO")
    ok, message = self_check(cfg, seconds=0.5)
    assert not ok and "No such file" in message
    with PtyThermometer("gy-mcu90614", link=tmp_path / "ttyTHERMO", noise_c=0.0) as sim:
        sim.set_target(35.5, 21.0)
        ok, message = self_check(cfg, seconds=0.5)
    assert ok and "at 9600 baud" in message and "ambient 21.00 °C" in message
    off = cfg.replace(thermometer=dataclasses.replace(cfg.thermometer, enabled=False))
    assert self_check(off) == (False, "no thermometer configured ([thermometer] enabled = false)")
