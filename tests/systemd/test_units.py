"""systemd units and the installer, checked with systemd's own tools in scratch directories."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

UNITS = ["kiosk.service", "kiosk-door.service", "kiosk-sync.service", "kiosk-sync.timer", "street-server.service"]
needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd not installed")


def rendered_units(tmp_path: Path) -> Path:
    """The units with /opt/kiosk/venv pointing at this test venv, so ExecStart= binaries exist."""
    venv = Path(sys.executable).parent.parent
    out = tmp_path / "units"
    out.mkdir()
    for unit in UNITS:
        text = (REPO / "systemd" / unit).read_text().replace("/opt/kiosk/venv", str(venv))
        (out / unit).write_text(text)
    return out


@needs_systemd
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    units = rendered_units(tmp_path)
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", *UNITS], cwd=units,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


@needs_systemd
@pytest.mark.parametrize("unit", ["kiosk.service", "kiosk-door.service", "kiosk-sync.service", "street-server.service"])
def test_units_are_rated_ok_by_systemd_analyze_security(tmp_path: Path, unit: str) -> None:
    units = rendered_units(tmp_path)
    proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", unit], cwd=units,
                          capture_output=True, text=True)
    verdict = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", proc.stdout)
    assert verdict, proc.stdout[-500:] + proc.stderr
    assert verdict.group(2) in ("OK", "SAFE") and float(verdict.group(1)) <= 4.0


def test_kiosk_unit_keeps_devices_visible_and_pings_the_watchdog() -> None:
    text = (REPO / "systemd" / "kiosk.service").read_text()
    keys = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
    assert keys["Type"] == "notify" and int(keys["WatchdogSec"]) > 0 and keys["Restart"] == "on-failure"
    assert "PrivateDevices" not in keys          # would hide /dev/gpiochip*, /dev/tty*, /dev/video*
    assert set(keys["SupplementaryGroups"].split()) == {"gpio", "dialout", "video", "audio"}
    assert keys["WorkingDirectory"] == "/var/lib/kiosk"   # lgpio writes its pipes into the CWD
    sync = (REPO / "systemd" / "kiosk-sync.service").read_text()
    assert "LoadCredential=kiosk.secret:/etc/kiosk/credentials/kiosk.secret" in sync


@needs_systemd
def test_install_into_a_scratch_root_and_uninstall(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    root_pub = tmp_path / "root.pub"
    root_pub.write_text("-----BEGIN PUBLIC KEY-----\n...\n")
    street_ca = tmp_path / "ca.crt"
    street_ca.write_text("-----BEGIN CERTIFICATE-----\n...\n")
    install = [str(REPO / "systemd" / "install.sh"), "--root", str(root)]
    proc = subprocess.run([*install, "--secret", str(secret), "--root-key", str(root_pub), "--street-ca",
                           str(street_ca)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (root / "etc/kiosk/root.pub").read_text() == root_pub.read_text()
    assert (root / "etc/kiosk/street-ca.crt").read_text() == street_ca.read_text()
    assert 'root_key = "/etc/kiosk/root.pub"' in (root / "etc/kiosk/kiosk.toml").read_text()
    assert (root / "var/lib/kiosk").is_dir()
    etc = root / "etc"
    assert re.search(r"^kiosk:x:\d+:\d+:", (etc / "passwd").read_text(), re.M)
    groups = (etc / "group").read_text()
    for group in ("gpio", "dialout", "video", "audio"):
        assert re.search(rf"^{group}:x:\d+:.*\bkiosk\b", groups, re.M), group
    for unit in UNITS:
        assert (etc / "systemd" / "system" / unit).read_text() == (REPO / "systemd" / unit).read_text()
    assert (etc / "systemd/system/multi-user.target.wants/kiosk.service").is_symlink()
    assert (etc / "systemd/system/timers.target.wants/kiosk-sync.timer").is_symlink()
    assert not (etc / "systemd/system/multi-user.target.wants/street-server.service").exists()
    creds = etc / "kiosk" / "credentials"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o700
    assert stat.S_IMODE((creds / "kiosk.secret").stat().st_mode) == 0o600
    # the installed config is the example (with the trust anchor set), and a second run keeps edits
    config = etc / "kiosk" / "kiosk.toml"
    example = (REPO / "config" / "kiosk.example.toml").read_text()
    assert config.read_text() == example.replace("# root_key = <unset>", 'root_key = "/etc/kiosk/root.pub"').replace(
        "# ca_file = <unset>", 'ca_file = "/etc/kiosk/street-ca.crt"')
    assert '\n# id = "kiosk-01"\n' in config.read_text()         # the id is the technician's to set
    config.write_text(config.read_text().replace('# id = "kiosk-01"', 'id = "north-gate-3"'))
    proc = subprocess.run(install, capture_output=True, text=True)
    assert proc.returncode == 0 and "keeping existing" in proc.stdout
    assert 'id = "north-gate-3"' in config.read_text()
    # uninstall keeps configuration and data unless --purge
    proc = subprocess.run([*install, "--uninstall"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not (etc / "systemd/system/kiosk.service").exists() and config.exists()
    assert not (etc / "systemd/system/multi-user.target.wants/kiosk.service").exists()
    subprocess.run([*install, "--uninstall", "--purge"], check=True, capture_output=True)
    assert not (etc / "kiosk").exists()


def test_installer_refuses_unknown_options_and_non_root() -> None:
    proc = subprocess.run([str(REPO / "systemd" / "install.sh"), "--frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown option --frobnicate" in proc.stderr
    for args, message in ((["--secret"], "--secret needs a value"),
                          (["--secret", "--root-key", "x"], "--secret needs a value"),
                          (["--root-key", "/nonexistent/r.pub"], "--root-key /nonexistent/r.pub: no such readable"),
                          (["--root", "/nonexistent/dir"], "--root /nonexistent/dir: no such directory")):
        proc = subprocess.run([str(REPO / "systemd" / "install.sh"), *args], capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stderr.startswith(f"install.sh: {message}"), (args, proc.stderr)
        assert len(proc.stderr.splitlines()) == 1 and "parameter not set" not in proc.stderr
    if os.geteuid() != 0:
        proc = subprocess.run([str(REPO / "systemd" / "install.sh")], capture_output=True, text=True)
        assert proc.returncode == 1 and "run as root" in proc.stderr


def test_installer_help_is_the_usage_not_the_script() -> None:
    proc = subprocess.run([str(REPO / "systemd" / "install.sh"), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("Install (or remove) the checkpoint kiosk")
    assert "set -eu" not in proc.stdout and "#" not in proc.stdout and "--root-key FILE" in proc.stdout


def test_kiosk_unit_does_not_restart_a_kiosk_that_is_not_configured() -> None:
    keys = dict(re.findall(r"^(\w+)=(.*)$", (REPO / "systemd" / "kiosk.service").read_text(), re.M))
    assert keys["RestartPreventExitStatus"] == "78"      # kiosk run's exit status for "not configured"


def test_kiosk_unit_sets_only_the_malloc_setting_that_paid() -> None:
    """bench/malloc.py: the fixed mmap threshold lowered the kiosk's RSS; a capped arena count did not."""
    env = [line.split("=", 1)[1] for line in (REPO / "systemd" / "kiosk.service").read_text().splitlines()
           if line.startswith("Environment=")]
    assert "MALLOC_MMAP_THRESHOLD_=131072" in env and not any(e.startswith("MALLOC_ARENA_MAX") for e in env)
