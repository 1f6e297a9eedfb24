"""Table-driven tests of the pure policy functions."""

from __future__ import annotations

import pytest

from kiosk.core.policy import Bands, code_action, code_message, low_reading_message, temperature_band
from kiosk.core.verdict import CodeVerdict
from kiosk.schema import REASONS

BANDS = Bands()


@pytest.mark.parametrize("value, band", [
    (20.0, "no_target"), (31.99, "no_target"),
    (32.0, "low"), (33.2, "low"), (34.99, "low"),
    (35.0, "normal"), (36.6, "normal"), (37.29, "normal"),
    (37.3, "high"), (38.5, "high"), (42.5, "high"),
    (42.51, "implausible"), (60.0, "implausible"),
])
def test_temperature_band(value: float, band: str) -> None:
    assert temperature_band(value, BANDS) == band


def test_fever_threshold_is_configurable() -> None:
    assert temperature_band(37.4, Bands(fever_c=37.5)) == "normal"
    assert temperature_band(37.5, Bands(fever_c=37.5)) == "high"


CODE_TABLE = {
    "ok": "measure", "yellow": "volunteer", "replay": "volunteer", "clock_untrusted": "volunteer",
    "stale_bundle": "volunteer", "red": "deny", "bad_prefix": "deny", "decode_error": "deny",
    "unknown_kid": "deny", "bad_signature": "deny", "alg_not_allowed": "deny", "not_yet_valid": "deny",
    "expired": "deny", "wrong_scope": "deny", "revoked": "deny", "unsupported_format": "deny",
}


def test_code_table_covers_every_reason() -> None:
    assert set(CODE_TABLE) == set(REASONS)


@pytest.mark.parametrize("reason, action", sorted(CODE_TABLE.items()))
def test_code_action(reason: str, action: str) -> None:
    assert code_action(CodeVerdict(reason=reason)) == action


def test_volunteer_badge_is_a_shift_not_a_pass() -> None:
    assert code_action(CodeVerdict(reason="ok", kind="volunteer")) == "shift"
    assert code_action(CodeVerdict(reason="expired", kind="volunteer")) == "deny"


@pytest.mark.parametrize("reason, key", [
    ("yellow", "code_yellow"), ("red", "code_red"), ("expired", "code_expired"),
    ("not_yet_valid", "code_expired"), ("replay", "code_replay"), ("wrong_scope", "code_wrong_scope"),
    ("revoked", "code_revoked"), ("bad_signature", "code_invalid"), ("unsupported_format", "code_invalid"),
    ("clock_untrusted", "see_volunteer"), ("stale_bundle", "see_volunteer"),
])
def test_code_message(reason: str, key: str) -> None:
    assert code_message(CodeVerdict(reason=reason)) == key


@pytest.mark.parametrize("ambient, key", [(None, "temp_low"), (20.0, "temp_low"), (9.9, "temp_low_cold"),
                                          (-5.0, "temp_low_cold")])
def test_low_reading_message(ambient: float | None, key: str) -> None:
    assert low_reading_message(ambient, 10.0) == key


def test_unknown_reason_is_refused() -> None:
    with pytest.raises(ValueError):
        CodeVerdict(reason="looks_green")
