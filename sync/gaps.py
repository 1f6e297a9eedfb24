"""Per-stream progress on the server: the contiguous ``acked_through`` mark and missing ranges.

Like TCP's cumulative ack plus SACK blocks: ``acked_through`` is the highest N with every seq
1..N received (stored or quarantined); ``gaps`` are the missing ranges between it and the
highest seq seen, each with the time it was first noticed (a gap open for an hour alarms,
research/reliability.md T-SYNC-5). Pure functions, so the bookkeeping is property-tested.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Gap:
    first: int
    last: int
    since: float


@dataclass(frozen=True)
class Progress:
    acked_through: int
    max_seq: int
    gaps: tuple[Gap, ...]


def advance(p: Progress, received: Iterable[int], now: float) -> Progress:
    """The progress after ``received`` seqs (any order, duplicates allowed) have arrived."""
    seqs = sorted(set(s for s in received if s > p.acked_through))
    if not seqs:
        return p
    gaps: list[Gap] = []
    for g in p.gaps:                              # fill (split) known gaps
        lo = bisect.bisect_left(seqs, g.first)
        hi = bisect.bisect_right(seqs, g.last)
        start = g.first
        for s in seqs[lo:hi]:
            if s > start:
                gaps.append(Gap(start, s - 1, g.since))
            start = s + 1
        if start <= g.last:
            gaps.append(Gap(start, g.last, g.since))
    prev = p.max_seq
    for s in seqs[bisect.bisect_right(seqs, p.max_seq):]:   # new seqs beyond the highest seen
        if s > prev + 1:
            gaps.append(Gap(prev + 1, s - 1, now))
        prev = s
    max_seq = max(p.max_seq, seqs[-1])
    gaps.sort(key=lambda g: g.first)
    acked = gaps[0].first - 1 if gaps else max_seq
    return Progress(acked, max_seq, tuple(gaps))
