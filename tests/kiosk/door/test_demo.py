"""`kiosk door demo --json`: a day at two doors, ending with one JSON line of what the office sees."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.paths import REPO


def test_the_demo_day_ends_with_the_board_and_exactly_once() -> None:
    out = subprocess.run([sys.executable, "-m", "kiosk", "door", "demo", "--json"], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["events"] == summary["server_events"] == summary["redelivered"] > 0
    assert summary["duplicates"] == 0
    assert summary["alerts"] == {"opened_outside_window": 1, "held_open": 1, "tamper": 1, "node_lost": 1}
    assert summary["acknowledged"] == 1
    states = {h["household"][:5]: h["status"] for h in summary["board"]["by_compound"]["s1/c1"]}
    assert states == {"hh-a1": "alert", "hh-b2": "node lost"}


def test_door_with_a_bad_config_is_one_line_and_no_traceback(tmp_path) -> None:
    cfg = tmp_path / "door.toml"
    cfg.write_text('[kiosk]\nid = "door-1"\n[door]\nhousehold = "Li Si, building 3"\nquarantine_start = "2026-12-01"\n'
                   'quarantine_end = "2026-12-15"\n')
    out = subprocess.run([sys.executable, "-m", "kiosk", "door", "run", "--config", str(cfg)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "door.household is not a household pseudonym" in out.stderr and "Li Si" not in out.stderr
