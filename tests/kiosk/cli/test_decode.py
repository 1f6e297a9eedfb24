"""`kiosk decode IMAGE...`: one JSON line per image, errors as lines, never a traceback."""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from hardware_mocks.camera import CATEGORIES, Look, render, render_scene
from kiosk.cli.main import main

TEXT = "GK1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK"


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    rng = random.Random(1)
    out = {}
    for name, payload, look in (
        ("text.png", TEXT, CATEGORIES["clean"](rng)),
        ("dark.jpg", TEXT, CATEGORIES["dark_mode"](rng)),
        ("chinese.png", "健康码 绿码", Look(module_px=6.0)),
        ("binary.png", b"\x80\x00\xff" + bytes(range(40)), Look(module_px=6.0)),
    ):
        assert cv2.imwrite(str(tmp_path / name), render(payload, look, rng, size=(960, 540)))
        out[name] = tmp_path / name
    cv2.imwrite(str(tmp_path / "empty.png"), render_scene(rng, (320, 240)))
    out["empty.png"] = tmp_path / "empty.png"
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    out["corrupt.png"] = tmp_path / "corrupt.png"
    (tmp_path / "zero.jpg").write_bytes(b"")
    out["zero.jpg"] = tmp_path / "zero.jpg"
    return out


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]], str]:
    code = main(["decode", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_one_json_line_per_image(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    names = ["text.png", "dark.jpg", "chinese.png", "binary.png", "empty.png"]
    code, lines, err = run(capsys, *(str(images[n]) for n in names))
    assert code == 0 and err.startswith("kiosk decode: 5 images (0 errors, 4 with a code); start-up ")
    assert len(err.splitlines()) == 1 and "decoding median" in err
    assert [line["file"] for line in lines] == [str(images[n]) for n in names]
    by = {Path(str(line["file"])).name: line for line in lines}
    assert by["text.png"]["payloads"] == [TEXT]
    assert by["dark.jpg"]["payloads"] == [TEXT]
    assert by["chinese.png"]["payloads"] == ["健康码 绿码"]
    payloads = by["binary.png"]["payloads"]
    assert isinstance(payloads, list)
    [binary] = payloads
    assert isinstance(binary, dict) and base64.b64decode(binary["base64"]) == b"\x80\x00\xff" + bytes(range(40))
    assert by["empty.png"]["payloads"] == []
    for line in lines:
        assert set(line) == {"file", "payloads", "ms"}
        assert isinstance(line["ms"], float) and line["ms"] >= 0


def test_bad_images_are_error_lines_and_the_command_goes_on(
        images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "missing.png")
    code, lines, err = run(capsys, missing, str(images["corrupt.png"]), str(images["zero.jpg"]),
                           str(tmp_path), str(images["text.png"]))
    assert code == 1 and err.startswith("kiosk decode: 5 images (4 errors, 1 with a code)")
    assert [line.get("error") for line in lines] == [
        "no such file", "not an image OpenCV can read", "empty file", "is a directory", None]
    assert lines[-1]["payloads"] == [TEXT]


def test_usage_errors_are_one_line_not_a_traceback() -> None:
    out = subprocess.run([sys.executable, "-m", "kiosk", "decode"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "IMAGE" in out.stderr


def test_a_hundred_images_report_start_up_apart_from_each_image(images: dict[str, Path], tmp_path: Path) -> None:
    """The real command in its own process: start-up (interpreter, imports, engines) is paid once
    and reported on stderr; each image's ``ms`` is its decoding alone."""
    files = [str(images[n]) for n in ("text.png", "dark.jpg", "chinese.png", "binary.png", "empty.png")] * 20
    out = subprocess.run([sys.executable, "-m", "kiosk", "decode", *files], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == 100 and sum(1 for line in lines if line["payloads"]) == 80
    [summary] = out.stderr.splitlines()
    assert summary.startswith("kiosk decode: 100 images (0 errors, 80 with a code); start-up ")
    startup_ms = float(summary.split("start-up ")[1].split(" ms")[0])
    assert startup_ms > 0 and "decoding median" in summary
