"""Helpers shared by the health-code tests: a drill trust set and a verifier on a fake clock."""

from __future__ import annotations

from pathlib import Path

from kiosk.clock import FakeClock
from kiosk.codes.drill import Drill
from kiosk.codes.keys import load_public
from kiosk.codes.trust import TrustStore
from kiosk.codes.verifier import CodeVerifier, build
from kiosk.statefiles import BUNDLE_LAST_GOOD as LAST_GOOD_NAME

COMPOUND = "c1"
HOLDER = bytes(range(16))


def make_drill(tmp_path: Path, clock: FakeClock, **kw: object) -> Drill:
    return Drill(tmp_path / "trust", COMPOUND, clock.wall(), gate="main", **kw)  # type: ignore[arg-type]


def make_verifier(drill: Drill, clock: FakeClock, state_dir: Path | None = None,
                  bundle_path: Path | None = None) -> CodeVerifier:
    trust = TrustStore(load_public(drill.root_key_path), bundle_path or drill.bundle_path,
                       state_dir / LAST_GOOD_NAME if state_dir is not None else None)
    return build(trust, clock, compound=COMPOUND, gate="main", skew_s=30.0, max_payload_bytes=4096,
                 state_dir=state_dir)
