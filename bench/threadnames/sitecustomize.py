"""Diagnostics only (``bench/pi_budget.py --threads``): each Python thread of the kiosk gets its
``threading`` name as its kernel name (``/proc/PID/task/TID/comm``, 15 bytes), so the bench can
say which thread spent the quota. Python 3.11 does not do this itself (3.14 does). Put on
``PYTHONPATH`` for the kiosk process only; it changes nothing else."""

from __future__ import annotations

import ctypes
import threading
from typing import Any

_PR_SET_NAME = 15
_prctl: Any = None
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):      # not Linux: names stay as they are
    pass

_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]


def _named(self: threading.Thread) -> None:
    if _prctl is not None:
        _prctl(_PR_SET_NAME, self.name.encode()[:15], 0, 0, 0)
    _inner(self)


threading.Thread._bootstrap_inner = _named  # type: ignore[attr-defined]
