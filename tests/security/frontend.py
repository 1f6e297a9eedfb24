"""systemd/nginx/street-nginx.conf run by the tests: an unprivileged nginx in a temp folder, TLS
with certificates from `street-server tls init`, in front of a real street-server process."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.paths import REPO

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
needs_nginx = pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx is not installed (run.sh TEST_DEBS)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def render(run: Path, tls: Path, listen: str, upstream: str) -> Path:
    text = (REPO / "systemd" / "nginx" / "street-nginx.conf").read_text()
    me = pwd.getpwuid(os.geteuid()).pw_name
    text = text.replace("user www-data;", f"user {me};" if os.geteuid() == 0 else "")
    for k, v in {"@PID@": str(run / "nginx.pid"), "@LOG@": str(run), "@TEMP@": str(run), "@TLS@": str(tls),
                 "@LISTEN@": listen, "@UPSTREAM@": upstream}.items():
        text = text.replace(k, v)
    conf = run / "nginx.conf"
    conf.write_text(text)
    return conf


@contextmanager
def nginx(run: Path, tls: Path, upstream: str) -> Iterator[str]:
    """Yields the https:// base URL of nginx on 127.0.0.1. The listening socket is made here and
    inherited by nginx (its ``NGINX`` environment variable, as in a binary upgrade), so clients
    can connect at once: their connections wait in the backlog until nginx accepts them."""
    run.mkdir(parents=True, exist_ok=True)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = int(listener.getsockname()[1])
    conf = render(run, tls, f"127.0.0.1:{port}", upstream)
    check = subprocess.run([NGINX, "-t", "-q", "-p", str(run), "-c", str(conf), "-e", str(run / "error.log")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    fd = listener.fileno()
    proc = subprocess.Popen([NGINX, "-p", str(run), "-c", str(conf), "-e", str(run / "error.log"),
                             "-g", "daemon off;"], stderr=subprocess.PIPE, text=True, pass_fds=(fd,),
                            env={**os.environ, "NGINX": f"{fd};"})
    listener.close()
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
