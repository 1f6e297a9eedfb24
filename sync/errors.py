"""Every error the sync client and the wire protocol raise on purpose.

Like ``kiosk.errors``, each class also inherits the builtin a caller would naturally catch:
``ValueError`` for bad input or bad answers, ``OSError`` for transport and storage trouble.
``str(err)`` is one line meant for a person. The shape follows httpx: transport trouble (retry)
apart from answers that refuse us (do not retry the same thing).

Hierarchy::

    SyncError
    ├── SecretError (ValueError)        the kiosk's credential is missing, too open, malformed
    ├── LogReadError (OSError)          the pass log cannot be read
    ├── StateError (OSError)            the sync's own state file cannot be read or written
    ├── TransportError (OSError)        refused, reset, timed out, cut short: retry later
    ├── ServerBusy (OSError)            429/5xx: retry after ``retry_after``
    ├── ServerRefused (ValueError)      4xx: retrying the same request will not help
    │   └── ClockSkew                   our timestamp was refused; ``server_time`` corrects it
    ├── SyncFailed (OSError)            a `kiosk sync --once` run left records behind
    ├── ProtocolError (ValueError)      an answer does not follow the protocol
    └── BadRequest (ValueError)         a malformed message (the protocol's parsers; the server's 4xx)

The street server's own errors (storage, registry, 409 conflicts) are in street/errors.py.
"""


class SyncError(Exception):
    """Base of all deliberate sync errors."""


class SecretError(SyncError, ValueError):
    """The kiosk's sync secret is missing, unreadable, too open or malformed."""


class LogReadError(SyncError, OSError):
    """The pass log cannot be read (missing, locked, not a pass log, another kiosk's)."""


class StateError(SyncError, OSError):
    """The sync state file cannot be read or written."""


class TransportError(SyncError, OSError):
    """The request did not complete (refused, reset, timed out, cut short): retry later."""


class ServerBusy(SyncError, OSError):
    """The server answered 429/5xx: retry later, after ``retry_after`` seconds if it said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerRefused(SyncError, ValueError):
    """The server refused the request for good (4xx): retrying the same thing will not help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ClockSkew(ServerRefused):
    """The server refused our timestamp; ``server_time`` lets the client correct its offset."""

    def __init__(self, message: str, server_time: float | None) -> None:
        super().__init__(message, 401)
        self.server_time = server_time


class SyncFailed(SyncError, OSError):
    """A `kiosk sync --once` run ended without uploading everything (it will retry later)."""


class ProtocolError(SyncError, ValueError):
    """A request or answer does not follow the sync protocol."""


class BadRequest(SyncError, ValueError):
    """A message is malformed (raised by the protocol's parsers; the street server answers it with
    ``status`` and the message as reason)."""

    def __init__(self, message: str, status: int = 400, code: str = "bad_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code

