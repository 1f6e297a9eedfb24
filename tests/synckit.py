"""Helpers for the sync tests: pass logs with realistic records, registered kiosks, signed requests.

Everything here is real: pass logs are SQLite files written by :class:`kiosk.passlog.store.PassLog`,
the street server runs on 127.0.0.1, requests are signed exactly as the client signs them.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import requests

from kiosk import config as config_mod
from kiosk.clock import Clock, FakeClock
from kiosk.config import Config
from kiosk.core.records import Reading, Record
from kiosk.core.verdict import CodeVerdict
from kiosk.passlog.reader import connect_readonly
from kiosk.passlog.store import PassLog
from kiosk.schema import COLUMNS
from street.server import StreetServer
from sync import protocol, signing


class SkewedClock:
    """Real time, but the wall clock off by ``offset`` seconds (a kiosk whose clock is wrong)."""

    def __init__(self, offset: float, synced: bool = False, boot_id: str = "skewed-boot") -> None:
        self.offset, self._synced, self._boot = offset, synced, boot_id

    def wall(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic()

    def synced(self) -> bool:
        return self._synced

    def boot_id(self) -> str:
        return self._boot


def kiosk_config(root: Path, kiosk_id: str, server_url: str, secret: str | None, **sync: Any) -> Config:
    """A kiosk config under ``root`` whose secret file (mode 0600) holds ``secret``."""
    root.mkdir(parents=True, exist_ok=True)
    secret_file = root / "sync.secret"
    if secret is not None:
        secret_file.write_text(secret + "\n")
        os.chmod(secret_file, 0o600)
    return config_mod.from_dict({
        "kiosk": {"id": kiosk_id, "state_dir": str(root / "state"), "runtime_dir": str(root / "run")},
        "sync": {"server_url": server_url, "secret_file": str(secret_file), "connect_timeout_s": 2.0,
                 "read_timeout_s": 5.0, **sync},
    })


def open_log(cfg: Config, clock: Clock | None = None) -> PassLog:
    return PassLog(cfg.db_path, kiosk_id=cfg.kiosk.id, gate=cfg.kiosk.gate, direction=cfg.kiosk.direction,
                   clock=clock or FakeClock())


def a_record(rng: random.Random, t: float) -> Record:
    """One plausible decision: mostly green passes, some denials, fevers and overrides."""
    roll = rng.random()
    verdict = CodeVerdict(reason="ok", kind="dynamic", colour="green", kid="k1d", issuer="street",
                          token_hash=f"{rng.getrandbits(128):032x}", holder_ref=f"{rng.getrandbits(128):032x}")
    reading = Reading(value_c=round(rng.uniform(36.0, 37.1), 2), samples=7, spread_c=0.1, ambient_c=21.0,
                      band="normal", object_c=35.9)
    if roll < 0.85:
        return Record(kind="pass", t=t, decision="pass", cause="ok", verdict=verdict, reading=reading)
    if roll < 0.90:
        return Record(kind="pass", t=t, decision="deny", cause="fever", verdict=verdict,
                      reading=Reading(38.2, 7, 0.1, 21.0, "high", 37.7))
    if roll < 0.95:
        return Record(kind="pass", t=t, decision="manual_pass", cause="no_code", volunteer_ref="v" * 32)
    return Record(kind="pass", t=t, decision="deny", cause="code",
                  verdict=CodeVerdict(reason="red", kind="dynamic", colour="red"))


def append(log: PassLog, n: int, rng: random.Random, clock: FakeClock | None = None, step_s: float = 3.0) -> None:
    """Append ``n`` records through the real writer, one COMMIT each."""
    for _ in range(n):
        if clock is not None:
            clock.advance(step_s)
        log.append(a_record(rng, log.clock.monotonic()))


def fast_fill(log: PassLog, n: int, rng: random.Random, step_s: float = 3.0) -> None:
    """Append ``n`` records in one transaction (big backlogs for drain tests and the benchmark).

    Rows are stamped and written by the writer's own ``stamp``/``write`` so they are exactly
    what the kiosk writes.
    """
    clock = log.clock
    rows = []
    for _ in range(n):
        if isinstance(clock, FakeClock):
            clock.advance(step_s)
        rows.append(log.stamp(a_record(rng, clock.monotonic())))
    log.write(rows)


def log_digests(path: Path) -> dict[tuple[str, int], str]:
    """(db_epoch, seq) → digest of every record in a pass log, read-only."""
    conn = connect_readonly(path)
    try:
        return {(r["db_epoch"], r["seq"]): protocol.record_digest(protocol.wire_record(dict(r)))
                for r in conn.execute("SELECT * FROM records ORDER BY seq")}
    finally:
        conn.close()


def server_digests(server: StreetServer, kiosk_id: str) -> dict[tuple[str, int], str]:
    rows = server.db.rows(
        "SELECT db_epoch, seq, digest FROM records WHERE kiosk_id = ? UNION ALL "
        "SELECT db_epoch, seq, digest FROM quarantine WHERE kiosk_id = ?", (kiosk_id, kiosk_id))
    out = {(r[0], r[1]): r[2] for r in rows}
    assert len(out) == len(rows), "the server holds a key twice"
    return out


class Signer:
    """Sends requests signed like the client, with knobs to get them wrong on purpose."""

    def __init__(self, base_url: str, kiosk_id: str, secret: str) -> None:
        """``secret``: a credential file's content (an HMAC secret's hex, or an Ed25519 key pair)."""
        self.base, self.kiosk_id = base_url.rstrip("/"), kiosk_id
        self.credential = signing.parse_credential(secret)
        self.verify: str | bool = True        # https: the street CA's file (tests/security/frontend.py)

    def headers(self, method: str, path: str, body: bytes, *, now: float | None = None, nonce: str | None = None,
                kiosk_id: str | None = None, secret: bytes | None = None) -> dict[str, str]:
        import time
        cred = self.credential if secret is None else signing.hmac_credential(secret)
        return cred.sign_headers(kiosk_id or self.kiosk_id, method, path, body,
                                 time.time() if now is None else now, nonce)

    def post(self, path: str, obj: Any = None, *, raw: bytes | None = None, gz: bool = True,
             headers: dict[str, str] | None = None, **sign: Any) -> requests.Response:
        body = raw if raw is not None else json.dumps(obj).encode()
        if gz and raw is None:
            body = gzip.compress(body)
        h = {"Content-Type": "application/json", **({"Content-Encoding": "gzip"} if gz else {})}
        h.update(self.headers("POST", path, body, **sign))
        h.update(headers or {})
        return requests.post(self.base + path, data=body, headers=h, timeout=(2, 10), verify=self.verify)

    def get(self, path: str, headers: dict[str, str] | None = None, **sign: Any) -> requests.Response:
        h = self.headers("GET", path, b"", **sign)
        h.update(headers or {})
        return requests.get(self.base + path, headers=h, timeout=(2, 10), verify=self.verify)


def batch(kiosk_id: str, epoch: str, records: list[dict[str, Any]], boot_id: str = "boot-1",
          sent_mono_ns: int = 10**12, clock_synced: int = 1, sent_wall: float | None = None) -> dict[str, Any]:
    import time
    return {"kiosk_id": kiosk_id, "db_epoch": epoch, "boot_id": boot_id,
            "sent_wall": time.time() if sent_wall is None else sent_wall,
            "sent_mono_ns": sent_mono_ns, "clock_synced": clock_synced, "records": records}


def rec(kiosk_id: str, epoch: str, seq: int, **over: Any) -> dict[str, Any]:
    """A valid wire record with every column of the kiosk's schema."""
    r: dict[str, Any] = {c: None for c in COLUMNS}
    r.update(seq=seq, kiosk_id=kiosk_id, db_epoch=epoch, kind="pass", wall_ts=1_780_000_000.0 + 3 * seq, clock_synced=1,
             boot_id="boot-1", mono_ns=10**12 + seq * 10**9, gate="main", direction="in", decision="pass",
             cause="ok", temp_c=36.6, latency_ms=12.5)
    r.update(over)
    return r
