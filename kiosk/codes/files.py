"""Reading trust material (keys, bundles) with a size limit and an error that names the file.

Writing goes through :func:`kiosk.durable.write_atomic` (the old file or the new one, never
half of each, and never an empty key after a power cut).
"""

from __future__ import annotations

from pathlib import Path

from kiosk.errors import CodeError


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
