"""The `kiosk` command line: bad input gets one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from kiosk.core.records import Record
from kiosk.passlog.store import PassLog
from tests.paths import REPO


def kiosk(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env={**os.environ, **(env or {})})


def one_clear_line(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("toml, needle", [
    ("[gpio]\npin_factory = \"mock\"\nrelay_pin = 99\n", "gpio.relay_pin = 99 is out of range"),
    ("[gpio]\npin_factory = \"mock\"\nled_red_pin = 17\n", "pin already used by gpio.relay_pin"),
    ("[gpio]\npin_factory = \"mock\"\nrelay_pim = 4\n", "gpio.relay_pim is not a known key"),
    ("[gpio\n", "not valid TOML"),
])
def test_broken_configs(tmp_path: Path, toml: str, needle: str) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text(toml)
    one_clear_line(kiosk("run", "--config", str(cfg)), needle)
    one_clear_line(kiosk("demo", "--config", str(cfg)), needle)


def test_config_from_environment_and_missing_file(tmp_path: Path) -> None:
    one_clear_line(kiosk("run", env={"KIOSK_CONFIG": str(tmp_path / "nope.toml")}), "nope.toml not found")


def test_demo_refuses_real_hardware_config(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text("[gpio]\npin_factory = \"lgpio\"\n")
    one_clear_line(kiosk("demo", "--config", str(cfg)), "needs stand-in hardware")


def test_unwritable_database_path(tmp_path: Path) -> None:
    one_clear_line(kiosk("demo", "--residents", "1", "--db", "/proc/forbidden/p.db"), "cannot open pass log")


def test_unknown_command_and_bad_arguments() -> None:
    proc = kiosk("fly")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr and "Traceback" not in proc.stderr
    proc = kiosk("demo", "--residents", "many")
    assert proc.returncode == 2 and "invalid int value" in proc.stderr


def _log_with_records(path: Path) -> None:
    clock = FakeClock()
    with PassLog(path, kiosk_id="k", gate="g", direction="in", clock=clock) as log:
        log.append(Record(kind="pass", t=clock.monotonic(), decision="manual_pass", cause="no_code"))
        clock.advance(86400 * 2)
        log.append(Record(kind="fault", t=clock.monotonic(), device="camera", detail="no frames"))


def test_export_csv_and_json(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    _log_with_records(db)
    proc = kiosk("export", "--db", str(db), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["decision"] for r in rows] == ["manual_pass", ""] and rows[0]["wall_time"].endswith("+08:00")
    proc = kiosk("export", "--db", str(db), "--format", "json", "--since", "2026-05-30")
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["kind"] for line in lines] == ["fault"]
    # --since without a zone is the kiosk's local time (Asia/Shanghai unless told), not UTC
    local = dt.datetime.fromtimestamp(lines[0]["wall_ts"], dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=8)
    before, after = (local - dt.timedelta(minutes=1)).isoformat(), (local + dt.timedelta(minutes=1)).isoformat()
    assert kiosk("export", "--db", str(db), "--format", "json", "--since", before).stdout.count("\n") == 1
    assert kiosk("export", "--db", str(db), "--format", "json", "--since", after).stdout == ""
    utc = kiosk("export", "--db", str(db), "--tz", "UTC").stdout
    assert next(iter(csv.DictReader(io.StringIO(utc))))["wall_time"].endswith("+00:00")
    one_clear_line(kiosk("export", "--db", str(db), "--tz", "Mars/Olympus"), "--tz = 'Mars/Olympus' is not a known")
    one_clear_line(kiosk("export", "--db", str(db), "--since", "yesterday"), "--since 'yesterday' is not an ISO date")
    one_clear_line(kiosk("export", "--db", str(tmp_path / "none.db")), "does not exist")


def test_run_starts_on_standin_hardware_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    journal = tmp_path / "gpio.jsonl"
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'[kiosk]\nid = "k1"\ncompound = "c1"\nstate_dir = "{tmp_path}/state"\n'
                   '[gpio]\npin_factory = "mock"\n'
                   f'mock_journal = "{journal}"\n'
                   '[thermometer]\nenabled = false\n[camera]\nenabled = false\n[voice]\nbackend = "none"\n')
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(cfg)], cwd=REPO,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:                 # wait for the ready line (no sleeps)
        if "ready" in line:
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    relay = [json.loads(line)["state"] for line in journal.read_text().splitlines() if '"relay"' in line]
    assert relay and relay[-1] == 0
    assert (tmp_path / "state" / "passes.db").exists()


def test_a_file_that_is_not_a_pass_log_is_named_not_an_internal_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("this is not a database at all\n" * 200)
    empty = tmp_path / "other.db"
    import sqlite3
    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.close()
    for args in (["export", "--db", str(junk)], ["audit", "verify", "--db", str(junk)]):
        proc = kiosk(*args)
        one_clear_line(proc, str(junk), "not an SQLite database")
        assert proc.returncode == 1 and proc.stdout == ""       # not even a CSV header first
    one_clear_line(kiosk("export", "--db", str(empty)), str(empty), "not a pass log")


def test_output_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    """`kiosk export | head -1` used to end with "[Errno 32] Broken pipe" on stderr."""
    db = tmp_path / "p.db"
    clock = FakeClock()
    with PassLog(db, kiosk_id="k", gate="g", direction="in", clock=clock) as log:
        log.write([log.stamp(Record(kind="pass", t=clock.monotonic(), decision="manual_pass", cause="no_code",
                                    detail="x" * 200)) for _ in range(2000)])          # ≫ a pipe's 64 KiB
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "export", "--db", str(db)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"wall_time,seq")
    proc.stdout.close()                       # what `head -1` does after its line
    assert proc.wait(timeout=60) == 141 and proc.stderr.read() == b""
