"""Scripted residents for `kiosk demo` and end-to-end tests: who comes to the gate and what they do.

Pure data: each :class:`Resident` says which code they show, what their forehead reads on each
attempt, and how the volunteer reacts when called. The demo's director acts it out through
the stand-in hardware. The first residents cover every path of the flow; the rest of the
crowd is drawn from a seeded mix that looks like a morning at the gate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Resident:
    label: str
    # green yellow red expired forged replayed wrong_scope revoked, or 'none' (no phone)
    code: str = "green"
    temps: tuple[float, ...] = (36.5,)   # body-equivalent °C of each measurement attempt
    ambient_c: float = 22.0
    volunteer: str | None = None         # 'pass' or 'deny' when the volunteer is called
    rests: bool = False                  # after a high first reading, rests and comes back
    emergency: bool = False              # a volunteer holds the gate open instead


# Every path of the flow, in an order that reads like a morning at the gate.
SCRIPT: tuple[Resident, ...] = (
    Resident("resident", "green", (36.5,)),
    Resident("resident", "green", (36.8,)),
    Resident("resident, yellow code", "yellow", volunteer="pass"),
    Resident("resident, red code", "red"),
    Resident("resident, fever", "green", (38.1, 38.0), rests=True),
    Resident("resident, cold forehead", "green", (33.4, 33.6, 33.9), ambient_c=-3.0, volunteer="pass"),
    Resident("resident, expired screenshot", "expired"),
    Resident("resident, forged code", "forged"),
    Resident("elderly resident without a phone", "none", volunteer="pass"),
    Resident("resident, replayed code", "replayed", volunteer="deny"),
    Resident("visitor for another compound", "wrong_scope"),
    Resident("resident, high then normal after rest", "green", (37.6, 36.9), rests=True),
    Resident("resident, revoked code", "revoked"),
    Resident("ambulance crew", emergency=True),
)

_MIX: tuple[tuple[Resident, float], ...] = (
    (Resident("resident", "green", (36.4,)), 60),
    (Resident("resident", "green", (36.9,)), 15),
    (Resident("resident, yellow code", "yellow", volunteer="pass"), 5),
    (Resident("resident, red code", "red"), 3),
    (Resident("resident, cold forehead", "green", (34.1, 36.2), ambient_c=2.0), 6),
    (Resident("resident, expired screenshot", "expired"), 4),
    (Resident("elderly resident without a phone", "none", volunteer="pass"), 4),
    (Resident("resident, fever", "green", (38.3, 38.2), rests=True), 3),
)


def crowd(n: int, seed: int) -> list[Resident]:
    """``n`` residents: the full script first, then a seeded random mix."""
    rng = random.Random(seed)
    people = list(SCRIPT[:n])
    choices, weights = zip(*_MIX, strict=True)
    while len(people) < n:
        people.append(rng.choices(choices, weights)[0])
    return people
