"""Sync benchmark: drain rate, batching vs one-POST-per-record, and server ingest with 117 kiosks.

Targets (docs/reliability.md §2.4, issue 6): drain ≥ 5,000 records/s over loopback, and a
72 h backlog (43,200 records) in under 30 s. The street server runs as its own process
(`street-server serve`), as it would on the office machine; the kiosks' clients run here.

    .venv/bin/python bench/sync.py                 # full size (100,000-record backlog, 117 × 1,000)
    .venv/bin/python bench/sync.py --quick         # a smoke run in a few seconds
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import os
import random
import subprocess
import tempfile
import threading
import time

from kiosk import config as config_mod
from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.core.records import Reading, Record
from kiosk.core.verdict import CodeVerdict
from kiosk.passlog.store import PassLog
from street.storage.db import StreetDB
from sync.client import SyncClient


def fill(cfg: Config, n: int, seed: int) -> PassLog:
    """A pass log with ``n`` realistic records (one transaction; rows built by the writer itself)."""
    clock = FakeClock(wall=time.time() - 3 * n)
    log = PassLog(cfg.db_path, kiosk_id=cfg.kiosk.id, gate="main", direction="in", clock=clock)
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        clock.advance(3.0)
        verdict = CodeVerdict(reason="ok", kind="dynamic", colour="green", kid="k1d", issuer="street",
                              token_hash=f"{rng.getrandbits(128):032x}", holder_ref=f"{rng.getrandbits(128):032x}")
        reading = Reading(round(rng.uniform(36.0, 37.1), 2), 7, 0.1, 21.0, "normal", 35.9)
        rec = Record(kind="pass", t=clock.monotonic(), decision="pass", cause="ok", verdict=verdict, reading=reading)
        rows.append(log.stamp(rec))
    log.write(rows)
    return log


def kiosk_cfg(root: Path, kid: str, url: str, secret: str, **sync: object) -> Config:
    root.mkdir(parents=True, exist_ok=True)
    secret_file = root / "secret"
    secret_file.write_text(secret)
    os.chmod(secret_file, 0o600)
    return config_mod.from_dict({"kiosk": {"id": kid, "state_dir": str(root / "state"),
                                           "runtime_dir": str(root / "run")},
                                 "sync": {"server_url": url, "secret_file": str(secret_file), **sync}})


class Server:
    def __init__(self, root: Path) -> None:
        self.db_path = root / "street.db"
        self.db = StreetDB(self.db_path, FakeClock(wall=time.time()))

    def register(self, kid: str) -> str:
        return self.db.add_kiosk(kid)

    def __enter__(self) -> Server:
        self.db.close()
        self.proc = subprocess.Popen([sys.executable, "-m", "street.cli", "serve", "--db", str(self.db_path),
                                      "--port", "0", "--threads", "8"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.url = line.split("serving ")[1].split()[0]
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def drain(cfg: Config) -> tuple[int, float]:
    with SyncClient(cfg) as client:
        t0 = time.perf_counter()
        report = client.run_once(deadline_s=3600)
        dt = time.perf_counter() - t0
    if not report.ok:
        raise SystemExit(f"drain failed: {report.error}")
    return report.sent, dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000, help="backlog of the single-kiosk drain")
    ap.add_argument("--outage", type=int, default=43_200, help="the 72 h backlog")
    ap.add_argument("--naive", type=int, default=2_000, help="records sent one POST each")
    ap.add_argument("--kiosks", type=int, default=117)
    ap.add_argument("--per-kiosk", type=int, default=1_000)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.records, args.outage, args.naive, args.kiosks, args.per_kiosk = 5_000, 2_000, 200, 20, 100
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        root = Path(tmp)
        server = Server(root)
        ids = ["big", "outage", "naive"] + [f"cp-{i:03d}" for i in range(args.kiosks)]
        secrets = {kid: server.register(kid) for kid in ids}
        with server:
            # 1. one kiosk, a large backlog
            cfg = kiosk_cfg(root / "big", "big", server.url, secrets["big"])
            fill(cfg, args.records, 1).close()
            n, dt = drain(cfg)
            results["drain_records_per_s"] = n / dt
            print(f"drain: {n:,} records in {dt:.2f} s = {n / dt:,.0f} records/s (target ≥ 5,000)")

            # 2. the 72 h backlog
            cfg = kiosk_cfg(root / "outage", "outage", server.url, secrets["outage"])
            fill(cfg, args.outage, 2).close()
            n, dt = drain(cfg)
            results["outage_drain_s"] = dt
            print(f"72 h backlog: {n:,} records in {dt:.2f} s (target < 30 s)")

            # 3. naive: one signed POST per record, same client, same server
            cfg = kiosk_cfg(root / "naive", "naive", server.url, secrets["naive"], batch_max_records=1)
            fill(cfg, args.naive, 3).close()
            n, dt = drain(cfg)
            results["naive_records_per_s"] = n / dt
            results["batching_speedup"] = results["drain_records_per_s"] / results["naive_records_per_s"]
            print(f"naive one-POST-per-record: {n:,} records in {dt:.2f} s = {n / dt:,.0f} records/s; "
                  f"batching is {results['batching_speedup']:.0f}× faster")

            # 4. many kiosks at once
            cfgs = [kiosk_cfg(root / kid, kid, server.url, secrets[kid]) for kid in secrets if kid.startswith("cp-")]
            for i, c in enumerate(cfgs):
                fill(c, args.per_kiosk, 100 + i).close()
            errors: list[str] = []

            def one(c: Config) -> None:
                with SyncClient(c) as client:
                    r = client.run_once(deadline_s=3600)
                    if not r.ok:
                        errors.append(r.error or "?")

            threads = [threading.Thread(target=one, args=(c,)) for c in cfgs]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            dt = time.perf_counter() - t0
            total = args.kiosks * args.per_kiosk
            if errors:
                raise SystemExit(f"{len(errors)} kiosks failed: {errors[0]}")
            results["ingest_records_per_s_117"] = total / dt
            print(f"server ingest, {args.kiosks} kiosks at once: {total:,} records in {dt:.2f} s = "
                  f"{total / dt:,.0f} records/s")
    print(json.dumps({k: round(v, 2) for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
