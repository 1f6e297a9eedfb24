"""A throwaway PostgreSQL cluster for the tests and the benchmark (Debian's `postgresql` package).

``initdb`` refuses to run as root (CI runs as root), so when we are root the cluster belongs to
the ``postgres`` system user the package creates and every server command runs through
``runuser``; otherwise it is ours. The data directory is a fresh temporary directory; the
server listens on 127.0.0.1 on a free port and on a unix socket in that directory, trusts local
connections, and is stopped and deleted at the end. ``fsync = off`` (the OS does not crash
under a test; a killed server still recovers from its WAL) and ``synchronous_commit`` stays on,
so an acknowledged commit survives an immediate shutdown, as in production.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg


def bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; ./run.sh test does it)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.bin = bindir()
        self.root = Path(tempfile.mkdtemp(prefix="pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.settings = {"fsync": "off", "full_page_writes": "off", "max_connections": "300",
                         "shared_buffers": "64MB", "log_min_messages": "fatal", **(settings or {})}
        self.as_root = os.geteuid() == 0

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self.as_root else list(args)

    def _run(self, *args: str, timeout: float = 120) -> None:
        out = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {out.stderr.strip() or out.stdout.strip()}")

    def start(self) -> PgCluster:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            for k, v in self.settings.items():
                conf.write(f"{k} = {v}\n")
        for _ in range(5):
            self.port = _free_port()
            try:
                self._pg_ctl("start")
                return self
            except RuntimeError:
                continue
        raise RuntimeError("PostgreSQL would not start on a free port")

    def _pg_ctl(self, action: str, mode: str = "fast") -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        args = [str(self.bin / "pg_ctl"), action, "-D", str(self.data), "-w", "-t", "60", "-m", mode]
        if action != "stop":
            args += ["-o", opts, "-l", str(self.root / "server.log")]
        self._run(*args)

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("stop", mode)

    def restart(self, mode: str = "fast") -> None:
        """Stop (``immediate`` is a crash: no checkpoint, recovery from the WAL) and start again."""
        self._pg_ctl("stop", mode)
        self._pg_ctl("start")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_db(self, prefix: str = "street") -> str:
        """A new empty database; its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def empty(self, url: str) -> str:
        """Empty every table of the database at ``url`` but ``meta`` (its schema stays): a fresh
        street database in milliseconds, where creating one takes a few hundred."""
        with psycopg.connect(url, autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename != 'meta'")]
            if tables:
                conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
        return url

    def drop_db(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
