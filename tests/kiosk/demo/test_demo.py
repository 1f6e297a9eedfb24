"""`kiosk demo` end to end: the scripted crowd through the real loop, devices and log."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path


def test_demo_json_summary_counts_every_path(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    out = subprocess.run([sys.executable, "-m", "kiosk", "demo", "--residents", "14", "--json", "--db", str(db)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["db"] == str(db.resolve())
    assert summary["passes"] >= 14
    decisions = summary["by_decision"]
    for decision in ("pass", "deny", "manual_pass", "manual_deny", "emergency_open"):
        assert decisions.get(decision, 0) >= 1, decisions
    assert summary["by_cause"]["fever"] == 1 and summary["by_cause"]["cold"] == 1
    # the embedded street server holds exactly the kiosk's records (the demo checks digests too)
    assert summary["server_records"] == summary["records"] and summary["duplicates"] == 0
    # the codes are real GK1 codes, verified by the kiosk (issue #5)
    for reason in ("ok", "yellow", "red", "expired", "bad_signature", "replay", "wrong_scope", "revoked"):
        assert summary["by_reason"].get(reason, 0) >= 1, summary["by_reason"]
    conn = sqlite3.connect(db)
    kinds = [k for (k,) in conn.execute("SELECT kind FROM records ORDER BY seq")]
    conn.close()
    assert kinds[0] == "shift_start" and kinds[-1] == "shift_end"    # a volunteer badge opens and closes the shift


def test_demo_with_a_config_of_ones_own_keeps_the_demos_pacing_and_says_so(tmp_path: Path, capsys) -> None:
    """A laptop config with the product's 180 s rest made 12 residents take 7 minutes, silently."""
    import argparse

    from kiosk.demo.director import demo_config
    path = tmp_path / "mine.toml"
    path.write_text(f'[kiosk]\nid = "mine"\nstate_dir = "{tmp_path / "state"}"\n[gpio]\npin_factory = "mock"\n'
                    '[flow]\nrest_s = 180.0\n', encoding="utf-8")
    cfg = demo_config(argparse.Namespace(config=str(path), db=None))
    assert (cfg.flow.rest_s, cfg.flow.result_hold_s, cfg.flow.shift_min_s, cfg.gpio.gate_pulse_s) == (1, 1, 10, 1)
    assert cfg.kiosk.id == "mine" and cfg.gpio.pin_factory == "mock"      # the rest is the config's
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "flow.rest_s 180 → 1 s" in err[0] and str(path) in err[0]
