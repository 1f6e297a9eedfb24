"""What the kiosk prints to a person is Chinese by default and English when asked; every message
has its Chinese; machine-readable output stays as it is; Babel stays a developer's tool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import i18n
from kiosk.cli import main as cli
from kiosk.cli.status import render
from tests import catalogues
from tests.paths import REPO


@pytest.fixture
def default_language(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a kiosk: no $KIOSK_LANG (the suite sets it to English, tests/conftest.py)."""
    monkeypatch.delenv("KIOSK_LANG", raising=False)
    i18n.use(None)


def kiosk(*args: str, lang: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_LANG"}
    if lang is not None:
        env["KIOSK_LANG"] = lang
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=60,
                          cwd=REPO, env=env)


def test_every_message_in_the_code_has_a_chinese_translation(tmp_path: Path) -> None:
    assert len(catalogues.po("kiosk")) > 150
    assert catalogues.untranslated("kiosk", tmp_path) == []   # docs/i18n.md: pybabel extract, update, translate
    assert catalogues.placeholder_mismatches("kiosk") == []
    assert not catalogues.compiled_differs("kiosk"), "run: pybabel compile -d kiosk/i18n -D kiosk"


def test_a_real_command_speaks_chinese_by_default_and_english_when_asked(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.toml")
    zh = kiosk("status", "--config", missing)
    assert (zh.returncode, zh.stderr) == (1, f"kiosk status: 找不到配置文件 {missing}（请用 --config 路径 指定，"
                                             "或设置 KIOSK_CONFIG）\n")
    english = f"kiosk status: config file {missing} not found (pass --config PATH or set KIOSK_CONFIG)\n"
    assert kiosk("--lang", "en", "status", "--config", missing).stderr == english
    assert kiosk("status", "--config", missing, "--lang=en").stderr == english
    assert kiosk("status", "--config", missing, lang="en").stderr == english
    assert kiosk("--lang", "zh", "status", "--config", missing, lang="en").stderr == zh.stderr   # the option wins


@pytest.mark.parametrize("args, env, code, line", [
    (["--lang", "fr", "status"], None, 2, "kiosk: unknown language 'fr': choose one of zh, en"),
    (["status", "--lang"], None, 2, "kiosk: --lang needs a language: choose one of zh, en"),
    (["status"], "zh_CN.UTF-8", 78, "kiosk: $KIOSK_LANG: unknown language 'zh_CN.UTF-8': choose one of zh, en"),
])
def test_a_language_that_does_not_exist_is_one_clear_line(args: list[str], env: str | None, code: int,
                                                         line: str) -> None:
    proc = kiosk(*args, lang=env)
    assert (proc.returncode, proc.stderr, proc.stdout) == (code, line + "\n", "")


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\nid = "k-1"\ncompound = "c-1"\nstate_dir = "{tmp_path / "state"}"\n'
                    f'runtime_dir = "{tmp_path / "run"}"\n', encoding="utf-8")
    return path


def test_output_follows_the_language_and_json_stays_as_it_is(tmp_path: Path, default_language: None,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = str(_config(tmp_path))
    assert cli.main(["recover", "--config", config]) == 0
    assert capsys.readouterr().out == "没有等待恢复的隔离通行日志\n"
    assert cli.main(["recover", "--config", config, "--lang", "en"]) == 0
    assert capsys.readouterr().out == "no quarantined pass log waits for recovery\n"

    status = {"running": True, "kiosk_id": "k-1", "gate": "east", "state": "idle",
              "faults": {"thermometer": "silent"}, "clock_synced": False, "held_records": 0, "lost_records": 0,
              "version": "0.1.0", "pid": 42}
    i18n.use("zh")
    zh = render(status)
    assert zh.splitlines()[0] == "闸机 k-1（east 号门）：运行中"
    assert "\n  时钟同步: 否\n" in zh and "\n  值班:     无人\n" in zh     # aligned by display width
    i18n.use("en")
    assert "  clock synced: NO" in render(status) and "  on duty:      nobody" in render(status)

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "status.json").write_text(json.dumps({**status, "written": 0}), encoding="utf-8")
    i18n.use(None)
    cli.main(["status", "--config", config, "--json"])
    assert json.loads(capsys.readouterr().out)["faults"] == {"thermometer": "silent"}   # JSON: as written


def test_the_kiosk_never_imports_babel_and_loads_no_catalogue_before_it_prints(tmp_path: Path) -> None:
    """Babel is a dev/test tool; `kiosk run`'s start path reads no .mo (issue 17 cuts its start-up)."""
    probe = ("import sys\n"
             "import kiosk.cli.run, kiosk.service.assembly, kiosk.config\n"
             "from kiosk import i18n\n"
             "assert i18n.translations.cache_info().currsize == 0, 'a catalogue was read at import'\n"
             "from kiosk.cli.main import main\n"
             f"main(['recover', '--config', {str(_config(tmp_path))!r}])\n"
             "assert i18n.translations.cache_info().currsize == 1\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'babel'))\n")
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_LANG"}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["没有等待恢复的隔离通行日志", "[]"]


@pytest.mark.parametrize("table, zh, en", [
    ({"gpio": {"relay_pin": 14}}, "gpio.relay_pin = 14：GPIO14 是串口 TXD（测温仪）；请换一个引脚",
     "gpio.relay_pin = 14: GPIO14 is the UART TXD (thermometer); pick another pin"),
    ({"door": {"more_doors": "balcony:99"}}, "door.more_doors：'balcony:99' 不是 '名称:BCM'",
     "door.more_doors: 'balcony:99' is not 'name:BCM'"),
    ({"kiosk": {"tz": 1}}, "kiosk.tz 不是已知的配置项", "kiosk.tz is not a known key"),
])
def test_config_errors_are_worded_for_the_reader(table: dict[str, dict[str, object]], zh: str, en: str) -> None:
    from kiosk import config as config_mod
    from kiosk.errors import ConfigError
    try:
        for lang, want in (("zh", zh), ("en", en)):
            i18n.use(lang)
            with pytest.raises(ConfigError) as caught:
                config_mod.from_dict(table)
            assert str(caught.value).startswith(want)
    finally:
        i18n.use(None)
