"""`street-server`: kiosk registration, bundle publishing, serving; bad input is one line, never a traceback."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

from sync import protocol
from tests.synckit import Signer


def street(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "street.cli", *args], capture_output=True, text=True, timeout=60)


def test_kiosk_add_prints_the_secret_once_then_revoke_and_list(tmp_path: Path) -> None:
    db = str(tmp_path / "street.db")
    out = street("kiosk", "add", "cp-001", "--db", db)
    assert out.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}\n", out.stdout)
    assert "shown only once" in out.stderr
    again = street("kiosk", "add", "cp-001", "--db", db)
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip() == ("street-server kiosk: kiosk cp-001 is already registered "
                                    "(revoke it first to issue a new secret)")
    assert street("kiosk", "list", "--db", db).stdout == "cp-001\tactive\n"
    assert street("kiosk", "revoke", "cp-001", "--db", db).returncode == 0
    assert street("kiosk", "list", "--db", db).stdout == "cp-001\trevoked\n"
    rotated = street("kiosk", "add", "cp-001", "--db", db)      # a new secret after revocation
    assert rotated.returncode == 0 and rotated.stdout != out.stdout


def test_bad_input_is_one_line_and_a_nonzero_exit(tmp_path: Path) -> None:
    db = str(tmp_path / "street.db")
    (tmp_path / "a-file").write_text("not a directory")
    for args, message in (
        (["kiosk", "add", "bad id!", "--db", db], "must be 1-64 letters"),
        (["kiosk", "revoke", "nobody", "--db", db], "is not registered"),
        (["bundle", "publish", str(tmp_path / "missing.cbor"), "--db", db], "cannot read bundle"),
        (["serve", "--db", db, "--port", "70000"], "is not a port number"),
        (["serve", "--db", db, "--tz", "Mars/Olympus"], "is not a known time zone"),
        (["serve", "--db", str(tmp_path / "a-file" / "street.db"), "--port", "0"], "cannot open street database"),
    ):
        out = street(*args)
        assert out.returncode != 0, args
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in out.stderr and message in lines[0], out.stderr


def test_serve_publish_and_fetch_the_bundle(tmp_path: Path) -> None:
    db = str(tmp_path / "street.db")
    secret = street("kiosk", "add", "cp-001", "--db", db).stdout.strip()
    bundle = tmp_path / "bundle.cbor"
    bundle.write_bytes(b"\xa1signed-bundle")
    assert street("bundle", "publish", str(bundle), "--db", db).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "street.cli", "serve", "--db", db, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("serving ")[1].split()[0]
        r = Signer(url, "cp-001", secret).get(protocol.BUNDLE_PATH)
        assert r.status_code == 200 and r.content == b"\xa1signed-bundle"
        assert requests.get(url + "/healthz", timeout=5).json()["ok"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
