"""Volunteer buttons: raw edges in, debounced presses and emergency long-presses out. Pure.

gpiozero's mock pins do not debounce and its hold timer runs on real time, so both live here
on the injected clock: an edge closer than ``bounce_s`` to the previous accepted edge of the same
button is bounce; the emergency button only acts after being held ``hold_s`` (a deliberate
long press, so a bump cannot open the gate), once per hold however long it stays down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.events import ButtonEdge, ButtonPress, EmergencyToggle

EMERGENCY = "emergency"


@dataclass
class _ButtonState:
    pressed: bool = False
    last_edge: float = float("-inf")
    pressed_at: float = 0.0
    fired: bool = False


@dataclass
class Panel:
    bounce_s: float
    hold_s: float
    _buttons: dict[str, _ButtonState] = field(default_factory=dict)

    def edge(self, ev: ButtonEdge) -> list[ButtonPress | EmergencyToggle]:
        """Accept one raw edge; return the presses it completes."""
        st = self._buttons.setdefault(ev.button, _ButtonState())
        if ev.pressed == st.pressed or ev.t - st.last_edge < self.bounce_s:
            return []
        st.pressed, st.last_edge = ev.pressed, ev.t
        if not ev.pressed:
            return []
        st.pressed_at, st.fired = ev.t, False
        if ev.button == EMERGENCY:
            return self.tick(ev.t)
        if any(b.pressed for name, b in self._buttons.items() if name not in (ev.button, EMERGENCY)):
            return []   # two buttons at once: neither means anything
        return [ButtonPress(ev.button, ev.t)]

    def tick(self, now: float) -> list[ButtonPress | EmergencyToggle]:
        """Fire the emergency toggle once the button has been held long enough."""
        st = self._buttons.get(EMERGENCY)
        if st and st.pressed and not st.fired and now - st.pressed_at >= self.hold_s:
            st.fired = True
            return [EmergencyToggle(now)]
        return []

    def next_deadline(self) -> float | None:
        st = self._buttons.get(EMERGENCY)
        if st and st.pressed and not st.fired:
            return st.pressed_at + self.hold_s
        return None

    def is_pressed(self, button: str) -> bool:
        st = self._buttons.get(button)
        return bool(st and st.pressed)
