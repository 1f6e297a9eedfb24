"""The import rules of docs/architecture.md hold, and the checker would see them broken.

The rules and their one list of exceptions live in tests/architecture.py.
"""

from __future__ import annotations

from pathlib import Path

from tests import architecture as arch
from tests.paths import REPO


def test_the_tree_follows_the_import_rules() -> None:
    assert [str(v) for v in arch.check(REPO)] == []


def test_no_modules_import_each_other_at_load_time() -> None:
    assert arch.cycles(REPO) == []


def test_every_exception_is_still_needed() -> None:
    """An exception whose import is gone must leave the list (the list is the truth)."""
    for module, target in arch.EXCEPTIONS:
        path = REPO / (module.replace(".", "/") + ".py")
        known = {target, module}
        assert any(t == target for t, _ in arch.imports_of(path, module, known)), (module, target)


def _plant(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for d in [p for p in root.rglob("*") if p.is_dir()]:
        (d / "__init__.py").touch()


def test_planted_forbidden_imports_are_reported(tmp_path: Path) -> None:
    _plant(tmp_path, {
        "kiosk/core/flow.py": "import dataclasses\nfrom kiosk.schema import KINDS\n",
        "kiosk/core/bad.py": "import cv2\n",                                    # third-party in the pure core
        "kiosk/core/worse.py": "def f():\n    from kiosk.passlog import store\n",  # a lazy import counts too
        "kiosk/schema.py": "",
        "kiosk/passlog/store.py": "import sqlite3\n",
        "kiosk/passlog/reader.py": "import sqlite3\n",
        "drivers/gpio.py": "from kiosk.core import flow\n",                      # a driver reaching up
        "sync/client.py": "from kiosk.passlog.reader import x\nfrom kiosk.passlog.store import PassLog\n",
        "street/app.py": "from kiosk.schema import COLUMNS\nfrom kiosk.passlog import store\n",
        "hardware_mocks/camera.py": "from drivers import gpio\nfrom kiosk.core import flow\n",
    })
    found = {(v.module, v.target) for v in arch.check(tmp_path)}
    assert found == {
        ("kiosk.core.bad", "cv2"),
        ("kiosk.core.worse", "kiosk.passlog.store"),
        ("drivers.gpio", "kiosk.core.flow"),
        ("sync.client", "kiosk.passlog.store"),
        ("street.app", "kiosk.passlog.store"),
        ("hardware_mocks.camera", "kiosk.core.flow"),
    }


def test_a_planted_cycle_is_reported(tmp_path: Path) -> None:
    _plant(tmp_path, {
        "sync/client.py": "from sync import heartbeat\n",
        "sync/heartbeat.py": "from sync.client import SyncClient\n",
        "sync/protocol.py": "",
        "sync/lazy.py": "def f():\n    from sync import protocol\n",
    })
    assert arch.cycles(tmp_path) == [["sync.client", "sync.heartbeat"]]
