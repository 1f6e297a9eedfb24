"""GPIO devices of the kiosk on gpiozero: gate relay, LEDs, buzzer, amplifier enable, buttons.

The pin factory is chosen by name, as gpiozero intends (the names of its ``gpiozero_pin_factories``
entry points: gpiozero's own five are looked up in :data:`GPIOZERO_FACTORIES`, any other name
through the entry points), and handed to every device with ``pin_factory=`` — nothing is
monkeypatched. ``mock``
is gpiozero's own MockFactory; with a journal path it uses :class:`JournalMockPin`, which
appends one JSON line per output pin change so other processes (tests, the crash harness,
technicians) can see what the "hardware" did::

    {"t": 1780000000.123, "pin": 17, "name": "relay", "state": 1}
"""

from __future__ import annotations

import functools
import importlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol, TextIO

from gpiozero import LED, Buzzer, Device, DigitalInputDevice, DigitalOutputDevice
from gpiozero.exc import GPIOPinInUse, PinInvalidPin
from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory, MockPin

from drivers.errors import DeviceConfigError, DeviceUnavailable

# --------------------------------------------------------------------------- factories

class PinJournal:
    """Append-only JSON-lines log of output pin changes, flushed line by line."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._names: dict[int, str] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh: TextIO | None = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise DeviceConfigError(f"cannot open GPIO journal {self.path}: {exc.strerror}") from None

    def name(self, pin: int, name: str) -> None:
        self._names[pin] = name

    def write(self, pin: int, state: bool) -> None:
        line = json.dumps({"t": round(time.time(), 6), "pin": pin,
                           "name": self._names.get(pin, f"gpio{pin}"), "state": int(state)})
        with self._lock:
            if self._fh is not None:
                self._fh.write(line + "\n")
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


STATES_KEPT = 256
"""Changes a journalled mock pin keeps in ``states``: gpiozero's MockPin appends every change
there for ever (~96 bytes each, ~10 a pass), which made a long `kiosk run` on the stand-ins grow
~1 KB a pass (issue 17). The journal is the full record; ``states`` keeps the last
``STATES_KEPT`` to ``2 * STATES_KEPT`` changes (at most ~50 KB a pin)."""


class JournalMockPin(MockPin):  # type: ignore[misc]  # gpiozero ships no type hints
    """A gpiozero MockPin that also journals its output changes (and becoming an output), and
    keeps only its recent changes in ``states`` (see :data:`STATES_KEPT`)."""

    journal: PinJournal | None = None

    def _bcm(self) -> int:
        return int(self.info.name.removeprefix("GPIO"))

    def _set_function(self, value: str) -> None:
        was_output = self._function == "output"
        super()._set_function(value)
        if value == "output" and not was_output and self.journal is not None:
            self.journal.write(self._bcm(), self._state)

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        if changed and self._function == "output" and self.journal is not None:
            self.journal.write(self._bcm(), value)
        if len(self.states) > 2 * STATES_KEPT:      # trimmed in halves: amortised O(1), a list still
            del self.states[:-STATES_KEPT]
        return changed


class JournalMockFactory(MockFactory):  # type: ignore[misc]
    """MockFactory whose pins write to one :class:`PinJournal`."""

    def __init__(self, journal: PinJournal) -> None:
        pin_class = type("BoundJournalMockPin", (JournalMockPin,), {"journal": journal})
        super().__init__(pin_class=pin_class)
        self.journal = journal

    def close(self) -> None:
        super().close()
        self.journal.close()


# gpiozero's own pin factories, as its entry points name them (gpiozero 2.0's entry_points.txt; a
# test checks they still agree). Looked up here because resolving a name through
# importlib.metadata reads every installed distribution's metadata: ~13 ms of CPU before READY
# (docs/benchmarks.md), ~50 ms of the start under a quarter of a core.
GPIOZERO_FACTORIES: dict[str, str] = {
    "lgpio": "gpiozero.pins.lgpio:LGPIOFactory",
    "rpigpio": "gpiozero.pins.rpigpio:RPiGPIOFactory",
    "pigpio": "gpiozero.pins.pigpio:PiGPIOFactory",
    "native": "gpiozero.pins.native:NativeFactory",
    "mock": "gpiozero.pins.mock:MockFactory",
}


def _factory_loader(name: str) -> Callable[[], Callable[[], Factory]] | None:
    """How to load the class of the pin factory ``name`` (gpiozero's own directly, others by
    entry point); None if nobody provides it. Loading may fail (ImportError, …) on this machine."""
    if name in GPIOZERO_FACTORIES:
        module, _, attr = GPIOZERO_FACTORIES[name].partition(":")
        return lambda: getattr(importlib.import_module(module), attr)
    from importlib.metadata import entry_points
    for ep in entry_points(group="gpiozero_pin_factories"):
        if ep.name == name:
            return ep.load
    return None


def make_pin_factory(name: str, journal: Path | None = None) -> Factory:
    """Build the pin factory called ``name`` (``mock``, ``lgpio``, ``rpigpio``, …)."""
    if name == "mock":
        return JournalMockFactory(PinJournal(journal)) if journal else MockFactory()
    if journal is not None:
        raise DeviceConfigError("a GPIO journal is only available with the mock pin factory")
    load = _factory_loader(name)
    if load is None:
        raise DeviceConfigError(f"unknown GPIO pin factory {name!r}")
    try:
        return load()()
    except Exception as exc:  # noqa: BLE001 - each backend fails in its own way (ImportError, OSError, …)
        raise DeviceUnavailable(f"GPIO pin factory {name!r} is not usable here: {exc}") from None


def label(factory: Factory, pin: int, name: str) -> None:
    """Give a pin a device name in the journal (no-op for real factories)."""
    journal = getattr(factory, "journal", None)
    if isinstance(journal, PinJournal):
        journal.name(pin, name)


def _build(factory: Factory, pin: int, name: str, make: Callable[[], Any]) -> Any:
    label(factory, pin, name)
    try:
        return make()
    except GPIOPinInUse:
        raise DeviceConfigError(f"{name}: GPIO{pin} is already in use by another device") from None
    except PinInvalidPin:
        raise DeviceConfigError(f"{name}: GPIO{pin} is not a valid pin on this board") from None


# --------------------------------------------------------------------------- outputs

build_device = _build
"""Construct one gpiozero device on a pin, turning pin clashes into a DeviceConfigError
(public for the other GPIO drivers, e.g. drivers.voice.module)."""


class Cancellable(Protocol):
    def cancel(self) -> None: ...


TimerFactory = Callable[[float, Callable[[], None]], Cancellable]


def thread_timer(delay_s: float, fn: Callable[[], None]) -> Cancellable:
    """Run ``fn`` after ``delay_s`` on a daemon thread (the relay's own clock, not the main loop's)."""
    timer = threading.Timer(delay_s, fn)
    timer.daemon = True
    timer.start()
    return timer


class GateRelay:
    """The gate relay: off at construction, on close and at interpreter exit.

    :param pin: BCM pin driving the relay board.
    :param active_high: True if a high pin energises the relay.
    :param pulse_s: how long :meth:`pulse` keeps it energised.
    :param timer: schedules the end of a pulse; the default is a thread timer, so the gate
        closes on time even if the kiosk's main loop hangs. Tests inject a manual timer.

    A SIGKILL or power cut cannot run any code: the wiring (a pull-down on the relay input,
    README "Wiring") keeps the gate shut then.
    """

    def __init__(self, pin: int, *, active_high: bool = True, pulse_s: float = 3.0,
                 pin_factory: Factory, timer: TimerFactory = thread_timer) -> None:
        self.pulse_s = pulse_s
        self._timer_factory = timer
        self._timer: Cancellable | None = None
        self._holding = False
        self._lock = threading.Lock()
        self._dev: DigitalOutputDevice = _build(pin_factory, pin, "relay", lambda: DigitalOutputDevice(
            pin, active_high=active_high, initial_value=False, pin_factory=pin_factory))

    @property
    def is_open(self) -> bool:
        return bool(self._dev.value)

    def pulse(self, seconds: float | None = None) -> None:
        """Energise for ``seconds`` (default ``pulse_s``; a pulse during another one extends it;
        ignored while held open)."""
        with self._lock:
            if self._holding:
                return
            self._cancel_timer()
            self._dev.on()
            self._timer = self._timer_factory(self.pulse_s if seconds is None else seconds, self._end_pulse)

    def _end_pulse(self) -> None:
        with self._lock:
            self._timer = None
            if not self._holding and not self._dev.closed:
                self._dev.off()

    def end_pulse(self) -> None:
        """End a running pulse now (a deny, the next resident); the hold-open is left alone."""
        with self._lock:
            if self._holding:
                return
            self._cancel_timer()
            if not self._dev.closed and self._dev.value:
                self._dev.off()

    def hold(self) -> None:
        """Energise until :meth:`release` (emergency hold-open)."""
        with self._lock:
            self._cancel_timer()
            self._holding = True
            self._dev.on()

    def release(self) -> None:
        with self._lock:
            self._cancel_timer()
            self._holding = False
            self._dev.off()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        with self._lock:
            self._cancel_timer()
            self._holding = False
            if not self._dev.closed:
                self._dev.off()
                self._dev.close()

    def __enter__(self) -> GateRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Indicators:
    """Green, red and yellow LEDs and the buzzer, driven by panel state names."""

    PATTERNS: ClassVar[dict[str, tuple[str, ...]]] = {
        "idle": (),
        "measuring": ("yellow",),
        "pass": ("green",),
        "deny": ("red",),
        "volunteer": ("yellow", "red"),
        "fault": ("red~",),
        "hold_open": ("green~",),
        "offline": ("yellow~",),
    }

    def __init__(self, *, green: int, red: int, yellow: int, buzzer: int, pin_factory: Factory) -> None:
        self.leds: dict[str, LED] = {}
        self.modes: dict[str, str] = {}      # colour → on/off/blink, as last shown
        self.state = "idle"
        try:
            for colour, pin in (("green", green), ("red", red), ("yellow", yellow)):
                self.leds[colour] = _build(pin_factory, pin, f"led_{colour}",
                                           functools.partial(LED, pin, pin_factory=pin_factory))
            self.buzzer: Buzzer = _build(pin_factory, buzzer, "buzzer",
                                         lambda: Buzzer(buzzer, pin_factory=pin_factory))
        except BaseException:
            self.close()
            raise

    def show(self, state: str) -> None:
        """Light the LEDs for ``state``; a ``~`` suffix blinks."""
        wanted = self.PATTERNS.get(state)
        if wanted is None:
            raise DeviceConfigError(f"unknown panel state {state!r}")
        for colour, led in self.leds.items():
            if colour in wanted:
                led.on()
                self.modes[colour] = "on"
            elif colour + "~" in wanted:
                if self.modes.get(colour) != "blink":      # keep an ongoing blink in step
                    led.blink(on_time=0.5, off_time=0.5, background=True)
                self.modes[colour] = "blink"
            else:
                led.off()
                self.modes[colour] = "off"
        self.state = state

    def beep(self, times: int = 3) -> None:
        self.buzzer.beep(on_time=0.15, off_time=0.1, n=times, background=True)

    def close(self) -> None:
        for dev in [*self.leds.values(), getattr(self, "buzzer", None)]:
            if dev is not None and not dev.closed:
                dev.off()
                dev.close()


class AmpEnable:
    """Amplifier enable pin: on only while a clip plays, so the speaker does not hum."""

    def __init__(self, pin: int, *, pin_factory: Factory) -> None:
        self._dev: DigitalOutputDevice = _build(pin_factory, pin, "amp_enable", lambda: DigitalOutputDevice(
            pin, initial_value=False, pin_factory=pin_factory))

    def on(self) -> None:
        self._dev.on()

    def off(self) -> None:
        self._dev.off()

    @property
    def is_on(self) -> bool:
        return bool(self._dev.value)

    def close(self) -> None:
        if not self._dev.closed:
            self._dev.off()
            self._dev.close()


# --------------------------------------------------------------------------- inputs

class ButtonPanel:
    """The volunteers' buttons (to ground, internal pull-ups). Reports raw edges only.

    Debounce and long-press live in the kiosk on its injected clock; here each edge calls
    ``on_edge(name, pressed)`` from gpiozero's event thread. So each button is a plain
    ``DigitalInputDevice`` (pull-up: active low), not a ``Button``: gpiozero gives every ``Button``
    a hold thread that wakes ten times a second for its ``when_held``, which the kiosk never uses —
    four buttons cost 0.16 % of a core doing nothing (docs/benchmarks.md "Idle CPU, issue 17").
    """

    def __init__(self, pins: dict[str, int], on_edge: Callable[[str, bool], None], *,
                 pin_factory: Factory) -> None:
        self.buttons: dict[str, DigitalInputDevice] = {}
        try:
            for name, pin in pins.items():
                btn = _build(pin_factory, pin, f"button_{name}",
                             functools.partial(DigitalInputDevice, pin, pull_up=True, pin_factory=pin_factory))
                btn.when_activated = lambda _d, name=name: on_edge(name, True)
                btn.when_deactivated = lambda _d, name=name: on_edge(name, False)
                self.buttons[name] = btn
        except BaseException:
            self.close()
            raise

    def pin(self, name: str) -> Any:
        """The underlying pin (mock pins can be driven by tests and the demo)."""
        return self.buttons[name].pin

    def close(self) -> None:
        for btn in self.buttons.values():
            if not btn.closed:
                btn.close()


def close_factory(factory: Factory) -> None:
    """Release the factory (and its journal) after all devices are closed."""
    try:
        factory.close()
    finally:
        if Device.pin_factory is factory:
            Device.pin_factory = None
