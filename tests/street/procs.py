"""`street-server` as a real process for the tests: started on a free port, stopped by SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def street_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "street.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@contextmanager
def serving(db: str | Path, *args: str, log: Path | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`street-server serve --db DB --port 0 ARGS…`; yields (base URL, process). Its stderr goes to
    ``log`` (or nowhere); it must exit 0 on SIGTERM."""
    err = open(log, "w") if log else subprocess.DEVNULL      # closed below
    if "://" in str(db) and "--server-key" not in args:     # PostgreSQL: the key file has no default place
        keys = Path(tempfile.gettempdir()) / "street-test-keys"
        keys.mkdir(mode=0o700, exist_ok=True)
        args = (*args, "--server-key", str(keys / f"{abs(hash(str(db)))}.key"))
    proc = subprocess.Popen([sys.executable, "-m", "street.cli", "serve", "--db", str(db), "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving " in line, f"street-server did not start: {line!r}"
        yield line.split("serving ")[1].split()[0], proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        if log:
            err.close()      # type: ignore[union-attr]
        assert code == 0, f"street-server exited {code}"
