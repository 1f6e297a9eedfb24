"""CPU per kiosk request type on PostgreSQL, repeated for a fixed time — the quick loop for cutting it.

`bench/street_scale.py --peak-only` measures each type once per kiosk (1,000 first requests);
this keeps 234 registered kiosks making requests of one type, 20 at a time, a new connection
each (as `kiosk sync --once`), for ``--seconds`` per type, so a kiosk's second and later
requests — what a peak is made of — are measured too: the server processes', PostgreSQL's and
this generator's CPU (``/proc`` utime + stime) per request, the rate and the median latency.
With ``--spy DIR`` it also records each type with py-spy (``--gil``: samples of the thread
holding the GIL, i.e. Python CPU) as collapsed stacks in DIR/TYPE.txt, if py-spy is installed
(it is not a dependency: ``pip install py-spy``).

To compare two trees back to back, give the other one with ``--tree`` (its server is started
as ``python -m street.cli`` from that tree; this script and its load generator stay the same):

    .venv/bin/python bench/kiosk_requests.py --seconds 10 --workers 2
    .venv/bin/python bench/kiosk_requests.py --seconds 10 --workers 2 --tree /path/to/other/tree
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time

import street_scale as ss  # bench/ is sys.path[0] when this runs as a script

from kiosk.clock import SystemClock
from street.storage.db import StreetDB
from sync import protocol
from tests.pgcluster import PgCluster

KINDS = ("bundle", "heartbeat", "upload")


async def drive(server: ss.Server, secrets: dict[str, str], ids: list[str], kind: str, seconds: float,
                conc: int = 20) -> tuple[int, ss.Stats]:
    """Requests of ``kind`` from ``conc`` kiosks at a time, round-robin over ``ids``, for ``seconds``."""
    stats = ss.Stats()
    seqs = dict.fromkeys(ids, 0)
    epoch = f"req-{os.getpid()}-{kind}"
    stop = time.perf_counter() + seconds
    done = [0]

    async def lane(i: int) -> None:
        while time.perf_counter() < stop:
            kid = ids[i % len(ids)]
            i += conc
            k = ss.Kiosk(kid, secrets[kid], server.host, server.port, i)
            if kind == "bundle":
                await k.call("GET", protocol.BUNDLE_PATH, b"", stats, {"If-None-Match": ss.BUNDLE_ETAG}, ok=(304,))
            elif kind == "heartbeat":
                await k.call("POST", protocol.HEARTBEAT_PATH, ss.beat_body(kid, epoch), stats)
            else:
                first = seqs[kid] + 1
                seqs[kid] += 6
                recs = [ss.record_json(kid, epoch, q, time.time() - 30 + q, k.rng) for q in range(first, first + 6)]
                await k.call("POST", protocol.RECORDS_PATH, ss.batch_body(kid, epoch, recs), stats)
            k.http.close()
            done[0] += 1

    await asyncio.gather(*(lane(i) for i in range(conc)))
    return done[0], stats


async def run(args: argparse.Namespace) -> None:
    ss.raise_fd_limit()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if args.spy and not Path(spy).exists():
        raise SystemExit("--spy needs py-spy (pip install py-spy)")
    cluster = PgCluster({"fsync": "on", "full_page_writes": "on"}).start()
    try:
        url = cluster.create_db("requests")
        regs = ss.registry(2, 117)
        db = StreetDB(url, SystemClock(assume_synced=True), pool_size=2)
        db.register(regs)
        db.publish_bundle(ss.BUNDLE)
        db.close()
        secrets = {r.kiosk_id: r.credential.stored for r in regs}
        ids = list(secrets)
        with tempfile.TemporaryDirectory(prefix="kiosk-requests-") as tmp:
            server = ss.Server(url, args.workers, Path(tmp) / "server.log")
            try:
                tree = os.environ.get("PYTHONPATH") or Path(__file__).resolve().parents[1]
                print(f"# server's tree {tree}, {args.workers} server process(es), "
                      f"load average {os.getloadavg()[0]:.1f}", flush=True)
                await drive(server, secrets, ids, "heartbeat", 2)          # warm-up
                for kind in args.kinds.split(","):
                    rec = None
                    if args.spy:
                        rec = subprocess.Popen([spy, "record", "--pid", str(server.proc.pid), "--subprocesses",
                                                "--duration", str(int(args.seconds)), "-f", "raw", "-r", "200",
                                                "--nonblocking", "--gil", "-o", f"{args.spy}/{kind}.txt"],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    cpu = ss.Cpu(server.proc.pid, ss.cluster_pid(cluster)).start()
                    t0 = time.perf_counter()
                    n, st = await drive(server, secrets, ids, kind, args.seconds)
                    secs = time.perf_counter() - t0
                    srv, pg, gen, _ = cpu.per_request_ms()
                    print(f"{kind}: {n} requests in {secs:.1f} s ({n / secs:.0f}/s), {sum(st.errors.values())} errors; "
                          f"CPU ms per request: server {srv:.2f}, PostgreSQL {pg:.2f}, load generator {gen:.2f}; "
                          f"p50 {st.pct(50) * 1000:.0f} ms", flush=True)
                    if rec is not None:
                        rec.wait()
            finally:
                server.stop()
    finally:
        cluster.destroy()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="per request type (default 10)")
    p.add_argument("--workers", type=int, default=2, help="server processes (default 2, as street_scale)")
    p.add_argument("--kinds", default=",".join(KINDS), help="comma list of bundle, heartbeat, upload")
    p.add_argument("--spy", help="a folder: record each type with py-spy --gil there")
    p.add_argument("--tree", type=Path, help="serve from this source tree instead (e.g. main's, exported)")
    args = p.parse_args()
    if args.tree is not None:
        if not (args.tree / "street" / "cli.py").is_file():
            raise SystemExit(f"--tree {args.tree}: no street/cli.py there")
        # the server runs `python -m street.cli`: the tree first on its path, and not this one's cwd
        os.environ["PYTHONPATH"] = str(args.tree.resolve())
        os.chdir(tempfile.gettempdir())
    if not set(args.kinds.split(",")) <= set(KINDS):
        raise SystemExit(f"--kinds: choose from {', '.join(KINDS)}")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
