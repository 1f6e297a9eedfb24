"""The street server's own Ed25519 key: it signs every answer to an ``ed25519`` kiosk
(sync/signing.py), and its public half is written into each kiosk's credential file at
enrolment, so a kiosk trusts only answers from this server.

A file of its own (``--server-key``, default ``$STREET_SERVER_KEY`` or ``street-server.key``
beside the working directory), never a database row: a copy of the database must not be able to
answer kiosks as the server. Created on first use with mode 0600 whatever the umask (O_EXCL, so
two processes starting at once do not overwrite each other's key); a key file that others can
read is refused, like ssh's.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from street.errors import KeyFileError

DEFAULT = "street-server.key"


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """The key in ``path``; a fresh one written there (0600) if the file does not exist."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load(path)
    except OSError as exc:
        raise KeyFileError(f"cannot create the server key {path}: {exc.strerror or exc}") from None
    key = Ed25519PrivateKey.generate()
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        f.flush()
        os.fsync(f.fileno())
    return key


def load(path: Path) -> Ed25519PrivateKey:
    try:
        st = path.stat()
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the server key {path}: {exc.strerror or exc}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"server key {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                          "chmod 600 it")
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyFileError(f"server key {path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"server key {path} is not an Ed25519 key")
    return key
