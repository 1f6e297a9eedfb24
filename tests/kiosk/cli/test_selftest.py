"""`kiosk selftest` on the stand-in site: every check passes there, and a missing part fails its
check with the hint a technician needs (issue 8: "passes on the stand-in hardware, and fails with
the right hint when a device is missing")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk import config as config_mod
from kiosk.cli.selftest import CHECKS, Check, check_bundle, check_camera, check_server, check_thermometer, run_checks
from kiosk.clock import FakeClock
from kiosk.demo.site import Site
from kiosk.statefiles import BUNDLE_LAST_GOOD as LAST_GOOD_NAME
from sync.protocol import new_secret
from tests.standin_support import REPO, standin_config

NAMES = ["configuration", "kiosk service", "GPIO", "gate relay", "LEDs and buzzer", "voice", "thermometer", "camera",
         "disk space", "pass log", "clock synced", "trust bundle", "street server"]


@pytest.fixture
def site_config(tmp_path: Path) -> Path:
    return standin_config(tmp_path)


@pytest.fixture
def site(site_config: Path) -> Iterator[Site]:
    with Site(config_mod.load(site_config)) as s:
        yield s


def synced_now() -> FakeClock:
    """CI machines are not NTP-synchronised; everything else is real."""
    return FakeClock(wall=time.time(), synced=True)


def selftest(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", "selftest", "--config", str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_every_check_passes_on_the_standin_site(site: Site) -> None:
    results = run_checks(site.cfg, synced_now(), thermometer_s=1.0)
    assert [r.name for r in results] == NAMES and len(CHECKS) == len(NAMES)
    assert [r for r in results if not r.ok] == []
    by_name = {r.name: r.detail for r in results}
    assert "frames/s" in by_name["thermometer"] and "voice is off" not in by_name["voice"]
    assert "fps" in by_name["camera"] and "credentials of standin-kiosk accepted" in by_name["street server"]


def test_cli_on_the_standin_site_prints_the_checklist(site: Site, site_config: Path) -> None:
    """The real command: one line per check; only the clock may fail here (CI is not NTP-synced)."""
    done = selftest(site_config)
    lines = done.stdout.splitlines()
    assert lines[0] == f"kiosk selftest — standin-kiosk (gate main), config {site_config}"
    checks = [line for line in lines[1:-1] if line.startswith((" ✓ ", " ✗ "))]
    assert [line[3:19].strip() for line in checks] == NAMES
    failed = [line[3:19].strip() for line in checks if line.startswith(" ✗ ")]
    assert set(failed) <= {"clock synced"}, done.stdout
    hints = [line.strip() for line in lines if line.strip().startswith("hint:")]
    assert len(hints) == len(failed)
    if failed:
        assert lines[-1] == "12 of 13 checks passed — NOT READY" and done.returncode == 1
        assert "timedatectl timesync-status" in hints[0]
    else:
        assert lines[-1] == "13 of 13 checks passed" and done.returncode == 0
    assert "Traceback" not in done.stderr


def unplug_thermometer(site: Site) -> None:
    assert site.thermometer is not None
    site.thermometer.close()


def remove_clip(site: Site) -> None:
    site.camera.remove()


def stop_server(site: Site) -> None:
    assert site.street is not None
    site.street.stop()


def wrong_secret(site: Site) -> None:
    secret = site.cfg.sync.secret_file
    assert secret is not None
    secret.write_text(new_secret() + "\n")
    os.chmod(secret, 0o600)


def no_bundle(site: Site) -> None:
    (site.cfg.kiosk.state_dir / "bundle.cbor").unlink()
    (site.cfg.kiosk.state_dir / LAST_GOOD_NAME).unlink(missing_ok=True)


@pytest.mark.parametrize("breakage, check, detail, hint", [
    (unplug_thermometer, check_thermometer, "ttyTHERMO", "check [thermometer] port"),
    (remove_clip, check_camera, "no such file", "check [camera] source"),
    (stop_server, check_server, "/v1/heartbeat", "that the street server runs"),
    (wrong_secret, check_server, "401", "street-server kiosk add standin-kiosk"),
    (no_bundle, check_bundle, "no trust bundle", "kiosk sync --once"),
], ids=["no-thermometer", "no-camera-clip", "server-down", "wrong-secret", "no-bundle"])
def test_a_missing_part_fails_its_check_with_the_right_hint(site: Site, breakage: Callable[[Site], None],
                                                            check: Check, detail: str, hint: str) -> None:
    assert all(r.ok for r in run_checks(site.cfg, synced_now(), (check,), thermometer_s=0.5))
    breakage(site)
    [result] = run_checks(site.cfg, synced_now(), (check,), thermometer_s=0.5)
    assert not result.ok
    assert detail in result.detail, result.detail
    assert hint in result.hint, result.hint


def test_cli_exits_1_naming_the_missing_device(site: Site, site_config: Path) -> None:
    unplug_thermometer(site)
    done = selftest(site_config)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(" ✗ thermometer"))
    assert "hint: check [thermometer] port" in lines[at + 1]
    assert lines[-1].endswith("— NOT READY")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as `sudo kiosk selftest` has")
def test_as_root_it_reads_the_secret_then_works_as_the_kiosk_user_and_creates_nothing() -> None:
    """The installer's old hint ran the self-test as root, which left a root-owned passes.db the
    service could not write; and the kiosk user alone cannot read the sync secret."""
    import pwd
    import shutil
    import socket
    import tempfile
    owner = pwd.getpwnam("nobody")                      # stands in for the kiosk user
    base = Path(tempfile.mkdtemp(dir="/tmp"))           # outside pytest's root-only tmp tree
    try:
        base.chmod(0o755)
        state = base / "state"
        state.mkdir()
        os.chown(state, owner.pw_uid, owner.pw_gid)
        creds = base / "credentials"                    # as the installer lays it out: root's alone
        creds.mkdir(mode=0o700)
        (creds / "kiosk.secret").write_text(new_secret() + "\n")
        os.chmod(creds / "kiosk.secret", 0o600)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = base / "kiosk.toml"
        config.write_text(f'[kiosk]\nid = "k1"\ncompound = "c1"\nstate_dir = "{state}"\n'
                          f'runtime_dir = "{base / "run"}"\n'
                          f'[gpio]\npin_factory = "mock"\nmock_journal = "{state / "gpio.jsonl"}"\n'
                          '[thermometer]\nenabled = false\n[camera]\nenabled = false\n[voice]\nbackend = "none"\n'
                          f'[sync]\nserver_url = "http://127.0.0.1:{port}"\n', encoding="utf-8")
        done = selftest(config)
        assert done.stdout.splitlines()[0].endswith("(as nobody)"), done.stdout
        assert (state / "gpio.jsonl").stat().st_uid == owner.pw_uid     # the devices were claimed as that user
        assert not (state / "passes.db").exists() and "none yet at" in done.stdout
        server = next(line for line in done.stdout.splitlines() if line.startswith(" ✗ street server"))
        assert "connection refused" in server                            # the secret was read: it got that far
    finally:
        shutil.rmtree(base)
