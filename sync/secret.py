"""The kiosk's sync secret comes from a file, never argv or the environment (docs/contracts.md §2.3).

The first of: ``[sync] secret_file``; under systemd ``LoadCredential=kiosk.secret:/etc/kiosk/credentials/kiosk.secret``,
which exposes it as ``$CREDENTIALS_DIRECTORY/kiosk.secret`` (systemd.io/CREDENTIALS); and the
installed file itself, ``credentials/kiosk.secret`` beside the config file, for a process that may
read it (root: ``sudo kiosk selftest``). Like ssh with its keys, a secret file that others can
read is refused.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from kiosk.config import Config
from sync.errors import SecretError
from sync.signing import KioskCredential, parse_credential

CREDENTIAL_NAME = "kiosk.secret"    # systemd/kiosk-sync.service: LoadCredential=kiosk.secret:...


def secret_path(cfg: Config, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if cfg.sync.secret_file is not None:
        return cfg.sync.secret_file
    creds = env.get("CREDENTIALS_DIRECTORY")
    if creds:
        return Path(creds) / CREDENTIAL_NAME
    installed = installed_path(cfg)
    if installed is not None:
        try:
            if installed.is_file():
                return installed
        except PermissionError:      # /etc/kiosk/credentials is root's (0700)
            raise SecretError(f"no sync secret configured, and {installed} is not readable by this user "
                              "(only root and the sync unit may read it)") from None
    raise SecretError("no sync secret configured: set [sync] secret_file, or give the unit "
                      f"LoadCredential={CREDENTIAL_NAME}:/etc/kiosk/credentials/kiosk.secret")


def installed_path(cfg: Config) -> Path | None:
    """Where systemd/install.sh puts the secret: ``credentials/kiosk.secret`` beside the config."""
    return cfg.source.resolve().parent / "credentials" / CREDENTIAL_NAME if cfg.source is not None else None


def read_secret(path: Path) -> KioskCredential:
    """The kiosk's credential in ``path`` (an HMAC secret or an Ed25519 key pair with the server's
    public key, sync/signing.py); refuses a missing, group/world-readable or malformed file."""
    try:
        st = path.stat()
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise SecretError(f"sync secret file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"sync secret file {path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"sync secret file {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                          "chmod 600 it")
    try:
        return parse_credential(text)
    except ValueError as exc:
        raise SecretError(f"sync secret file {path}: {exc}") from None


def load_secret(cfg: Config, env: Mapping[str, str] | None = None) -> KioskCredential:
    return read_secret(secret_path(cfg, env))
