"""A kiosk's identity: `kiosk run` refuses a config that has none yet (exit 78, which systemd does not
restart), and `kiosk retire-log` is the one way to give a used pass log's kiosk a new id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from kiosk.core.records import Record
from kiosk.passlog.store import PassLog
from kiosk.statefiles import SYNC_STATE
from tests.paths import REPO


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=60,
                          cwd=REPO, env={k: v for k, v in os.environ.items() if k != "KIOSK_CONFIG"})


def config(tmp_path: Path, kiosk_id: str | None) -> Path:
    ident = f'id = "{kiosk_id}"\ncompound = "c1"\n' if kiosk_id else ""
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\n{ident}state_dir = "{tmp_path / "state"}"\nruntime_dir = "{tmp_path / "run"}"\n'
                    '[gpio]\npin_factory = "mock"\n[thermometer]\nenabled = false\n[camera]\nenabled = false\n'
                    '[voice]\nbackend = "none"\n', encoding="utf-8")
    return path


def used_log(tmp_path: Path, kiosk_id: str, n: int, acked: int) -> Path:
    db = tmp_path / "state" / "passes.db"
    clock = FakeClock()
    with PassLog(db, kiosk_id=kiosk_id, gate="main", direction="in", clock=clock) as log:
        for _ in range(n):
            log.append(Record(kind="pass", t=clock.monotonic(), decision="manual_pass", cause="no_code"))
        epoch = log.db_epoch
    (tmp_path / "state" / SYNC_STATE).write_text(json.dumps({"version": 1, "kiosk_id": kiosk_id,
                                                             "acked_through": {epoch: acked}}))
    return db


def test_the_example_config_as_installed_does_not_start_and_creates_nothing(tmp_path: Path) -> None:
    example = (REPO / "config" / "kiosk.example.toml").read_text(encoding="utf-8")
    path = tmp_path / "kiosk.toml"
    path.write_text(example.replace('state_dir = "/var/lib/kiosk"', f'state_dir = "{tmp_path / "state"}"')
                    .replace('runtime_dir = "/run/kiosk"', f'runtime_dir = "{tmp_path / "run"}"')
                    .replace('pin_factory = "lgpio"', 'pin_factory = "mock"'), encoding="utf-8")
    proc = kiosk("run", "--config", str(path))
    assert proc.returncode == 78, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "does not set kiosk.id, kiosk.compound yet" in line
    assert not (tmp_path / "state" / "passes.db").exists()


def test_a_new_id_on_a_used_log_is_refused_until_retire_log_moves_the_old_log_aside(tmp_path: Path) -> None:
    db = used_log(tmp_path, "kiosk-01", n=4, acked=2)
    path = config(tmp_path, "north-gate-3")
    proc = kiosk("run", "--config", str(path))
    assert proc.returncode == 78 and "belongs to kiosk 'kiosk-01'" in proc.stderr and "kiosk retire-log" in proc.stderr
    proc = kiosk("retire-log", "--config", str(path))
    assert proc.returncode == 1 and "2 records of kiosk 'kiosk-01' are not on the street server" in proc.stderr
    assert db.exists()
    proc = kiosk("retire-log", "--config", str(path), "--force")
    assert proc.returncode == 0, proc.stderr
    (retired,) = (tmp_path / "state" / "retired").iterdir()
    assert retired.name.endswith("-kiosk-01") and str(retired) in proc.stdout
    assert {"passes.db", SYNC_STATE} <= {p.name for p in retired.iterdir()} <= {
        "passes.db", "passes.db-wal", "passes.db-shm", SYNC_STATE}               # the log moves whole
    assert not list((tmp_path / "state").glob("passes.db*")) and not (tmp_path / "state" / SYNC_STATE).exists()
    clock = FakeClock()
    with PassLog(db, kiosk_id="north-gate-3", gate="main", direction="in", clock=clock) as log:
        assert log.last_seq == 0                  # a new log, under the new id
    again = kiosk("retire-log", "--config", str(path))
    assert again.returncode == 1 and "already belongs to kiosk 'north-gate-3'" in again.stderr


@pytest.mark.parametrize("case", ["running", "no log"])
def test_retire_log_refuses_a_running_kiosk_and_a_missing_log(tmp_path: Path, case: str) -> None:
    path = config(tmp_path, "north-gate-3")
    if case == "running":
        used_log(tmp_path, "kiosk-01", n=1, acked=1)
        from kiosk.statefiles import write_status
        (tmp_path / "run").mkdir()
        write_status(tmp_path / "run" / "status.json", {"pid": os.getpid(), "written": __import__("time").time()})
    proc = kiosk("retire-log", "--config", str(path))
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert ("the kiosk is running" if case == "running" else "no pass log at") in proc.stderr
