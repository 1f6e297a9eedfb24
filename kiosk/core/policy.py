"""The kiosk's rules as small pure functions, each with a table-driven test.

Temperature bands follow docs/thermometer.md §2.5 (values already body-equivalent):
< 32.0 no target, 32.0–34.9 low, 35.0–37.2 normal, 37.3–42.5 high, > 42.5 implausible.
Code actions follow docs/health-codes.md §3.2 and issue #5: a valid green code (reason ``ok``) → measure,
yellow/replay/untrusted clock/stale bundle → volunteer, red and every failed check → deny with
the reason announced. A valid volunteer badge starts or ends a shift; an inspector's badge records a visit.
"""

from __future__ import annotations

from typing import Literal

from kiosk.core.value import Value
from kiosk.core.verdict import CodeVerdict

Band = Literal["no_target", "low", "normal", "high", "implausible"]
CodeAction = Literal["measure", "volunteer", "deny", "shift", "inspect"]


class Bands(Value):
    """Thresholds in °C (from [temperature])."""

    no_target_c: float = 32.0
    low_c: float = 35.0
    fever_c: float = 37.3
    implausible_c: float = 42.5


def temperature_band(value_c: float, bands: Bands) -> Band:
    """Classify a body-equivalent temperature. A low value is never 'normal' (cold foreheads)."""
    if value_c < bands.no_target_c:
        return "no_target"
    if value_c < bands.low_c:
        return "low"
    if value_c < bands.fever_c:
        return "normal"
    if value_c <= bands.implausible_c:
        return "high"
    return "implausible"


# Reasons after which a volunteer decides rather than the machine (docs/health-codes.md §3.2).
_VOLUNTEER_REASONS = frozenset({"yellow", "replay", "clock_untrusted", "stale_bundle"})


def code_action(verdict: CodeVerdict) -> CodeAction:
    """What the flow does with a verified code."""
    if verdict.reason == "ok":
        if verdict.kind == "volunteer":
            return "shift"
        return "inspect" if verdict.kind == "inspector" else "measure"
    if verdict.reason in _VOLUNTEER_REASONS:
        return "volunteer"
    return "deny"


def code_message(verdict: CodeVerdict) -> str:
    """Catalogue key announced when a code does not lead to a measurement."""
    reason = verdict.reason
    if reason in ("yellow", "red", "expired", "replay", "wrong_scope", "revoked"):
        return f"code_{reason}"
    if reason == "not_yet_valid":
        return "code_expired"
    if reason in ("clock_untrusted", "stale_bundle"):
        return "see_volunteer"
    return "code_invalid"


def low_reading_message(ambient_c: float | None, cold_ambient_c: float) -> str:
    """A low reading asks to uncover the forehead; in the cold it explains why."""
    if ambient_c is not None and ambient_c < cold_ambient_c:
        return "temp_low_cold"
    return "temp_low"
