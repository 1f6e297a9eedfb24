"""Retry timing: "Full Jitter" backoff and ``Retry-After``.

Full Jitter (``sleep = uniform(0, min(cap, base * 2**attempt))``) does the least total work
of the strategies in the AWS Architecture blog "Exponential Backoff And Jitter"; with base 1 s
and cap 300 s, 117 kiosks coming back after an outage spread their retries over ~5 minutes
(docs/reliability.md §2.3). ``Retry-After`` (RFC 9110 §10.2.3) is seconds or an HTTP date.
"""

from __future__ import annotations

import email.utils
import random

BASE_S = 1.0
CAP_S = 300.0
MAX_RETRY_AFTER_S = 3600.0


def bound(attempt: int, base: float = BASE_S, cap: float = CAP_S) -> float:
    """Upper bound of the delay after ``attempt`` consecutive failures (attempt ≥ 1)."""
    exp = min(max(attempt - 1, 0), 30)     # 2**30 s is far beyond any cap; avoids huge floats
    return min(cap, base * (2 ** exp))


def full_jitter(attempt: int, rng: random.Random, base: float = BASE_S, cap: float = CAP_S) -> float:
    """A delay drawn uniformly from [0, bound(attempt)]."""
    return rng.uniform(0.0, bound(attempt, base, cap))


def parse_retry_after(value: str | None, now_wall: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return min(max(0.0, when.timestamp() - now_wall), MAX_RETRY_AFTER_S)
