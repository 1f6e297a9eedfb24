"""Per-stream progress on the server: the contiguous ``acked_through`` mark and missing ranges.

Like TCP's cumulative ack plus SACK blocks: ``acked_through`` is the highest N with every seq
1..N received (stored or quarantined) or reported lost by the kiosk; ``gaps`` are the missing ranges between it and the
highest seq seen, each with the time it was first noticed (a gap open for an hour alarms,
docs/faults.md T-SYNC-5). Pure functions, so the bookkeeping is property-tested.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass


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


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping, non-adjacent ``[first, last]`` ranges covering the same seqs."""
    out: list[tuple[int, int]] = []
    for first, last in sorted((int(a), int(b)) for a, b in ranges if a <= b):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def subtract(ranges: Iterable[tuple[int, int]], holes: Iterable[int]) -> list[tuple[int, int]]:
    """``ranges`` without the seqs in ``holes`` (sorted ranges out)."""
    out: list[tuple[int, int]] = []
    points = sorted(set(holes))
    for first, last in merge_ranges(ranges):
        lo = bisect.bisect_left(points, first)
        hi = bisect.bisect_right(points, last)
        start = first
        for s in points[lo:hi]:
            if s > start:
                out.append((start, s - 1))
            start = s + 1
        if start <= last:
            out.append((start, last))
    return out


def settle(p: Progress, ranges: Iterable[tuple[int, int]], now: float) -> Progress:
    """The progress once whole seq ranges are accounted for without a record: the kiosk reported
    them lost (a damaged log, POST /v1/lost). Same result as :func:`advance` with every seq of the
    ranges received, but without enumerating them (a range may be long)."""
    closed = [(max(a, p.acked_through + 1), b) for a, b in merge_ranges(ranges) if b > p.acked_through]
    closed = [(a, b) for a, b in closed if a <= b]
    if not closed:
        return p
    gaps: list[Gap] = []
    for g in p.gaps:                               # known gaps, minus the closed ranges
        start = g.first
        for a, b in closed:
            if b < start or a > g.last:
                continue
            if a > start:
                gaps.append(Gap(start, a - 1, g.since))
            start = b + 1
        if start <= g.last:
            gaps.append(Gap(start, g.last, g.since))
    prev = p.max_seq                               # beyond the highest seen: new gaps between ranges
    for a, b in closed:
        if b <= p.max_seq:
            continue
        a = max(a, p.max_seq + 1)
        if a > prev + 1:
            gaps.append(Gap(prev + 1, a - 1, now))
        prev = max(prev, b)
    max_seq = max(p.max_seq, closed[-1][1])
    gaps.sort(key=lambda g: g.first)
    acked = gaps[0].first - 1 if gaps else max_seq
    return Progress(acked, max_seq, tuple(gaps))
