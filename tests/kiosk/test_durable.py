"""kiosk/durable.py: a file is replaced whole or not at all, and no temp file is left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kiosk.durable import write_atomic, write_json


def test_replaces_the_file_with_the_exact_mode(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    old_umask = os.umask(0o077)
    try:
        write_atomic(target, b"new", mode=0o644)
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_refuses_to_overwrite_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    target.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="already exists"):
        write_atomic(target, b"other", overwrite=False)
    assert target.read_bytes() == b"keep"


def test_a_failed_rename_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    target.mkdir()                       # os.replace cannot put a file over a directory
    with pytest.raises(OSError):
        write_atomic(target, b"{}", durable=False)
    assert target.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]


def test_a_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "bundle.cbor"
    with pytest.raises(TypeError):
        write_atomic(target, 12345)      # type: ignore[arg-type]  # not bytes: fails after the temp file exists
    assert list(tmp_path.iterdir()) == []


def test_write_json_is_sorted_utf8(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    write_json(target, {"b": "门", "a": 1}, durable=False)
    assert target.read_bytes() == '{\n "a": 1,\n "b": "门"\n}'.encode()
