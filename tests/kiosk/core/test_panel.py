"""The volunteers' panel on the injected clock: chatter, taps, two buttons at once, the emergency
long press, and buttons stuck down for minutes."""

from __future__ import annotations

from kiosk.core.events import ButtonEdge, ButtonPress, DeviceFault, DeviceRecovered, EmergencyToggle
from kiosk.core.panel import STUCK_S, Panel

BOUNCE, HOLD = 0.05, 3.0


def run(panel: Panel, script: list[tuple[float, str, bool]], until: float | None = None) -> list[object]:
    """Feed edges in time order, ticking at every deadline in between, like the kiosk loop does."""
    out: list[object] = []
    end = until if until is not None else (script[-1][0] if script else 0.0)
    queue = sorted(script, key=lambda e: e[0])
    while True:
        deadline = panel.next_deadline()
        nxt = queue[0][0] if queue else None
        if deadline is not None and deadline <= end and (nxt is None or deadline < nxt):
            out += panel.tick(deadline)
            continue
        if not queue:
            break
        t, button, pressed = queue.pop(0)
        out += panel.edge(ButtonEdge(button, pressed, t))
    out += panel.tick(end)
    return out


def presses(events: list[object]) -> list[tuple[str, float]]:
    return [(e.button, round(e.t, 3)) for e in events if isinstance(e, ButtonPress)]


def test_a_clean_press_counts_once_on_release() -> None:
    out = run(Panel(BOUNCE, HOLD), [(10.0, "pass", True), (10.2, "pass", False)])
    assert presses(out) == [("pass", 10.2)]


def test_chatter_on_press_and_release_is_one_press() -> None:
    chatter = [(10.000, True), (10.004, False), (10.009, True), (10.013, False), (10.020, True),
               (10.300, False), (10.304, True), (10.310, False)]
    out = run(Panel(BOUNCE, HOLD), [(t, "deny", p) for t, p in chatter], until=11.0)
    assert presses(out) == [("deny", 10.3)]


def test_a_tap_shorter_than_the_bounce_time_still_releases() -> None:
    panel = Panel(BOUNCE, HOLD)
    out = run(panel, [(10.0, "pass", True), (10.02, "pass", False)], until=10.5)
    assert presses(out) == [("pass", 10.05)]
    assert not panel.is_pressed("pass")
    # and the panel is not left believing 'pass' is held: a later deny works
    out = run(panel, [(11.0, "deny", True), (11.2, "deny", False)])
    assert presses(out) == [("deny", 11.2)]


def test_two_buttons_at_once_mean_nothing_whichever_went_down_first() -> None:
    out = run(Panel(BOUNCE, HOLD), [(10.0, "pass", True), (10.1, "deny", True),
                                    (10.3, "pass", False), (10.35, "deny", False)])
    assert presses(out) == []
    out = run(Panel(BOUNCE, HOLD), [(10.0, "pass", True), (10.2, "deny", True),
                                    (10.25, "deny", False), (10.5, "pass", False)])
    assert presses(out) == []


def test_emergency_needs_the_long_hold_and_fires_once_per_hold() -> None:
    panel = Panel(BOUNCE, HOLD)
    bump = run(panel, [(10.0, "emergency", True), (12.9, "emergency", False)], until=20.0)
    assert not [e for e in bump if isinstance(e, EmergencyToggle)]
    held = run(panel, [(30.0, "emergency", True), (40.0, "emergency", False)], until=41.0)
    toggles = [e.t for e in held if isinstance(e, EmergencyToggle)]
    assert toggles == [33.0]
    assert not presses(held)


def test_emergency_bump_with_bouncing_release_never_fires() -> None:
    # pressed, released 20 ms later: the release falls inside the bounce window
    out = run(Panel(BOUNCE, HOLD), [(10.0, "emergency", True), (10.02, "emergency", False)], until=60.0)
    assert not [e for e in out if isinstance(e, EmergencyToggle)]


def test_a_button_stuck_for_minutes_is_a_fault_blocks_nothing_and_is_not_a_press() -> None:
    panel = Panel(BOUNCE, HOLD)
    out = run(panel, [(10.0, "pass", True)], until=10.0 + 5 * 60)
    faults = [e for e in out if isinstance(e, DeviceFault)]
    assert len(faults) == 1 and faults[0].device == "panel" and "'pass'" in faults[0].message
    assert faults[0].t == 10.0 + STUCK_S
    assert presses(out) == []
    assert panel.stuck() == ["pass"]
    # the other buttons still work while it is stuck
    out = run(panel, [(400.0, "deny", True), (400.2, "deny", False)])
    assert presses(out) == [("deny", 400.2)]
    # freeing it is a recovery, not a manual pass
    out = run(panel, [(500.0, "pass", False)], until=501.0)
    assert presses(out) == []
    assert [type(e) for e in out] == [DeviceRecovered]
    assert panel.next_deadline() is None


def test_stuck_emergency_holds_open_once_then_reports() -> None:
    out = run(Panel(BOUNCE, HOLD), [(10.0, "emergency", True)], until=10.0 + 10 * 60)
    assert [type(e) for e in out] == [EmergencyToggle, DeviceFault]
