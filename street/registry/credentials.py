"""What a kiosk proves itself with, made in one place (sync/signing.py, docs/contracts.md §5.2).

Every registration path — `street-server kiosk add`, `kiosk import` — calls :func:`issue`. A
kiosk enrolled with the server's public key gets an Ed25519 key pair: its credential file holds
the private key and the server's public key (which it checks answers against); the database
keeps only the kiosk's public key, so a copy of it impersonates nobody. Without a server key
(tests, the demo) a kiosk gets the release-1 HMAC-SHA256 secret, which both ends hold; such
kiosks keep working until re-enrolled (revoke, then add or import again).
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.protocol import new_secret
from sync.signing import ED25519, HMAC, new_ed25519


@dataclass(frozen=True)
class Credential:
    kind: str            # stored in kiosks.credential_kind
    stored: str          # what the server keeps (kiosks.secret: hex of the secret or of the public key)
    kiosk_file: str      # the content of the kiosk's credential file (mode 0600)
    file_suffix: str     # the technicians' file is <kiosk_id><suffix>


def issue(server_public: bytes | None = None) -> Credential:
    """A fresh credential for one kiosk: Ed25519 with the server's public key, else HMAC."""
    if server_public is None:
        secret = new_secret()
        return Credential(HMAC, secret, secret + "\n", ".secret")
    text, public = new_ed25519(server_public)
    return Credential(ED25519, public.hex(), text, ".secret")
