"""Errors raised by drivers, each also inheriting the natural builtin (gpiozero ``exc`` style)."""


class DriverError(Exception):
    """Base of all driver errors."""


class DeviceConfigError(DriverError, ValueError):
    """A driver was given a value it cannot use (unknown pin, pin used twice, bad factory)."""


class DeviceUnavailable(DriverError, OSError):
    """The device is absent or vanished (unplugged USB adapter, missing GPIO chip)."""


class SpeechUnavailable(DriverError, FileNotFoundError):
    """One utterance cannot be produced (its clip is missing and espeak-ng cannot render it)."""
