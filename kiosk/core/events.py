"""Events the pass flow reacts to. Drivers' callbacks become these, stamped with the clock.

Every event carries ``t``, the monotonic time it happened; the flow never reads a clock.
"""

from __future__ import annotations

from kiosk.core.value import Value
from kiosk.core.verdict import CodeVerdict


class CodeRead(Value):
    """A code was decoded and verified."""

    verdict: CodeVerdict
    t: float


class TempSample(Value):
    """One valid frame from the thermometer (°C). ``body_c`` is set by body-mode modules, which
    may not report the raw object temperature at all (``object_c`` None)."""

    object_c: float | None
    ambient_c: float | None
    body_c: float | None
    t: float


class ButtonEdge(Value):
    """A volunteer button changed state (raw, possibly bouncing)."""

    button: str
    pressed: bool
    t: float


class ButtonPress(Value):
    """A debounced, complete press of a volunteer button (emergency presses are never these)."""

    button: str
    t: float


class EmergencyToggle(Value):
    """The emergency button was held long enough: toggle hold-open."""

    t: float


class ShiftBadge(Value):
    """A volunteer scanned their badge: start or end their shift."""

    volunteer_ref: str
    t: float


class Tick(Value):
    """Time passed; the flow checks its deadlines."""

    t: float


class DeviceFault(Value):
    """A device stopped working (unplugged, no frames, log not writable)."""

    device: str
    message: str
    t: float


class DeviceRecovered(Value):
    """A faulted device works again."""

    device: str
    t: float


class RecordFailed(Value):
    """The executor could not commit a record; gate actions waiting on it were not done."""

    message: str
    t: float


Event = (CodeRead | TempSample | ButtonEdge | ButtonPress | EmergencyToggle | ShiftBadge | Tick
         | DeviceFault | DeviceRecovered | RecordFailed)
