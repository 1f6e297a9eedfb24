"""The kiosk's GPIO devices, built from ``[gpio]`` and closed together.

Construction order matters for safety: the relay comes first (so it is driven off before
anything else can fail), and if any later device fails, everything built so far is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gpiozero.pins import Factory

from drivers.gpio import (
    AmpEnable,
    ButtonPanel,
    GateRelay,
    Indicators,
    TimerFactory,
    close_factory,
    make_pin_factory,
    thread_timer,
)
from kiosk.config import Config

BUTTON_KEYS = {"pass": "button_pass_pin", "deny": "button_deny_pin",
               "remeasure": "button_remeasure_pin", "emergency": "button_emergency_pin"}


@dataclass
class Devices:
    factory: Factory
    relay: GateRelay
    indicators: Indicators
    amp: AmpEnable
    buttons: ButtonPanel

    def close(self) -> None:
        """Relay off first, then everything else; safe to call twice."""
        for dev in (self.relay, self.buttons, self.indicators, self.amp):
            try:
                dev.close()
            except Exception:  # noqa: BLE001 - closing must go on even if one device misbehaves
                pass
        close_factory(self.factory)


class ButtonSink(Protocol):
    def button_edge(self, button: str, pressed: bool) -> None: ...


class NoButtons:
    """A sink for a technician's tool that claims the pins but acts on no button (selftest)."""

    def button_edge(self, button: str, pressed: bool) -> None:
        pass


def start(cfg: Config, sink: ButtonSink, timer: TimerFactory = thread_timer) -> Devices:
    """Claim every ``[gpio]`` device, the relay first (driven off at once); button edges go to
    ``sink.button_edge`` from gpiozero's thread. If any device fails, everything built so far
    is closed and the error raised."""
    gpio = cfg.gpio
    factory = make_pin_factory(gpio.pin_factory, gpio.mock_journal)
    built: list[object] = []
    try:
        relay = GateRelay(gpio.relay_pin, active_high=gpio.relay_active_high,
                          pulse_s=gpio.gate_pulse_s, pin_factory=factory, timer=timer)
        built.append(relay)
        indicators = Indicators(green=gpio.led_green_pin, red=gpio.led_red_pin,
                                yellow=gpio.led_yellow_pin, buzzer=gpio.buzzer_pin, pin_factory=factory)
        built.append(indicators)
        amp = AmpEnable(gpio.amp_enable_pin, pin_factory=factory)
        built.append(amp)
        pins = {name: getattr(gpio, k) for name, k in BUTTON_KEYS.items()}
        buttons = ButtonPanel(pins, sink.button_edge, pin_factory=factory)
    except BaseException:
        for dev in reversed(built):
            dev.close()  # type: ignore[attr-defined]
        close_factory(factory)
        raise
    return Devices(factory, relay, indicators, amp, buttons)
