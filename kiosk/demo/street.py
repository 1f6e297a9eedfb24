"""A street server inside `kiosk demo`: its own temporary database on a free 127.0.0.1 port.

The demo kiosk is registered on it; a background sync uploads while the crowd passes (the real
client, reading the pass log read-only beside the running writer), a final drain runs after the
kiosk stops, and :meth:`EmbeddedStreet.finish` checks the server holds exactly the kiosk's
records: the same keys with the same content, none twice.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from kiosk.config import Config
from street.server import StreetServer
from sync.client import SyncClient
from sync.errors import SyncFailed
from sync.logreader import LogReader
from sync.protocol import record_digest, wire_record

log = logging.getLogger("kiosk.sync")


@dataclass(frozen=True)
class StreetCheck:
    kiosk_records: int
    server_records: int
    duplicates: int
    missing: int
    different: int
    extra: int

    @property
    def exact(self) -> bool:
        return (self.server_records == self.kiosk_records and not self.duplicates and not self.missing
                and not self.different and not self.extra)


class EmbeddedStreet:
    """Context manager: server up and kiosk registered on enter; everything removed on exit."""

    def __init__(self, cfg: Config, interval_s: float = 1.0) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="street-demo-"))
        self.server = StreetServer(self.dir / "street.db").start()
        secret_file = self.dir / "kiosk.secret"
        secret_file.write_text(self.server.db.add_kiosk(cfg.kiosk.id) + "\n")
        os.chmod(secret_file, 0o600)
        self.cfg = cfg.replace(sync=dataclasses.replace(cfg.sync, server_url=self.server.url,
                                                        secret_file=secret_file))
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: SyncClient | None = None

    def _new_client(self) -> SyncClient:
        # the sync state lives with this throw-away server, not in the kiosk's state dir
        return SyncClient(self.cfg, state_path=self.dir / "sync-state.json",
                          bundle_path=self.dir / "bundle.bin")

    def start_background(self) -> None:
        """Sync every ``interval_s`` while the kiosk runs (the log must exist by now)."""
        self._client = self._new_client()

        def loop() -> None:
            assert self._client is not None
            while not self._stop.wait(self.interval_s):
                report = self._client.cycle()
                if report.error:
                    log.info("demo sync: %s", report.error)

        self._thread = threading.Thread(target=loop, name="demo-sync", daemon=True)
        self._thread.start()

    def finish(self, db_path: Path) -> StreetCheck:
        """Stop the background sync, drain what is left, and compare the server with the log."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        client = self._client or self._new_client()
        try:
            report = client.run_once(deadline_s=60)
        finally:
            client.close()
        if not report.ok:
            raise SyncFailed(f"demo: the embedded street server did not take the log: {report.error}")
        with LogReader(db_path, self.cfg.kiosk.id) as reader:
            mine = {(r["db_epoch"], r["seq"]): record_digest(wire_record(dict(r)))
                    for r in reader.conn.execute("SELECT * FROM records")}
        rows = self.server.db.rows(
            "SELECT db_epoch, seq, digest FROM records WHERE kiosk_id = ? UNION ALL "
            "SELECT db_epoch, seq, digest FROM quarantine WHERE kiosk_id = ?",
            (self.cfg.kiosk.id, self.cfg.kiosk.id))
        held = {(r[0], r[1]): r[2] for r in rows}
        return StreetCheck(kiosk_records=len(mine), server_records=len(rows),
                           duplicates=len(rows) - len(held) + self.server.db.duplicate_keys(self.cfg.kiosk.id),
                           missing=len(mine.keys() - held.keys()),
                           different=sum(1 for k, d in held.items() if k in mine and mine[k] != d),
                           extra=len(held.keys() - mine.keys()))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedStreet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
