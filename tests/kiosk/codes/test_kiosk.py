"""GK1 codes wired into the kiosk: [codes] config → verifier, commits mark codes used, flow actions."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from kiosk.codes.drill import Drill
from kiosk.codes.verifier import CodeVerifier
from kiosk.config import Config
from kiosk.core.flow import State
from kiosk.errors import ConfigError
from kiosk.passlog.reader import connect_readonly
from kiosk.service.assembly import assembled
from kiosk.service.runtime import Kiosk, NoTrustVerifier
from tests.codes_support import HOLDER
from tests.conftest import ManualTimers


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall=1_780_000_000.0, synced=True)


@pytest.fixture
def drill(tmp_path: Path, clock: FakeClock, cfg: Config) -> Drill:
    return Drill(tmp_path / "trust", cfg.kiosk.compound, clock.wall(), gate=cfg.kiosk.gate)


@pytest.fixture
def trusting(cfg: Config, drill: Drill) -> Config:
    return cfg.replace(codes=dataclasses.replace(cfg.codes, root_key=drill.root_key_path, bundle=drill.bundle_path))


def measure(kiosk: Kiosk, clock: FakeClock, body_c: float = 36.6) -> None:
    offset = kiosk.cfg.temperature.skin_offset_c
    for _ in range(30):
        if kiosk.flow.state is not State.MEASURING:
            return
        clock.advance(0.07)
        kiosk.inbox.sample_seen(body_c - offset, 22.0, None)
        kiosk.pump()


def show(kiosk: Kiosk, payload: str) -> None:
    kiosk.payload_seen(payload.encode())
    kiosk.pump()


def passes(cfg: Config) -> list[dict[str, object]]:
    conn = connect_readonly(cfg.db_path)
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM records ORDER BY seq")]
    finally:
        conn.close()


def test_green_code_passes_and_a_second_person_with_it_is_a_replay(trusting: Config, drill: Drill,
                                                                   clock: FakeClock) -> None:
    with assembled(trusting, clock, ManualTimers()) as kiosk:
        assert isinstance(kiosk.verifier, CodeVerifier)
        payload = drill.code("green", HOLDER, clock.wall())
        show(kiosk, payload)
        assert kiosk.flow.state is State.MEASURING
        show(kiosk, payload)                         # still held up while measuring: same case
        measure(kiosk, clock)
        assert kiosk.flow.state is State.RESULT
        clock.advance(1.0)
        show(kiosk, payload)                         # still held up while the gate opens: ignored
        assert kiosk.flow.state is State.RESULT
        clock.advance(kiosk.cfg.flow.result_hold_s)
        kiosk.pump()
        assert kiosk.flow.state is State.IDLE
        show(kiosk, payload)                         # the screenshot handed to the next person
        assert kiosk.flow.state is State.VOLUNTEER and kiosk.flow.case.cause == "replay"
    rows = [r for r in passes(trusting) if r["kind"] == "pass"]
    assert [(r["decision"], r["reason"]) for r in rows] == [("pass", "ok")]
    assert rows[0]["token_hash"] and rows[0]["holder_ref"] == HOLDER.hex() and rows[0]["code_kind"] == "dynamic"
    assert all(payload not in str(v) for r in rows for v in r.values())


@pytest.mark.parametrize("what, decision, cause", [
    ("red", "deny", "code"), ("forged", "deny", "code"), ("expired", "deny", "code"),
    ("wrong_scope", "deny", "code"), ("revoked", "deny", "code"),
])
def test_refused_codes_are_denied_with_their_reason(trusting: Config, drill: Drill, clock: FakeClock,
                                                    what: str, decision: str, cause: str) -> None:
    with assembled(trusting, clock, ManualTimers()) as kiosk:
        show(kiosk, drill.code(what, HOLDER, clock.wall()))
        assert kiosk.flow.state is State.RESULT
    (row,) = [r for r in passes(trusting) if r["kind"] == "pass"]
    expected = {"forged": "bad_signature"}.get(what, what)
    assert (row["decision"], row["cause"], row["reason"]) == (decision, cause, expected)


def test_yellow_goes_to_the_volunteer_and_a_badge_starts_and_ends_a_shift(trusting: Config, drill: Drill,
                                                                          clock: FakeClock) -> None:
    volunteer = bytes(range(16, 32))
    with assembled(trusting, clock, ManualTimers()) as kiosk:
        show(kiosk, drill.code("volunteer", volunteer, clock.wall()))
        assert kiosk.flow.on_duty == volunteer.hex()
        show(kiosk, drill.code("yellow", HOLDER, clock.wall()))
        assert kiosk.flow.state is State.VOLUNTEER
        clock.advance(trusting.flow.shift_min_s)      # the volunteer leaves a while later
        show(kiosk, drill.code("volunteer", volunteer, clock.wall()))
        assert kiosk.flow.on_duty is None
    kinds = [r["kind"] for r in passes(trusting)]
    assert kinds[0] == "shift_start" and "shift_end" in kinds


def test_without_a_root_key_nothing_is_trusted_and_the_log_says_why(cfg: Config, clock: FakeClock,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kiosk.service.assembly"):
        with assembled(cfg, clock, ManualTimers()) as kiosk:
            assert isinstance(kiosk.verifier, NoTrustVerifier)
    assert "codes.root_key is not set" in caplog.text


def test_an_unreadable_root_key_stops_start_up(cfg: Config, clock: FakeClock, tmp_path: Path) -> None:
    (tmp_path / "root.pub").write_text("not a key")
    bad = cfg.replace(codes=dataclasses.replace(cfg.codes, root_key=tmp_path / "root.pub"))
    with pytest.raises(ConfigError, match=r"codes\.root_key"):
        with assembled(bad, clock, ManualTimers()):
            pass


def test_the_kiosk_keeps_its_last_good_bundle_when_sync_delivers_a_bad_one(
        trusting: Config, drill: Drill, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    with assembled(trusting, clock, ManualTimers()) as kiosk:
        drill.bundle_path.write_bytes(b"<html>502 Bad Gateway</html>")
        clock.advance(2.0)
        with caplog.at_level(logging.ERROR, logger="kiosk.codes.trust"):
            show(kiosk, drill.code("green", HOLDER, clock.wall()))
        assert kiosk.flow.state is State.MEASURING
        assert isinstance(kiosk.verifier, CodeVerifier)
        assert "refused" in kiosk.verifier.trust.message and "keeping seq 1" in kiosk.verifier.trust.message
    assert "refused" in caplog.text
    with assembled(trusting, clock, ManualTimers()) as kiosk:   # and after a restart, from the state dir's copy
        assert isinstance(kiosk.verifier, CodeVerifier)
        assert kiosk.verifier.trust.bundle is not None and kiosk.verifier.trust.bundle.seq == 1


def test_kiosk_status_says_which_bundle_is_in_force_or_why_not(trusting: Config, drill: Drill, clock: FakeClock,
                                                               tmp_path: Path) -> None:
    from kiosk.cli.status import render
    from kiosk.service.housekeeping import Housekeeper
    from kiosk.service.sdnotify import Notifier
    from kiosk.statefiles import read_status
    status_file = tmp_path / "run" / "status.json"
    with assembled(trusting, clock, ManualTimers()) as kiosk:
        keeper = Housekeeper(kiosk, Notifier(""), status_file=status_file)
        keeper.cycle()
        assert keeper.flush()
        assert "codes:        trust bundle seq 1 from street DEMO-STREET" in render(read_status(status_file))
        drill.publish(seq=0)       # no code shown meanwhile: the status writer looks at the file itself
        clock.advance(2.0)
        keeper.cycle()
        assert keeper.flush()
        keeper.close()
        line = read_status(status_file)["codes"]
        assert "rollback refused: seq 0" in line and "keeping seq 1" in line
