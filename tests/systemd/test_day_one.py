"""Day one at a gate, as the README's "Installing on a Raspberry Pi" walks it, in a scratch root.

The installer runs for real (`--root`), the units' commands run as systemd would start them
(`kiosk run`, `kiosk sync --once` with ``$CREDENTIALS_DIRECTORY``), the technician's edit is an
edit of the installed file, and the hardware is the stand-in site (pty thermometer, camera clip,
street server on 127.0.0.1) — the only changes a Pi would not need are the paths into the scratch
root and the stand-in devices. Then: self-test as documented, a volunteer's button from the
site's terminal, and a deliberate id change on the used log.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk import config as config_mod
from kiosk.devices.thermometer import port_of
from tests.paths import REPO
from tests.standin_support import standin_config

needs_systemd = pytest.mark.skipif(subprocess.run(["sh", "-c", "command -v systemd-sysusers"],
                                                  capture_output=True).returncode != 0,
                                   reason="systemd not installed")
WAIT_S = 60.0


class Lines:
    """A child's output stream, read by a thread; waits on a condition for a line to appear."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()

    def wait_for(self, pattern: str) -> str:
        def match() -> str | None:
            return next((x for x in self.lines if re.search(pattern, x)), None)

        with self._cv:
            found = self._cv.wait_for(match, timeout=WAIT_S)
        assert found, f"{pattern!r} never came; last lines: {self.lines[-8:]}"
        return found


def kiosk(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, **(env or {})})


def start_kiosk(config: Path) -> tuple[subprocess.Popen[str], Lines]:
    """What `systemctl restart kiosk` starts (ExecStart of kiosk.service)."""
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)], cwd=REPO,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    return proc, Lines(proc.stderr)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def set_key(text: str, section: str, key: str, value: str) -> str:
    """The technician's edit: in [section], the line ``key = …`` (or its commented form) becomes ``key = value``."""
    start = text.index(f"[{section}]\n")
    end = text.find("\n[", start + 1)
    end = len(text) if end < 0 else end
    body, n = re.subn(rf"^(# )?{key} = .*$", f"{key} = {value}", text[start:end], count=1, flags=re.M)
    assert n == 1, (section, key)
    return text[:start] + body + text[end:]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Lines, Path]]:
    """The stand-in site in its own terminal (stdin is that terminal's keyboard)."""
    config = standin_config(tmp_path / "site")
    proc = subprocess.Popen([sys.executable, "-m", "hardware_mocks.standin", "--config", str(config)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Lines(proc.stdout)
    try:
        out.wait_for("Ctrl-C")
        yield proc, out, config
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@needs_systemd
def test_install_configure_start_selftest_press_and_change_the_id(tmp_path: Path, site) -> None:
    site_proc, site_out, site_config = site
    standin = config_mod.load(site_config)
    secret, root_pub = standin.sync.secret_file, standin.codes.root_key
    assert secret is not None and root_pub is not None
    root = tmp_path / "root"
    root.mkdir()

    # 1. sudo ./systemd/install.sh --secret kiosk.secret --root-key root.pub
    installed = subprocess.run([str(REPO / "systemd" / "install.sh"), "--root", str(root), "--secret", str(secret),
                                "--root-key", str(root_pub)], capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr
    assert "the kiosk not started" in installed.stdout and "sudoedit /etc/kiosk/kiosk.toml" in installed.stdout
    config = root / "etc" / "kiosk" / "kiosk.toml"
    # a boot before the edit: the unit's command refuses in one line, with the status systemd does not restart
    early = kiosk("run", "--config", str(config))
    assert early.returncode == 78 and len(early.stderr.splitlines()) == 1 and "kiosk.id" in early.stderr

    # 2. sudoedit /etc/kiosk/kiosk.toml: this kiosk's id, compound and street server. The rest points the
    #    scratch root's kiosk at the stand-in site instead of a Pi's /var/lib, /run, GPIO and devices.
    state = root / "var" / "lib" / "kiosk"     # the site's panel finds the kiosk in the runtime dir they share
    os.chown(state, 0, 0)              # the scratch root's kiosk user is not the test's: run as the test
    text = config.read_text(encoding="utf-8")
    for section, key, value in (
            ("kiosk", "id", '"standin-kiosk"'), ("kiosk", "compound", '"standin-compound"'),
            ("sync", "server_url", f'"{standin.sync.server_url}"'),
            ("kiosk", "state_dir", f'"{state}"'), ("kiosk", "runtime_dir", f'"{standin.kiosk.runtime_dir}"'),
            ("gpio", "pin_factory", '"mock"'), ("gpio", "mock_journal", f'"{state / "gpio.jsonl"}"'),
            ("thermometer", "port", f'"{port_of(standin)}"'),
            ("camera", "source", f'"{standin.camera.source}"'), ("camera", "fps", "10.0"),
            ("codes", "root_key", f'"{root / "etc" / "kiosk" / "root.pub"}"'), ("voice", "device", '"null"')):
        text = set_key(text, section, key, value)
    config.write_text(text, encoding="utf-8")

    # 3. sudo systemctl restart kiosk kiosk-sync.timer: the kiosk comes up; the timer's first sync
    #    (kiosk-sync.service hands the secret over as a credential) fetches the street's bundle
    proc, err = start_kiosk(config)
    try:
        err.wait_for("kiosk standin-kiosk ready")
        synced = kiosk("sync", "--once", "--config", str(config),
                       env={"CREDENTIALS_DIRECTORY": str(root / "etc" / "kiosk" / "credentials")})
        assert synced.returncode == 0, synced.stderr

        # 4. sudo /opt/kiosk/venv/bin/kiosk selftest — while the kiosk runs, printed as it goes
        test = subprocess.Popen([sys.executable, "-m", "kiosk", "selftest", "--config", str(config)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = Lines(test.stdout)
        out.wait_for(r"^ ✓ gate relay")
        assert test.poll() is None                   # the first checks are out while the rest still run
        assert test.wait(timeout=WAIT_S) in (0, 1)
        out.wait_for(r"checks passed")
        lines = out.lines
        results = [x for x in lines if x.startswith((" ✓ ", " ✗ "))]
        failed = [x[3:19].strip() for x in results if x.startswith(" ✗ ")]
        assert len(results) == 13 and set(failed) <= {"clock synced"}, "\n".join(lines)
        assert any("running (pid" in x for x in results)                     # through the service
        note = next(i for i, x in enumerate(lines) if "listen for the click" in x)
        assert note < next(i for i, x in enumerate(lines) if x.startswith(" ✓ gate relay"))
        journal = (state / "gpio.jsonl").read_text().splitlines()
        assert sum('"relay"' in x and '"state": 1' in x for x in journal) == 1   # the self-test's click

        # 5. a volunteer's button, pressed from the site's terminal
        assert site_proc.stdin is not None
        site_proc.stdin.write("p\n")
        site_proc.stdin.flush()
        site_out.wait_for("panel: pass pressed")
        err.wait_for(r"decision manual_pass \(no_code\)")
        assert kiosk("sync", "--once", "--config", str(config),
                     env={"CREDENTIALS_DIRECTORY": str(root / "etc" / "kiosk" / "credentials")}).returncode == 0
    finally:
        stop(proc)

    # 6. a deliberate id change on the used log: refused at start (no restart loop), then
    #    `kiosk retire-log` moves the old id's log aside and the kiosk comes up under the new id
    config.write_text(set_key(config.read_text(encoding="utf-8"), "kiosk", "id", '"north-gate-3"'),
                      encoding="utf-8")
    refused = kiosk("run", "--config", str(config))
    assert refused.returncode == 78 and "kiosk retire-log" in refused.stderr
    retired = kiosk("retire-log", "--config", str(config))
    assert retired.returncode == 0, retired.stderr
    proc, err = start_kiosk(config)
    try:
        err.wait_for("kiosk north-gate-3 ready .* last seq 0")
    finally:
        stop(proc)
