"""The kiosk's hold on its trust bundle: load it, swap in newer ones, refuse bad ones.

The sync process writes the bundle file atomically (rename); this store notices a changed file
(stat), checks it against the pinned root key and the ``seq`` it already holds, and swaps the
whole :class:`Bundle` in one assignment, so a verification sees either the old or the new
bundle. A refused file leaves the last good bundle in force, is logged once, and is reported
in :attr:`message`. Every accepted bundle is also copied to ``last_good`` so a kiosk that
restarts with a bad file (or none) still has it — and still refuses a rolled-back seq.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from kiosk.codes import bundle as bundle_mod
from kiosk.codes import cose
from kiosk.codes.bundle import Bundle
from kiosk.durable import write_atomic
from kiosk.errors import BundleError

log = logging.getLogger("kiosk.codes.trust")


class TrustStore:
    def __init__(self, root_key: cose.PublicKey, path: Path, last_good: Path | None = None,
                 on_accept: Callable[[Bundle], None] | None = None, write_last_good: bool = True) -> None:
        self.root_key = root_key
        self.path = Path(path)
        self.last_good = last_good
        self.write_last_good = write_last_good
        self.on_accept = on_accept
        self.bundle: Bundle | None = None
        self.message = f"no trust bundle yet (expected at {self.path})"
        self._seen: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        if last_good is not None and last_good.exists():
            try:
                self._accept(self._read(last_good), persist=False)
            except BundleError as exc:
                log.error("last good trust bundle %s is unusable: %s", last_good, exc)
        self.refresh()

    def _read(self, path: Path) -> bytes:
        try:
            with open(path, "rb") as fh:
                data = fh.read(bundle_mod.MAX_BUNDLE_BYTES + 1)
        except OSError as exc:
            raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(data) > bundle_mod.MAX_BUNDLE_BYTES:
            raise BundleError(f"{path} is larger than {bundle_mod.MAX_BUNDLE_BYTES} bytes")
        return data

    def refresh(self) -> bool:
        """Look at the bundle file; take it if it changed and is good. True if a bundle was taken."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            if self._seen != (0, 0, 0):
                self._seen = (0, 0, 0)
                if self.bundle is None:
                    self.message = f"no trust bundle at {self.path}: codes cannot be verified"
                    log.warning("%s", self.message)
            return False
        except OSError as exc:
            self.message = f"trust bundle {self.path} cannot be read: {exc.strerror or exc}"
            return False
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if stamp == self._seen:
                return False
            self._seen = stamp
            try:
                return self._accept(self._read(self.path), persist=True)
            except BundleError as exc:
                self._refused(exc)
                return False

    def _refused(self, exc: BundleError) -> None:
        keeping = (f"keeping {self.bundle.describe()}" if self.bundle is not None
                   else "no bundle held: codes cannot be verified")
        self.message = f"trust bundle {self.path} refused: {exc}; {keeping}"
        log.error("%s", self.message)

    def _accept(self, raw: bytes, persist: bool) -> bool:
        current = self.bundle
        if current is not None and raw == current.raw:
            return False
        new = bundle_mod.load(raw, self.root_key)
        if current is not None and new.seq <= current.seq:
            if new.seq == current.seq:
                raise BundleError(f"seq {new.seq} is already held with different content")
            raise BundleError(f"rollback refused: seq {new.seq} is older than the seq {current.seq} held")
        self.bundle = new          # one assignment: verifiers see the old or the new bundle
        self.message = f"trust bundle {new.describe()}"
        log.info("accepted %s", self.message)
        if persist and self.write_last_good and self.last_good is not None:
            try:
                write_atomic(self.last_good, raw, parents=True)
            except OSError as exc:
                log.warning("cannot keep a copy of the trust bundle at %s: %s", self.last_good, exc)
        if self.on_accept is not None:
            self.on_accept(new)
        return True


def load_root_key(path: Path) -> cose.PublicKey:
    """The pinned root key from [codes] root_key (PEM public key)."""
    from kiosk.codes.keys import load_public
    return load_public(path)
