"""Errors raised by drivers, each also inheriting the natural builtin (gpiozero ``exc`` style).

Hierarchy::

    DriverError
    ├── DeviceConfigError (ValueError)          a value the driver cannot use (pin, factory, protocol)
    ├── DeviceUnavailable (OSError)             absent or vanished (unplugged adapter, no GPIO chip)
    ├── DeviceTimeout (TimeoutError)            there, but no valid answer in time
    ├── FrameError (ValueError)                 bytes that are not a valid frame; ``raw`` keeps them
    └── SpeechUnavailable (FileNotFoundError)   one utterance cannot be produced
"""


class DriverError(Exception):
    """Base of all driver errors."""


class DeviceConfigError(DriverError, ValueError):
    """A driver was given a value it cannot use (unknown pin, pin used twice, bad factory)."""


class DeviceUnavailable(DriverError, OSError):
    """The device is absent or vanished (unplugged USB adapter, missing GPIO chip)."""


class SpeechUnavailable(DriverError, FileNotFoundError):
    """One utterance cannot be produced (its clip is missing and espeak-ng cannot render it)."""


class FrameError(DriverError, ValueError):
    """Bytes that are not a valid frame of the protocol (bad header, length, checksum or value).

    ``raw`` holds the offending bytes so a technician can see them (``kiosk thermometer read``
    prints them in hex). A frame that raised this never yields a value.
    """

    def __init__(self, reason: str, raw: bytes = b"") -> None:
        super().__init__(f"{reason}: {raw.hex(' ')}" if raw else reason)
        self.reason = reason
        self.raw = bytes(raw)


class DeviceTimeout(DriverError, TimeoutError):
    """The device is there but did not answer with a valid frame in time (wrong protocol,
    wrong baud rate, module hung or silent)."""
