"""What the pass flow asks the hardware and the log to do. The executor carries them out in order.

The one ordering rule that matters (docs/contracts.md §4.1, §5): gate actions that belong to a decision
ride inside :class:`Record` as ``on_commit`` and run only after COMMIT returned.
"""

from __future__ import annotations

from kiosk.core.records import Record
from kiosk.core.value import Value
from kiosk.core.verdict import CodeVerdict


class Announce(Value):
    """Play one message of the catalogue (kiosk/data/messages.toml)."""

    key: str


class SetLights(Value):
    """Show one panel state on the LEDs (the states are drivers.gpio.Indicators.PATTERNS)."""

    state: str


class Alert(Value):
    """Call the volunteer with the buzzer."""

    reason: str


class PulseGate(Value):
    """Open the gate for one pass (relay energised for the configured pulse)."""


class EndPulse(Value):
    """End a running pass pulse now: a deny, or the next resident's case, must not find the gate
    still open from the previous pass (the relay would otherwise stay energised for the rest of
    ``gpio.gate_pulse_s``). Closing is the safe side, so it does not wait for a COMMIT. The
    emergency hold-open is never ended by this (drivers.gpio.GateRelay.end_pulse)."""


class HoldGate(Value):
    """Hold the gate open (emergency) or release it."""

    open: bool


class UseCode(Value):
    """The code of this decision let someone through: it is used up (the verifier's replay cache).

    Rides in ``on_commit`` beside the gate action, so a code is spent exactly when the gate
    opens for it — after COMMIT, or for a record only held in memory under
    ``store.fail_policy = "hold"`` — and never for a pass that was refused.
    """

    verdict: CodeVerdict


GateAction = PulseGate | HoldGate | UseCode


class Store(Value):
    """Commit ``record``; then, and only then, run ``on_commit`` (gate actions)."""

    record: Record
    on_commit: tuple[GateAction, ...] = ()


Action = Announce | SetLights | Alert | PulseGate | EndPulse | HoldGate | UseCode | Store
