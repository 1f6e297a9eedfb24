"""Small file helpers for trust material: atomic replacement and private (0600) files.

A reader (the kiosk) must only ever see the old file or the new one, never half of each, and a
power cut must not leave an empty key or bundle: write a temp file in the same directory,
fsync it, rename it over the target, fsync the directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from kiosk.errors import CodeError


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, overwrite: bool = True) -> None:
    """Replace ``path`` with ``data`` in one step; with ``overwrite=False`` refuse an existing file."""
    path = Path(path)
    if not overwrite and path.exists():
        raise CodeError(f"{path} already exists (refusing to overwrite; pass --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)          # the umask must not loosen or tighten what we asked for
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """Read a whole file of at most ``limit`` bytes; CodeError naming ``what`` otherwise."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise CodeError(f"{what} {path} not found") from None
    except OSError as exc:
        raise CodeError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise CodeError(f"{what} {path} is larger than {limit} bytes")
    return data
