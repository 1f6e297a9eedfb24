"""Replacing a file so that a reader or a power cut only ever sees the old file or the new one.

The one recipe, used for every state, key, bundle, calibration and report file: write a temp
file in the same directory with the final mode, fsync it, rename it over the target, fsync
the directory (without the last step the rename itself may be lost in a power cut, and the
old file comes back; docs/reliability.md). ``durable=False`` skips both fsyncs for files on
a tmpfs that nobody needs after a reboot (the running kiosk's status file, rewritten every
second): atomic, never torn, but not worth a flush.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, overwrite: bool = True,
                 durable: bool = True, parents: bool = False) -> None:
    """Replace ``path`` with ``data`` in one step.

    ``mode`` is set exactly (the umask neither loosens nor tightens it). With
    ``overwrite=False`` an existing file is refused with FileExistsError. The parent directory
    must exist unless ``parents`` (a directory the program owns, such as its state dir): a
    path a person typed wrong is an error, not a new directory tree.
    """
    path = Path(path)
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} already exists (refusing to overwrite; pass --force to replace it)")
    # A str, not a Path: pathlib interns every part it parses (sys.intern), and a name made for one
    # write — the status file's, every second — would be added to and deleted from CPython's
    # table of interned strings each time, which that table pays for by growing (issue 17).
    tmp = os.path.join(path.parent, f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def write_json(path: Path, data: Any, *, mode: int = 0o644, durable: bool = True, parents: bool = False) -> None:
    """:func:`write_atomic` of ``data`` as indented, key-sorted UTF-8 JSON."""
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8"),
                 mode=mode, durable=durable, parents=parents)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
