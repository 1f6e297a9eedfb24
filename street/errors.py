"""Every error the street server raises on purpose.

Each also inherits the builtin a caller would catch (``ValueError``, ``OSError``); ``str(err)``
is one line meant for a person (the `street-server` command prints it and exits 1). Request
errors are :class:`sync.errors.BadRequest` (the protocol's parsers raise it too) and carry the
HTTP status the server answers with: always a 4xx, never a 5xx, for anything a client sent.

Hierarchy::

    sync.errors.SyncError
    ├── sync.errors.BadRequest (ValueError)   a malformed request → its ``status`` (4xx)
    │   ├── Conflict                           same key, different content → 409, nothing stored
    │   ├── Replay                             a request nonce used twice → 401
    │   └── Revoked                            a correctly signed request of a revoked kiosk → 401
    └── StreetError
        ├── ServerStoreError (OSError)         the street database cannot be opened or written
        │   ├── StoreUnavailable               the database is busy, full or unreachable now → 503
        │   └── SchemaError                    the database's schema is older or newer than this server's
        ├── RegistryError (ValueError)         a kiosk registration command was given a bad id
        │   └── RosterError                    a roster CSV is malformed (a missing column, a duplicate id …)
        ├── LanguageError (ValueError)         a language or time zone the server does not have
        ├── AlertConfigError (ValueError)      the alerts file cannot be used
        ├── DeliveryError (OSError)            an alert channel did not take an alert (retried later)
        ├── BackupError (OSError)              a backup or restore cannot be made
        ├── KeyFileError (OSError)             the server's key file is unreadable, malformed or too open
        └── DoorError (ValueError)             a quarantine-board request is wrong (unknown alert, no staff name …)
"""

from __future__ import annotations

from sync.errors import BadRequest, SyncError


class StreetError(SyncError):
    """Base of the street server's own errors."""


class ServerStoreError(StreetError, OSError):
    """The street database cannot be opened or written."""


class StoreUnavailable(ServerStoreError):
    """The database cannot serve this request now (locked, full, connection lost): answer 503 and
    let the kiosk retry; nothing of the request was acknowledged."""


class SchemaError(ServerStoreError):
    """The database was made by another release: older (run `street-server db upgrade`) or newer."""


class RegistryError(StreetError, ValueError):
    """A kiosk registration command was given a bad or unknown id."""


class RosterError(RegistryError):
    """A roster CSV cannot be imported as it is; nothing of it was registered."""


class BackupError(StreetError, OSError):
    """A backup or a restore cannot be made (no space, a missing tool, a file of another kind)."""


class Conflict(BadRequest):
    """The same key arrived with different content: 409, nothing of the batch stored."""

    def __init__(self, seqs: list[int]) -> None:
        shown = ", ".join(str(s) for s in seqs[:10]) + (" …" if len(seqs) > 10 else "")
        super().__init__(f"seq {shown} already stored with different content", 409, "conflict")
        self.seqs = seqs


class Replay(BadRequest):
    """A signed request's nonce was seen before within the window: 401."""

    def __init__(self) -> None:
        super().__init__("request nonce already used (replayed request)", 401, "replay")


class Revoked(BadRequest):
    """A revoked kiosk's correctly signed request: 401. Raised by the signature check, and again
    by every write that finds the kiosk revoked under its lock (street/storage/db.py)."""

    def __init__(self, kiosk_id: str) -> None:
        super().__init__(f"kiosk {kiosk_id!r} credential is revoked", 401, "revoked")


class LanguageError(StreetError, ValueError):
    """A language or time zone that does not exist (``?lang=``, ``--lang``, ``--tz``)."""


class AlertConfigError(StreetError, ValueError):
    """The alerts file is unreadable or names an unknown channel kind, key or alert kind."""


class DeliveryError(StreetError, OSError):
    """An alert channel refused, failed or timed out; the delivery is retried with backoff."""


class KeyFileError(StreetError, OSError):
    """The server's signing key (or a TLS key) cannot be read or made, or others may read it."""


class DoorError(StreetError, ValueError):
    """A request about the quarantine board cannot be done as asked (an unknown or already
    acknowledged alert, an acknowledgement without a named staff member or a note)."""

