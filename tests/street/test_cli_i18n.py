"""`street-server` speaks Chinese to the office unless asked for English (--lang, $STREET_LANG);
the lines programs read (the printed credential, tab-separated lists) do not change."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from street import cli


def street(*args: str, lang: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "STREET_LANG"}   # the suite sets English (conftest)
    if lang is not None:
        env["STREET_LANG"] = lang
    return subprocess.run([sys.executable, "-m", "street.cli", *args], capture_output=True, text=True, timeout=60,
                          env=env)


def test_chinese_by_default_english_when_asked_and_the_credential_unchanged(tmp_path: Path) -> None:
    db = str(tmp_path / "street.db")
    zh = street("kiosk", "add", "cp-001", "--db", db)
    assert zh.returncode == 0 and re.fullmatch(r"kiosk-key ed25519 \S{44}\nserver-key ed25519 \S{44}\n", zh.stdout)
    assert zh.stderr.startswith("street-server: 闸机 cp-001 已登记。它的凭据（闸机私钥和本服务器公钥）只显示这一次")
    en = street("kiosk", "add", "cp-002", "--db", db, "--lang", "en")
    assert en.stderr.startswith("street-server: kiosk cp-002 registered. Its credential")
    assert re.fullmatch(r"kiosk-key ed25519 \S{44}\nserver-key ed25519 \S{44}\n", en.stdout)
    listed = street("--lang=en", "kiosk", "list", "--db", db)
    rows = "cp-001\tactive\t\t\t\t\ncp-002\tactive\t\t\t\t\n"
    assert listed.stdout == street("kiosk", "list", "--db", db).stdout == rows
    missing = str(tmp_path / "none.db")
    assert street("kiosk", "list", "--db", missing).stderr == (
        f"street-server kiosk: {missing} 处没有街道数据库（请检查 --db；`street-server serve` 或 "
        "`street-server kiosk add` 会创建）\n")
    assert street("kiosk", "list", "--db", missing, lang="en").stderr.startswith(
        f"street-server kiosk: no street database at {missing} (check --db;")


@pytest.mark.parametrize("args, env, line", [
    (["--lang", "jp", "kiosk", "list"], None, "street-server: unknown language 'jp': choose one of zh, en"),
    (["kiosk", "list", "--lang"], None, "street-server: unknown language '': choose one of zh, en"),
    (["kiosk", "list"], "C.UTF-8", "street-server: $STREET_LANG: unknown language 'C.UTF-8': choose one of zh, en"),
])
def test_a_language_that_does_not_exist_is_one_clear_line(args: list[str], env: str | None, line: str) -> None:
    proc = street(*args, lang=env)
    assert (proc.returncode, proc.stderr, proc.stdout) == (2, line + "\n", "")


@pytest.mark.parametrize("argv, zh, en", [
    (["serve", "--port", "70000"], "--port 70000 不是有效的端口号", "--port 70000 is not a port number"),
    (["serve", "--tz", "Mars/Olympus"], "--tz 'Mars/Olympus' 不是已知的时区",
     "--tz 'Mars/Olympus' is not a known time zone"),
    (["db", "migrate-to", "mysql://x"], "'mysql://x' 不是 postgresql:// 地址",
     "'mysql://x' is not a postgresql:// URL"),
])
def test_serve_and_db_errors_in_both_languages(argv: list[str], zh: str, en: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("STREET_LANG", raising=False)
    db = ["--db", str(tmp_path / "street.db")]
    assert cli.main([*argv, *db]) == 1
    assert capsys.readouterr().err == f"street-server {argv[0]}: {zh}\n"
    assert cli.main([*argv, *db, "--lang", "en"]) == 1
    assert capsys.readouterr().err == f"street-server {argv[0]}: {en}\n"


def test_roster_and_duty_problems_name_the_line_in_the_readers_language(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("STREET_LANG", raising=False)
    db = str(tmp_path / "street.db")
    roster = tmp_path / "roster.csv"
    roster.write_text("kiosk_id,street,compound,gate\ncp-1,S07,C01,north\ncp-1,S07,C01,south\n", encoding="utf-8")
    out = ["--db", db, "--out", str(tmp_path / "creds")]
    assert cli.main(["kiosk", "import", str(roster), *out]) == 1
    assert capsys.readouterr().err == f"street-server kiosk: {roster} 第 3 行：闸机编号 cp-1 在第 2 行也出现了\n"
    assert cli.main(["--lang", "en", "kiosk", "import", str(roster), *out]) == 1
    assert capsys.readouterr().err == f"street-server kiosk: {roster} line 3: kiosk id cp-1 is also on line 2\n"

    roster.write_text("kiosk_id,street,compound,gate\ncp-1,S07,C01,north\n", encoding="utf-8")
    assert cli.main(["kiosk", "import", str(roster), *out]) == 0
    assert capsys.readouterr().err.startswith("street-server: 已登记 1 台闸机，分属 1 个街道、1 个小区；")
    duty = tmp_path / "duty.csv"
    duty.write_text("kiosk_id,from,to\ncp-1,07:00,12:00\ncp-1,11:00,19:00\n", encoding="utf-8")
    assert cli.main(["duty", "import", str(duty), "--db", db]) == 1
    assert capsys.readouterr().err == (f"street-server duty: 值班表 {duty} 第 3 行：cp-1 的 11:00–19:00 与 "
                                       "07:00–12:00 重叠\n")


def test_office_accounts_and_places_answer_in_the_readers_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import io
    monkeypatch.delenv("STREET_LANG", raising=False)
    db = ["--db", str(tmp_path / "street.db")]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["user", "add", "ann", "--role", "district", *db]) == 1
    assert capsys.readouterr().err.startswith("street-server user: 密码必须有 ")
    assert cli.main(["kiosk", "add", "cp-9", "--compound", "C01", *db]) == 1
    assert capsys.readouterr().err == "street-server kiosk: 给了小区 'C01'，却没有给它所属的街道\n"
    assert cli.main(["kiosk", "add", "cp-9", "--compound", "C01", "--lang", "en", *db]) == 1
    assert capsys.readouterr().err == "street-server kiosk: compound 'C01' is given without its street\n"
