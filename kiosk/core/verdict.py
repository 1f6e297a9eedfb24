"""The result of checking one scanned code, as the pass flow and the pass log see it.

The reasons are the contract of docs/contracts.md §3.2: exactly one per verdict. A verdict carries only
pseudonymous, loggable facts (token hash, holder reference, kid) — never the raw payload.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.schema import REASONS


@dataclass(frozen=True)
class CodeVerdict:
    """What the verifier concluded about one payload."""

    reason: str
    code_format: str = "GK1"
    kind: str | None = None
    colour: str | None = None
    kid: str | None = None
    issuer: str | None = None
    token_hash: str | None = None
    holder_ref: str | None = None
    expires_at: float | None = None

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown verdict reason {self.reason!r}")

    @property
    def ok(self) -> bool:
        return self.reason == "ok"
