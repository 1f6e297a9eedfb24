"""The running kiosk's control socket, on real mock pins and a real SQLite log: the self-test leaves
a resident at the gate alone, and the stand-in panel presses a button with real pin edges."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.clock import SystemClock
from kiosk.config import Config
from kiosk.core.verdict import CodeVerdict
from kiosk.passlog.reader import connect_readonly
from kiosk.service.assembly import assembled
from kiosk.service.control import ControlServer, request
from kiosk.service.runtime import Kiosk


@pytest.fixture
def running(cfg: Config, tmp_path: Path) -> Iterator[tuple[Kiosk, Path]]:
    """A kiosk whose loop runs in a thread, with its control socket; as `kiosk run` has them."""
    stop = threading.Event()
    with assembled(cfg, SystemClock()) as kiosk, ControlServer(kiosk, tmp_path / "run" / "control.sock") as control:
        loop = threading.Thread(target=kiosk.run, args=(stop,), kwargs={"on_cycle": control.run_pending})
        loop.start()
        try:
            yield kiosk, control.path
        finally:
            stop.set()
            loop.join(timeout=10)


def relay_states(kiosk: Kiosk) -> list[bool]:
    return [s.state for s in kiosk.devices.factory.pin(kiosk.cfg.gpio.relay_pin).states]


def test_the_self_test_does_not_click_the_relay_on_a_resident(running: tuple[Kiosk, Path]) -> None:
    kiosk, path = running
    kiosk.inbox.code_read(CodeVerdict(reason="ok", kind="dynamic", colour="green", token_hash="t", holder_ref="h"))
    answers = list(request(path, {"do": "selftest"}))       # the resident is being measured meanwhile
    results = {a["result"]["name"]: a["result"] for a in answers if "result" in a}
    assert list(results) == ["GPIO", "gate relay", "LEDs and buzzer", "voice", "thermometer", "camera"]
    for name in ("gate relay", "LEDs and buzzer"):
        assert not results[name]["ok"] and "a resident is at the gate" in results[name]["detail"]
    assert True not in relay_states(kiosk) and answers[-1] == {"done": True}
    starts = [a["start"] for a in answers if "start" in a]
    assert starts == list(results)                           # each check announced before its result


def test_the_self_test_clicks_the_relay_once_on_a_free_gate(running: tuple[Kiosk, Path]) -> None:
    kiosk, path = running
    answers = list(request(path, {"do": "selftest"}))
    relay = next(a["result"] for a in answers if a.get("result", {}).get("name") == "gate relay")
    assert relay["ok"] and relay_states(kiosk)[-2:] == [True, False]
    assert relay_states(kiosk).count(True) == 1


def test_the_panel_presses_a_button_with_real_edges(running: tuple[Kiosk, Path]) -> None:
    kiosk, path = running
    done = threading.Event()
    kiosk.on_commit(lambda seq, rec: done.set() if rec.decision == "manual_pass" else None)
    assert list(request(path, {"do": "press", "button": "pass"})) == [{"ok": True, "button": "pass"}]
    assert done.wait(10)
    rows = connect_readonly(kiosk.store.path).execute("SELECT decision, cause FROM records").fetchall()
    assert [tuple(r) for r in rows] == [("manual_pass", "no_code")]
    (answer,) = request(path, {"do": "press", "button": "open"})
    assert answer["error"].startswith("no button 'open'")
    (answer,) = request(path, {"do": "reboot"})
    assert "unknown request" in answer["error"]


def test_a_real_panel_is_not_pressed_remotely(cfg: Config, tmp_path: Path) -> None:
    import dataclasses
    with assembled(cfg, SystemClock()) as kiosk:
        real = dataclasses.replace(kiosk.cfg, gpio=dataclasses.replace(kiosk.cfg.gpio, pin_factory="lgpio",
                                                                        mock_journal=None))
        kiosk.cfg = real
        server = ControlServer(kiosk, tmp_path / "c.sock")
        answer = server.press("pass")
        server.close()
    assert "only on stand-in hardware" in answer["error"]


def test_the_self_test_speaks_the_language_the_cli_asks_for(running: tuple[Kiosk, Path]) -> None:
    _kiosk, path = running
    zh = list(request(path, {"do": "selftest", "lang": "zh"}))
    notes = {a["start"]: a["note"] for a in zh if "start" in a}
    results = {a["result"]["name"]: a["result"] for a in zh if "result" in a}
    assert list(results) == ["GPIO", "gate relay", "LEDs and buzzer", "voice", "thermometer", "camera"]   # keys
    assert notes["gate relay"] == "现在让闸门继电器吸合 0.5 秒：请听“咔哒”声"
    assert results["GPIO"]["detail"].startswith("引脚驱动 mock：继电器、指示灯、蜂鸣器、功放和按钮由运行中的闸机")
    assert results["camera"]["detail"] == "未配置摄像头（[camera] enabled = false）"
    en = list(request(path, {"do": "selftest", "lang": "en"}))
    assert next(a["result"] for a in en if a.get("result", {}).get("name") == "camera")["detail"] == (
        "no camera configured ([camera] enabled = false)")
