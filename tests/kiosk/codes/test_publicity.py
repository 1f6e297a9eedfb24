"""The publicity schedule in the signed bundle: round trip, compatibility both ways, bad schedules, due()."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cbor2
import pytest

from kiosk.clock import FakeClock
from kiosk.codes import bundle as bundle_mod
from kiosk.codes import cose
from kiosk.codes.publicity import PublicityError, Schedule, parse
from tests.codes_support import make_drill

CN = timezone(timedelta(hours=8))
GOOD: dict[str, Any] = {"utc_offset_min": 480, "quiet": ["22:00", "07:00"],
        "notices": [{"id": "masks", "at": "09:00", "max_s": 60, "volume": 70, "text": "请佩戴口罩，保持一米距离。"},
                    {"id": "vaccine", "at": "09:01", "max_s": 90, "clip": "notice_vaccine"}]}


def resign(drill, raw: bytes, **payload_changes: object) -> bytes:
    """The same bundle with its payload changed, signed again by the street key (a future office)."""
    payload = cbor2.loads(cose.parse(raw, understood=frozenset({bundle_mod.H_ENDORSEMENT})).payload)
    payload.update(payload_changes)
    return cose.sign1(cbor2.dumps(payload), drill.street, {bundle_mod.H_ENDORSEMENT: drill.endorsement})


def test_the_schedule_travels_signed_in_the_bundle_and_leaves_the_trust_as_it_was(tmp_path: Path) -> None:
    drill = make_drill(tmp_path, FakeClock(wall=1_780_000_000.0))
    schedule = parse(GOOD)
    plain = bundle_mod.load(drill.bundle_bytes(2), drill.root.public_key())
    b = bundle_mod.load(drill.bundle_bytes(2, publicity=schedule), drill.root.public_key())
    assert b.publicity == schedule and b.publicity_error is None and plain.publicity is None
    assert (b.issuers, b.status, b.revoked_kids, b.policy) == (plain.issuers, plain.status, plain.revoked_kids,
                                                                plain.policy)


def test_a_kiosk_ignores_sections_it_does_not_know_and_keeps_trust_when_the_schedule_is_bad(tmp_path: Path) -> None:
    drill = make_drill(tmp_path, FakeClock(wall=1_780_000_000.0))
    raw = drill.bundle_bytes(3)
    future = bundle_mod.load(resign(drill, raw, loudspeaker_v2={"x": 1}), drill.root.public_key())
    assert future.seq == 3 and future.publicity is None and future.publicity_error is None
    bad = bundle_mod.load(resign(drill, raw, publicity={"notices": [{"id": "x", "at": "25:00", "text": "t"}]}),
                          drill.root.public_key())
    assert bad.seq == 3 and bad.issuers and bad.publicity is None and "09:00" in (bad.publicity_error or "")


@pytest.mark.parametrize(("change", "why"), [
    ({"notices": [{**GOOD["notices"][0], "max_s": 120}, GOOD["notices"][1]]}, "overlap"),
    ({"notices": [{**GOOD["notices"][1], "clip": "no_such_clip"}]}, "not a known clip"),
    ({"notices": [GOOD["notices"][0], {**GOOD["notices"][1], "id": "masks"}]}, "listed twice"),
    ({"notices": [{**GOOD["notices"][0], "at": "23:00"}]}, "quiet hours"),
    ({"notices": [{**GOOD["notices"][0], "clip": "notice_vaccine"}]}, "exactly one of text or clip"),
    ({"notices": [{**GOOD["notices"][0], "volume": 130}]}, "volume"),
    ({"speakers": 3}, "unknown field"),
])
def test_a_bad_schedule_is_refused_with_a_clear_reason(change: dict, why: str) -> None:
    with pytest.raises(PublicityError, match=why):
        parse({**GOOD, **change}, known_clips={"notice_vaccine"})


def test_building_a_bundle_with_a_bad_schedule_is_refused_at_the_office(tmp_path: Path) -> None:
    drill = make_drill(tmp_path, FakeClock(wall=1_780_000_000.0))
    bad = Schedule(notices=parse(GOOD).notices, quiet=(8 * 60, 10 * 60))   # quiet hours over the notices
    with pytest.raises(PublicityError, match="quiet hours"):
        drill.bundle_bytes(4, publicity=bad)


def test_due_plays_each_notice_once_a_day_soon_after_its_time_never_in_quiet_hours() -> None:
    s = parse(GOOD, known_clips={"notice_vaccine"})

    def at(hh: int, mm: int, day: int = 5) -> float:
        return datetime(2026, 12, day, hh, mm, tzinfo=CN).timestamp()

    assert s.due(at(8, 59), set()) is None
    day, n = s.due(at(9, 0), set()) or (0, None)
    assert n is not None and n.id == "masks"
    assert s.due(at(9, 10), {(day, "masks"), (day, "vaccine")}) is None
    assert s.due(at(9, 20), set()) is None                   # more than 15 min late: tomorrow
    assert s.due(at(9, 0, day=6), {(day, "masks")}) is not None
    assert parse({**GOOD, "quiet": ["08:00", "07:00"], "notices": []}).is_quiet(9 * 60)
