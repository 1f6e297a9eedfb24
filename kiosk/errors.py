"""Every error the kiosk application raises on purpose (all of kiosk/, its subpackages included).

Each class also inherits the builtin a caller would naturally catch (``ValueError`` for bad
input, ``OSError`` for I/O trouble), in the style of ``gpiozero.exc``: catch broadly with
:class:`KioskError` or precisely with the subclass. ``str(err)`` is one line meant for a person;
the CLI prints it and exits 1.

Hierarchy::

    KioskError
    ├── ConfigError (ValueError)        the configuration names section.key and what is allowed
    │   ├── NotConfigured               a required key (kiosk.id, …) is not set yet: `kiosk run` exits 78
    │   ├── TrustRootError              codes.root_key cannot be used (unreadable, not a key): exits 78
    │   └── LanguageError               a language the kiosk does not speak (--lang, $KIOSK_LANG)
    ├── StoreError (OSError)            the pass log cannot be opened or written
    │   ├── StoreFull                   size cap reached or disk full; nothing stored
    │   ├── StoreCorrupt                failed its integrity check
    │   └── StoreMismatch               belongs to another kiosk id
    ├── CodeError (ValueError)          health-code material malformed or untrusted
    │   ├── BundleError                 a trust bundle refused
    │   ├── Base45Error                 not Base45
    │   ├── CoseError                   not a COSE_Sign1 envelope / unsupported key
    │   └── TokenError                  not a GK1 claim set
    ├── CalibrationError (ValueError)   thermometer calibration
    └── VoiceError (OSError)            rendering or playing a clip

Drivers raise drivers.errors; the sync client sync.errors; the street server street.errors.
"""


class KioskError(Exception):
    """Base of all deliberate kiosk errors; ``str(err)`` is one line meant for a person."""


class ConfigError(KioskError, ValueError):
    """The configuration file is missing, unreadable, malformed or out of range.

    The message always names ``section.key`` (or the file) and what was allowed.
    """


class NotConfigured(ConfigError):
    """The file does not set a key this kiosk must have its own value for (a fresh install).

    `kiosk run` exits 78 (EX_CONFIG) on it, which systemd does not restart: no restart loop.
    """


class TrustRootError(ConfigError):
    """``codes.root_key`` names no usable key: no code could ever be verified.

    `kiosk run` exits 78 on it, before READY (the file is missing, unreadable or not PEM) or after
    (the verifier, built after READY, could not load it): a restart cannot fix it.
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


class Base45Error(CodeError):
    """The text is not valid Base45 (RFC 9285)."""


class CoseError(CodeError):
    """The bytes are not a well-formed GK1 COSE_Sign1 envelope, or a key is of an unsupported type."""


class TokenError(CodeError):
    """Signed claims that are not a GK1 claim set (missing claim, wrong type)."""


class CalibrationError(KioskError, ValueError):
    """A thermometer calibration could not be made or the stored one cannot be read."""


class VoiceError(KioskError, OSError):
    """A voice clip could not be rendered or played (`kiosk voice`)."""


class LanguageError(ConfigError):
    """A language the kiosk does not speak (``kiosk --lang``, ``$KIOSK_LANG``): kiosk/i18n."""
