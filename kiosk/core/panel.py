"""Volunteer buttons: raw edges in, debounced presses and emergency long-presses out. Pure.

gpiozero's mock pins do not debounce and its hold timer runs on real time, so both live here
on the injected clock.

* Debounce: the first edge after a quiet spell counts at once (the panel feels instant);
  edges within ``bounce_s`` of it are contact chatter. Chatter can hide the real final level
  (a tap shorter than ``bounce_s``), so once the quiet spell is over the button takes whatever
  level the pin last reported — a bump never leaves a button "held".
* A press counts when the button is released: pass, deny and re-measure act on release, and
  only if no other of them was down at any moment of the press (two buttons at once mean
  nothing, whichever went down first).
* Emergency: acts only after being held ``hold_s`` (a deliberate long press, so a bump cannot
  open the gate), once per hold however long it stays down.
* Stuck: a button down for :data:`STUCK_S` is reported as a panel fault (a technician must
  look), stops blocking the other buttons, and its eventual release is not a press.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.core.events import ButtonEdge, ButtonPress, DeviceFault, DeviceRecovered, EmergencyToggle

EMERGENCY = "emergency"
DEVICE = "panel"
STUCK_S = 60.0      # far longer than any deliberate press (emergency_hold_s is at most 10 s)

PanelEvent = ButtonPress | EmergencyToggle | DeviceFault | DeviceRecovered


@dataclass
class _ButtonState:
    raw: bool = False                 # the level the pin last reported
    raw_at: float = float("-inf")     # when it reported it
    pressed: bool = False             # the debounced level
    changed_at: float = float("-inf")  # when the debounced level last changed
    pressed_at: float = 0.0
    spoiled: bool = False             # another button was down during this press
    fired: bool = False               # the emergency toggle fired for this hold
    stuck: bool = False               # reported as stuck


@dataclass
class Panel:
    bounce_s: float
    hold_s: float
    _buttons: dict[str, _ButtonState] = field(default_factory=dict)

    def edge(self, ev: ButtonEdge) -> list[PanelEvent]:
        """Accept one raw edge; return what it completes."""
        st = self._buttons.setdefault(ev.button, _ButtonState())
        st.raw, st.raw_at = ev.pressed, ev.t
        return self._settle(ev.button, st, ev.t)

    def tick(self, now: float) -> list[PanelEvent]:
        """Settle chatter, fire the emergency toggle, notice stuck buttons."""
        out: list[PanelEvent] = []
        for name, st in self._buttons.items():
            out += self._settle(name, st, now)
            if not st.pressed:
                continue
            if name == EMERGENCY and not st.fired and now - st.pressed_at >= self.hold_s:
                st.fired = True
                out.append(EmergencyToggle(now))
            if not st.stuck and now - st.pressed_at >= STUCK_S:
                first = not self._any_stuck()
                st.stuck = True
                if first:
                    out.append(DeviceFault(DEVICE, f"button '{name}' held down for {STUCK_S:.0f} s: "
                                                   "stuck or wedged, check the panel", now))
        return out

    def next_deadline(self) -> float | None:
        times: list[float] = []
        for name, st in self._buttons.items():
            if st.raw != st.pressed:
                times.append(st.changed_at + self.bounce_s)
            if st.pressed and name == EMERGENCY and not st.fired:
                times.append(st.pressed_at + self.hold_s)
            if st.pressed and not st.stuck:
                times.append(st.pressed_at + STUCK_S)
        return min(times) if times else None

    def is_pressed(self, button: str) -> bool:
        st = self._buttons.get(button)
        return bool(st and st.pressed)

    def stuck(self) -> list[str]:
        return [name for name, st in self._buttons.items() if st.stuck]

    # ------------------------------------------------------------------ internals

    def _settle(self, name: str, st: _ButtonState, now: float) -> list[PanelEvent]:
        if st.raw == st.pressed or now - st.changed_at < self.bounce_s:
            return []
        # the level became what it is at its last edge, or when the chatter window closed
        at = max(st.raw_at, st.changed_at + self.bounce_s)
        st.pressed, st.changed_at = st.raw, at
        return self._down(name, st, at) if st.pressed else self._up(name, st, at)

    def _down(self, name: str, st: _ButtonState, now: float) -> list[PanelEvent]:
        st.pressed_at, st.fired, st.spoiled, st.stuck = now, False, False, False
        if name == EMERGENCY:
            return []       # it acts after hold_s, from tick()
        others = [b for n, b in self._buttons.items()
                  if n not in (name, EMERGENCY) and b.pressed and not b.stuck]
        if others:
            st.spoiled = True
            for b in others:
                b.spoiled = True
        return []

    def _up(self, name: str, st: _ButtonState, now: float) -> list[PanelEvent]:
        if st.stuck:
            st.stuck = False
            return [] if self._any_stuck() else [DeviceRecovered(DEVICE, now)]
        if name == EMERGENCY or st.spoiled:
            return []
        return [ButtonPress(name, now)]

    def _any_stuck(self) -> bool:
        return any(st.stuck for st in self._buttons.values())
