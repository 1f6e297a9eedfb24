"""What one row of the pass log says (docs/contracts.md §4.2), before the store stamps it.

The flow builds a :class:`Record`; the store adds identity and time (kiosk id, epoch, seq,
wall/monotonic clocks, boot id) when it commits. Nothing here may hold a name, an ID number
or a raw QR payload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kiosk.core.value import Value
from kiosk.core.verdict import CodeVerdict
from kiosk.schema import DECISIONS, HOUSEHOLD_RE, KINDS


class Reading(Value):
    """A finished temperature reading: the median of several samples, and how it was classified."""

    value_c: float
    samples: int
    spread_c: float
    ambient_c: float | None
    band: str
    object_c: float | None = None


@dataclass(frozen=True)
class Record:
    """One decision or event, as the flow decided it."""

    kind: str
    t: float                                  # monotonic time of the input that decided it
    decision: str | None = None
    cause: str | None = None                  # why, in one word: ok, fever, fever_retest, cold, code, ...
    verdict: CodeVerdict | None = None
    reading: Reading | None = None
    volunteer_ref: str | None = None
    device: str | None = None
    detail: str | None = None                 # short human text for faults/alarms (never personal data)
    household_ref: str | None = None          # door records: the household's pseudonym (schema.HOUSEHOLD_RE)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown record kind {self.kind!r}")
        if (self.kind == "pass") != (self.decision is not None):
            raise ValueError("pass records need a decision; other kinds must not have one")
        if self.decision is not None and self.decision not in DECISIONS:
            raise ValueError(f"unknown decision {self.decision!r}")
        if self.household_ref is not None and not re.fullmatch(HOUSEHOLD_RE, self.household_ref):
            raise ValueError("a household reference must be a pseudonym (hh- and 32 hex digits)")

    def columns(self) -> dict[str, Any]:
        """The flow's part of the row, as column name → value."""
        v, r = self.verdict, self.reading
        return {
            "kind": self.kind,
            "code_format": v.code_format if v else None,
            "code_kind": v.kind if v else None,
            "kid": v.kid if v else None,
            "issuer": v.issuer if v else None,
            "token_hash": v.token_hash if v else None,
            "holder_ref": v.holder_ref if v else self.household_ref,
            "colour": v.colour if v else None,
            "reason": v.reason if v else None,
            "temp_c": round(r.value_c, 2) if r else None,
            "temp_object_c": round(r.object_c, 2) if r and r.object_c is not None else None,
            "temp_samples": r.samples if r else None,
            "temp_spread_c": round(r.spread_c, 2) if r else None,
            "ambient_c": round(r.ambient_c, 2) if r and r.ambient_c is not None else None,
            "temp_verdict": r.band if r else None,
            "decision": self.decision,
            "cause": self.cause,
            "volunteer_ref": self.volunteer_ref,
            "device": self.device,
            "detail": self.detail,
        }


