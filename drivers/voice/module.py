"""A voice-playback module whose tracks are triggered by GPIO levels (DY-SV5W, DY-SV8F, DY-HV8F).

Such modules hold the clips on their own flash or SD card (files ``00001.wav`` …) and have
their own amplifier. In their I/O modes (set with the CON1–CON3 DIP switches) the inputs
IO0–IO7 are active low:

* ``per_pin`` ("I/O independent mode"): IO\\ *n* plays track *n* + 1, so up to 8 tracks;
* ``binary`` ("I/O combination mode"): IO0…IO7 hold the track number in binary, IO0 the
  least significant bit, up to 255 tracks.

(DY-HV8F / DY-SV5W manuals, "Work Mode Configuration" table.) A new trigger interrupts the
track that is playing, which gives the same "newest wins" behaviour as the ALSA speaker.
Volume is the module's potentiometer; the Pi cannot set it in these modes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence

from gpiozero import DigitalOutputDevice
from gpiozero.pins import Factory

from drivers.errors import DeviceConfigError, SpeechUnavailable
from drivers.gpio import build_device
from drivers.voice.player import Utterance

MODES = ("per_pin", "binary")


class VoiceModule:
    """Drives the module's trigger inputs; a :class:`~drivers.voice.player.Backend`.

    :param pins: BCM pins wired to IO0, IO1, … in that order.
    :param mode: ``per_pin`` or ``binary`` (see the module docstring).
    :param pulse_s: how long the trigger level is held (the module samples its inputs).
    :param active_low: the module triggers on a low level (true for the DY modules).
    """

    def __init__(self, pins: Sequence[int], *, mode: str = "per_pin", pulse_s: float = 0.1,
                 active_low: bool = True, pin_factory: Factory) -> None:
        if mode not in MODES:
            raise DeviceConfigError(f"voice module mode {mode!r} is not one of {', '.join(MODES)}")
        if not pins:
            raise DeviceConfigError("voice module needs at least one trigger pin")
        if len(set(pins)) != len(pins):
            raise DeviceConfigError(f"voice module pins {list(pins)} name a pin twice")
        self.mode, self.pulse_s = mode, pulse_s
        self.pins = tuple(pins)
        self.outputs: list[DigitalOutputDevice] = []
        try:
            for i, pin in enumerate(self.pins):
                make = functools.partial(DigitalOutputDevice, pin, active_high=not active_low,
                                         initial_value=False, pin_factory=pin_factory)
                self.outputs.append(build_device(pin_factory, pin, f"voice_io{i}", make))
        except BaseException:
            self.close()
            raise

    @property
    def max_track(self) -> int:
        return len(self.pins) if self.mode == "per_pin" else 2 ** len(self.pins) - 1

    def lines_for(self, track: int) -> tuple[bool, ...]:
        """Which trigger inputs are active to select ``track`` (IO0 first)."""
        if not 1 <= track <= self.max_track:
            raise SpeechUnavailable(f"track {track} cannot be selected with {len(self.pins)} pins "
                                    f"in {self.mode} mode (1–{self.max_track})")
        if self.mode == "per_pin":
            return tuple(i == track - 1 for i in range(len(self.pins)))
        return tuple(bool(track >> i & 1) for i in range(len(self.pins)))

    def play(self, utterance: Utterance, cancelled: threading.Event) -> None:
        if utterance.track is None:
            raise SpeechUnavailable(f"message {utterance.name!r} has no track number")
        lines = self.lines_for(utterance.track)
        if cancelled.is_set():
            return
        for out, active in zip(self.outputs, lines, strict=True):
            if active:
                out.on()
        try:
            cancelled.wait(self.pulse_s)   # hardware timing: the module samples the level
        finally:
            for out in self.outputs:
                out.off()

    def interrupt(self) -> None:
        """Nothing to stop here: the next trigger interrupts the module's track."""

    def close(self) -> None:
        for out in self.outputs:
            if not out.closed:
                out.off()
                out.close()

    def __enter__(self) -> VoiceModule:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
