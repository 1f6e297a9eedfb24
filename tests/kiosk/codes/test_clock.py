"""Clock rules: a persisted time high-water mark defeats a clock rolled back at boot."""

from __future__ import annotations

import json
from pathlib import Path

from kiosk.clock import FakeClock
from kiosk.codes import token
from kiosk.codes.timemark import TimeMark
from tests.codes_support import HOLDER, make_drill, make_verifier


def paper(drill, t: float, days: int = 30) -> bytes:
    return token.issue(token.Claims(iss="DEMO-STREET-S01", sub=HOLDER, iat=int(t), exp=int(t) + days * 86400,
                                    cti=token.new_cti(), kind="paper", colour="green", scope=("c1",)),
                       drill.issuer).encode()


def test_clock_rolled_back_at_boot_cannot_resurrect_expired_codes(tmp_path: Path) -> None:
    day1 = FakeClock(wall=1_780_000_000.0, synced=True)
    drill = make_drill(tmp_path, day1)
    state = tmp_path / "state"
    screenshot = drill.code("green", HOLDER, day1.wall()).encode()       # a phone code shown on day 1
    old_paper = paper(drill, day1.wall() - 29 * 86400)                   # expires tomorrow
    kiosk = make_verifier(drill, day1, state_dir=state)
    assert kiosk.verify(screenshot).reason == "ok"
    day1.advance(3 * 86400)            # the kiosk runs three more days with NTP (and a stale bundle)
    assert kiosk.verify(drill.code("green", HOLDER, day1.wall()).encode()).reason == "ok"
    kiosk.mark.flush()
    assert json.loads((state / "codes-time.json").read_text())["high_water"] >= day1.wall() - 60

    # power cut; the Pi boots with fake-hwclock's old time, no NTP yet
    booted = FakeClock(wall=1_780_000_000.0 + 30, synced=False)
    after = make_verifier(drill, booted, state_dir=state)
    assert after.verify(screenshot).reason == "expired"      # judged against the mark, not the clock
    assert after.verify(old_paper).reason == "expired"
    fresh_paper = paper(drill, 1_780_000_000.0 + 2 * 86400)
    assert after.verify(fresh_paper).reason == "clock_untrusted"   # cannot say how long it is valid


def test_code_issued_in_the_future_means_our_clock_is_wrong_when_unsynced(tmp_path: Path) -> None:
    clock = FakeClock(wall=1_780_000_000.0, synced=False)
    drill = make_drill(tmp_path, clock)
    verifier = make_verifier(drill, clock)
    from_the_future = drill.code("green", HOLDER, clock.wall() + 2 * 3600).encode()   # real time is 2 h later
    assert verifier.verify(from_the_future).reason == "clock_untrusted"
    clock.set_synced(True)
    assert verifier.verify(from_the_future).reason == "not_yet_valid"


def test_skew_is_allowed(tmp_path: Path) -> None:
    clock = FakeClock(wall=1_780_000_000.0, synced=True)
    drill = make_drill(tmp_path, clock)
    verifier = make_verifier(drill, clock)
    assert verifier.verify(drill.code("green", HOLDER, clock.wall() + 25).encode()).reason == "ok"
    code = drill.code("green", HOLDER, clock.wall()).encode()
    clock.advance(60 + 25)             # 25 s past exp, within the 30 s skew
    assert verifier.verify(code).reason == "ok"


def test_bundle_iat_raises_the_mark(tmp_path: Path) -> None:
    clock = FakeClock(wall=1_780_000_000.0, synced=False)
    drill = make_drill(tmp_path, clock)
    verifier = make_verifier(drill, clock)
    drill.publish(seq=2, iat=int(clock.wall()) + 3600)   # the street server knows it is an hour later
    verifier.refresh()
    assert verifier.mark.value == clock.wall() + 3600


def test_unsynced_wall_clock_never_raises_the_mark(tmp_path: Path) -> None:
    mark_file = tmp_path / "mark.json"
    clock = FakeClock(wall=1_780_000_000.0, synced=False)
    drill = make_drill(tmp_path, clock)
    verifier = make_verifier(drill, clock, state_dir=tmp_path)
    clock.jump_wall(10 * 365 * 86400)    # someone set the clock to 2036
    verifier.verify(b"hello")
    assert verifier.mark.value < clock.wall() - 86400
    assert not mark_file.exists()


def test_time_mark_survives_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "codes-time.json"
    path.write_text("{not json")
    mark = TimeMark(path)
    assert mark.value == 0.0
    mark.observe(1000.0)
    mark.flush()
    assert TimeMark(path).value == 1000.0
