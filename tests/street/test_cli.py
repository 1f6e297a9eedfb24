"""`street-server`: kiosk registration, bundle publishing, serving; bad input is one line, never a traceback."""

from __future__ import annotations

import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import requests

from kiosk.codes.drill import Drill
from sync import protocol
from tests.synckit import Signer


def street(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "street.cli", *args], capture_output=True, text=True, timeout=60)


def test_kiosk_add_prints_the_secret_once_then_revoke_and_list(tmp_path: Path) -> None:
    db = str(tmp_path / "street.db")
    out = street("kiosk", "add", "cp-001", "--db", db)
    assert out.returncode == 0 and re.fullmatch(r"kiosk-key ed25519 \S{44}\nserver-key ed25519 \S{44}\n",
                                                 out.stdout), out.stdout
    assert "shown only once" in out.stderr
    key = tmp_path / "street-server.key"                 # made beside the database, for the server only
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    again = street("kiosk", "add", "cp-001", "--db", db)
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip() == ("street-server kiosk: kiosk cp-001 is already registered "
                                    "(revoke it first to issue a new secret)")
    assert street("kiosk", "list", "--db", db).stdout == "cp-001\tactive\t\t\t\t\n"
    assert street("kiosk", "revoke", "cp-001", "--db", db).returncode == 0
    assert street("kiosk", "list", "--db", db).stdout == "cp-001\trevoked\t\t\t\t\n"
    rotated = street("kiosk", "add", "cp-001", "--db", db)      # a new secret after revocation
    assert rotated.returncode == 0 and rotated.stdout != out.stdout


def test_bad_input_is_one_line_and_a_nonzero_exit(tmp_path: Path) -> None:
    db = str(tmp_path / "street.db")
    assert street("kiosk", "add", "cp-001", "--db", db).returncode == 0
    (tmp_path / "a-file").write_text("not a directory")
    for args, message in (
        (["kiosk", "add", "bad id!", "--db", db], "must be 1-64 letters"),
        (["kiosk", "revoke", "nobody", "--db", db], "is not registered"),
        (["bundle", "publish", str(tmp_path / "missing.cbor"), "--db", db, "--root-key", "r.pub"],
         "cannot read bundle"),
        (["serve", "--db", db, "--port", "70000"], "is not a port number"),
        (["serve", "--db", db, "--tz", "Mars/Olympus"], "is not a known time zone"),
        (["serve", "--db", str(tmp_path / "a-file" / "street.db"), "--port", "0"], "cannot open street database"),
    ):
        out = street(*args)
        assert out.returncode != 0, args
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in out.stderr and message in lines[0], out.stderr


def test_a_mistyped_db_path_creates_nothing(tmp_path: Path) -> None:
    """`serve --db /nonexistent/dir/street.db` and `kiosk list --db missingdir/x.db` used to make the
    directories and carry on with an empty database."""
    for args in (["serve", "--port", "0"], ["kiosk", "list"], ["kiosk", "add", "cp-001"]):
        out = street(*args, "--db", str(tmp_path / "nonexistent" / "dir" / "street.db"))
        assert out.returncode == 1 and out.stderr.strip().endswith(f"directory {tmp_path / 'nonexistent' / 'dir'} "
                                                                   "does not exist"), out.stderr
    for args in (["kiosk", "list"], ["kiosk", "revoke", "cp-001"]):     # reading an empty, new database is a typo
        out = street(*args, "--db", str(tmp_path / "typo.db"))
        assert out.returncode == 1 and f"no street database at {tmp_path / 'typo.db'}" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def drill_bundles(tmp_path: Path) -> tuple[Drill, Path]:
    """Throwaway root, street and issuer keys and a signed bundle (seq 1), as the office would have."""
    drill = Drill(tmp_path / "trust", "c1", time.time())
    return drill, drill.bundle_path


def test_a_bundle_is_checked_as_a_kiosk_would_before_it_is_published(tmp_path: Path) -> None:
    db = str(tmp_path / "street.db")
    assert street("kiosk", "add", "cp-001", "--db", db).returncode == 0
    drill, good = drill_bundles(tmp_path)
    root = str(drill.root_key_path)
    junk = tmp_path / "junk.cbor"
    junk.write_bytes(b"\xa1junk!!")                     # 7 bytes: accepted as the trust bundle before
    other = Drill(tmp_path / "other", "c1", time.time())
    for path, message in ((junk, "not a signed bundle"),
                          (other.bundle_path, "not endorsed by the pinned root key")):
        out = street("bundle", "publish", str(path), "--db", db, "--root-key", root)
        assert out.returncode == 1 and len(out.stderr.splitlines()) == 1 and message in out.stderr, out.stderr
        assert "not published" in out.stderr
    out = street("bundle", "publish", str(good), "--db", db, "--root-key", root)
    assert out.returncode == 0 and "seq 1 from street" in out.stderr, out.stderr
    older = tmp_path / "older.cbor"
    older.write_bytes(drill.bundle_bytes(seq=1, iat=drill.now + 1))
    out = street("bundle", "publish", str(older), "--db", db, "--root-key", root)
    assert out.returncode == 1 and "rollback" in out.stderr
    missing = street("bundle", "publish", str(good), "--db", db)
    assert missing.returncode == 2 and "--root-key" in missing.stderr


def test_serve_publish_and_fetch_the_bundle(tmp_path: Path) -> None:
    db = str(tmp_path / "street.db")
    secret = street("kiosk", "add", "cp-001", "--db", db).stdout.strip()
    drill, bundle = drill_bundles(tmp_path)
    assert street("bundle", "publish", str(bundle), "--db", db, "--root-key", str(drill.root_key_path)).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "street.cli", "serve", "--db", db, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("serving ")[1].split()[0]
        r = Signer(url, "cp-001", secret).get(protocol.BUNDLE_PATH)
        assert r.status_code == 200 and r.content == bundle.read_bytes()
        assert requests.get(url + "/healthz", timeout=5).json()["ok"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_serve_reads_its_day_in_asia_shanghai_unless_told_otherwise() -> None:
    """Servers often run with a UTC clock; the office's "today" must still start at local midnight."""
    from street.cli import _parser
    assert _parser().parse_args(["serve"]).tz == "Asia/Shanghai"
    assert _parser().parse_args(["serve", "--tz", "UTC"]).tz == "UTC"
