"""What a kiosk proves itself with, made in one place.

Today a credential is a 32-byte HMAC-SHA256 secret (docs/contracts.md §5.2): the server keeps it
to check signatures and the kiosk keeps the same bytes in its ``[sync] secret_file``. Every
registration path — `street-server kiosk add`, `kiosk import` — calls :func:`issue`, and the
database keeps ``credential_kind`` beside what :attr:`Credential.stored` says, so a later kind
(a public key the server keeps, a private key only the kiosk holds) replaces this function and
adds a verifier, without touching the registration commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.protocol import new_secret

HMAC = "hmac-sha256"


@dataclass(frozen=True)
class Credential:
    kind: str            # stored in kiosks.credential_kind
    stored: str          # what the server keeps (kiosks.secret)
    kiosk_file: str      # the content of the kiosk's credential file (mode 0600)
    file_suffix: str     # the technicians' file is <kiosk_id><suffix>


def issue() -> Credential:
    """A fresh credential for one kiosk."""
    secret = new_secret()
    return Credential(HMAC, secret, secret + "\n", ".secret")
