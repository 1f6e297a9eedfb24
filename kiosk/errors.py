"""Every error the kiosk application raises on purpose.

Each class also inherits the builtin a caller would naturally catch (``ValueError`` for bad
input, ``OSError`` for I/O trouble), in the style of ``gpiozero.exc``: catch broadly with
:class:`KioskError` or precisely with the subclass.
"""


class KioskError(Exception):
    """Base of all deliberate kiosk errors; ``str(err)`` is one line meant for a person."""


class ConfigError(KioskError, ValueError):
    """The configuration file is missing, unreadable, malformed or out of range.

    The message always names ``section.key`` (or the file) and what was allowed.
    """


class StoreError(KioskError, OSError):
    """The pass log could not be opened or written."""


class StoreFull(StoreError):
    """The pass log reached its size cap or the disk is full; nothing was stored."""


class StoreCorrupt(StoreError):
    """The pass log failed its integrity check."""


class StoreMismatch(StoreError):
    """The pass log belongs to another kiosk id than the configured one."""


class CodeError(KioskError, ValueError):
    """A health-code artefact (key file, token, trust material) is malformed or untrusted."""


class BundleError(CodeError):
    """A trust bundle was refused: unreadable, malformed, wrongly signed, or older than the one held."""


class CalibrationError(KioskError, ValueError):
    """A thermometer calibration could not be made or the stored one cannot be read."""
