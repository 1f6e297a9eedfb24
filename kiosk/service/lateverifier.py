"""The code verifier built after READY, in the camera-start thread (kiosk/devices/camera_boot.py).

Building the GK1 verifier imports ``cryptography`` and loads the pinned root key and the trust
bundle: about a fifth of `kiosk run`'s start CPU, so under a quarter of a core a fifth of its
time to READY (docs/benchmarks.md "Zero-class budget"). No code can be read before the camera is
up, so READY waits for neither. What can be checked without ``cryptography`` — the root key
file exists, is readable, is small and looks like PEM — is checked before READY by
:func:`check_root_key` (a :class:`~kiosk.errors.TrustRootError` at once, exit 78). What fails
only while the verifier is built is handed to ``on_failure`` (`kiosk run` stops and exits 78:
systemd does not restart a configuration error); the kiosk never runs on without a verifier.

Until :meth:`LateVerifier.build` has finished, a payload gets the refusal an untrusted kiosk
gives (``unsupported_format``): in practice none arrives, the camera starts after the build.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from kiosk.core.verdict import CodeVerdict
from kiosk.errors import ConfigError, TrustRootError
from kiosk.service.runtime import NoTrustVerifier, Verifier

log = logging.getLogger("kiosk.service.lateverifier")

KEY_FILE_LIMIT = 16 * 1024     # as kiosk/codes/keys.py reads it; a PEM public key is < 1 KiB


def check_root_key(path: Path) -> None:
    """What can be said of ``codes.root_key`` without ``cryptography``: one line if it is wrong."""
    try:
        with open(path, "rb") as f:
            data = f.read(KEY_FILE_LIMIT + 1)
    except OSError as exc:
        raise TrustRootError(f"codes.root_key: cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > KEY_FILE_LIMIT:
        raise TrustRootError(f"codes.root_key: {path} is larger than {KEY_FILE_LIMIT} bytes: not a PEM key")
    if b"-----BEGIN " not in data or b" KEY-----" not in data:
        raise TrustRootError(f"codes.root_key: {path} is not a PEM public key (no BEGIN ... KEY line)")


class _Pending:
    """What the status line and the publicity rounds see while the trust store is not loaded."""

    bundle = None
    message = "trust material loading (the verifier is built after READY)"


class LateVerifier:
    """A :class:`~kiosk.service.runtime.Verifier` whose real one ``make`` builds in :meth:`build`."""

    def __init__(self, make: Callable[[], Verifier]) -> None:
        self._make = make
        self._real: Verifier | None = None
        self._lock = threading.Lock()
        self.ready = threading.Event()       # set once built, or once the build failed
        self.failure: ConfigError | None = None
        self.on_failure: Callable[[ConfigError], None] = _log_failure   # `kiosk run`: stop, exit 78

    def build(self) -> bool:
        """Build the verifier (once; any thread). False when it could not be built: the failure
        (one line) is handed to :attr:`on_failure`."""
        with self._lock:
            if not self.ready.is_set():
                try:
                    self._real = self._make()
                except ConfigError as exc:
                    self.failure = exc
                except Exception as exc:  # noqa: BLE001 - whatever the key or bundle did: one line, exit 78
                    self.failure = TrustRootError(f"codes: the verifier could not be built: {exc}")
                self.ready.set()
                if self.failure is not None:
                    self.on_failure(self.failure)
        return self._real is not None

    @property
    def real(self) -> Verifier:
        return self._real if self._real is not None else _NO_TRUST

    def verify(self, payload: bytes) -> CodeVerdict:
        return self.real.verify(payload)

    def mark_used(self, verdict: CodeVerdict) -> None:
        self.real.mark_used(verdict)

    def refresh(self) -> None:
        """Look at the bundle file again (kiosk/service/housekeeping.py), once there is a trust store."""
        refresh = getattr(self._real, "refresh", None)
        if refresh is not None:
            refresh()

    @property
    def trust(self) -> object:
        """The real verifier's trust store; a placeholder saying so while it is being built."""
        if self._real is None:
            return _Pending() if self.failure is None else None
        return getattr(self._real, "trust", None)


def _log_failure(exc: ConfigError) -> None:
    log.error("%s", exc)


_NO_TRUST = NoTrustVerifier()
