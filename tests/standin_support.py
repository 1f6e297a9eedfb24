"""Stand-in site configs for tests: the shipped ``config/standin.toml``, moved under a temp dir.

The copy sits in ``<root>/config/``, so its ``../var/standin`` paths land in ``<root>/var``; the
street server gets a free port (tests run in parallel) and tables can be overridden.
"""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path
from typing import Any

from tests.paths import REPO

SHIPPED = REPO / "config" / "standin.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dump_toml(data: dict[str, dict[str, Any]]) -> str:
    """TOML for a config: tables of scalars (all a kiosk config has); None leaves a key unset."""
    out = []
    for table, keys in data.items():
        out.append(f"[{table}]")
        out += [f"{k} = {_value(v)}" for k, v in keys.items() if v is not None]
        out.append("")
    return "\n".join(out)


def standin_config(root: Path, **tables: dict[str, Any]) -> Path:
    """Write the stand-in config under ``root`` (a free server port, ``tables`` merged in)."""
    data = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    data["sync"]["server_url"] = f"http://127.0.0.1:{free_port()}"
    for table, keys in tables.items():
        data.setdefault(table, {}).update(keys)
    path = root / "config" / "standin.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_toml(data), encoding="utf-8")
    return path
