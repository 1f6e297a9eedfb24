"""Benchmark: time per input of every fuzzed parser, and the street server's memory under junk
(T-FUZZ-1: < 100 ms per input, inputs ≤ 4 KiB; T-FUZZ-2: server RSS growth < 64 MiB).

The inputs are drawn the way tests/faults/test_fuzz_parsers.py draws them, without Hypothesis: random
bytes, random bytes behind the right prefix, and mutants (flipped, inserted, deleted, spliced
bytes) of valid thermometer streams, GK1 codes, trust bundles and request bodies. Each parser
must answer with its own error or a result; anything else is counted as a crash and printed.
The street server runs as its own process (`street-server serve`), so its resident memory is
read from /proc before and after the junk.

    .venv/bin/python bench/fuzz.py [--inputs N] [--requests N] [--seed S]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from drivers.thermometer.frames import PROTOCOLS, codec
from kiosk.clock import FakeClock
from kiosk.codes import base45, bundle, token
from kiosk.codes.keys import load_public
from kiosk.errors import BundleError
from sync import protocol
from sync.errors import BadRequest
from tests.codes_support import HOLDER, make_drill, make_verifier
from tests.synckit import Signer, batch, rec

MAX_INPUT = 4096
BOUND_MS = 100.0
REPO = Path(__file__).resolve().parents[1]


def mutate(data: bytes, rng: random.Random, edits: int | None = None) -> bytes:
    buf = bytearray(data)
    for _ in range(edits or rng.randint(1, 8)):
        op = rng.random()
        i = rng.randrange(len(buf) + 1)
        if op < 0.4 and buf:
            buf[min(i, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op < 0.6:
            buf[i:i] = bytes([rng.randrange(256)])
        elif op < 0.8 and buf:
            del buf[min(i, len(buf) - 1)]
        else:
            j = rng.randrange(len(buf) + 1)
            buf[i:i] = buf[j:j + rng.randint(1, 64)]
    return bytes(buf[:MAX_INPUT])


def junk(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randint(0, MAX_INPUT))


def measure(name: str, inputs: list[bytes], parse: Callable[[bytes], Any],
            allowed: tuple[type[BaseException], ...]) -> dict[str, Any]:
    times, crashes = [], []
    for data in inputs:
        t0 = time.perf_counter()
        try:
            parse(data)
        except allowed:
            pass
        except Exception as exc:  # noqa: BLE001 - a crash is what we are looking for
            crashes.append(f"{type(exc).__name__}: {exc}"[:160])
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"parser": name, "inputs": len(inputs), "p50_us": round(statistics.median(times) * 1000, 1),
            "p99_us": round(times[int(len(times) * 0.99) - 1] * 1000, 1), "max_ms": round(times[-1], 3),
            "crashes": crashes[:3], "n_crashes": len(crashes)}


def serial_inputs(name: str, n: int, rng: random.Random) -> list[bytes]:
    c = codec(name)
    frame = c.encode(36.1, 21.0) if name == "gy-mcu90614" else c.encode(ambient_c=21.0, body_c=36.5)
    stream = b"".join(rng.randbytes(rng.randint(0, 20)) + frame for _ in range(200))[:MAX_INPUT]
    return [junk(rng) if i % 2 else mutate(stream, rng, rng.randint(1, 40)) for i in range(n)]


def feed_all(name: str) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        parser = codec(name).parser()
        out = parser.feed(data)
        parser.flush()
        return out
    return parse


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def server_bench(n: int, rng: random.Random) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-fuzz-"))
    db = work / "street.db"
    secret = subprocess.run([sys.executable, "-m", "street.cli", "kiosk", "add", "k1", "--db", str(db)],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    port_probe = __import__("socket").socket()
    port_probe.bind(("127.0.0.1", 0))
    port = port_probe.getsockname()[1]
    port_probe.close()
    proc = subprocess.Popen([sys.executable, "-m", "street.cli", "serve", "--db", str(db), "--port", str(port)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/healthz", timeout=1)
            break
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    k1 = Signer(url, "k1", secret)
    good = json.dumps(batch("k1", "e1", [rec("k1", "e1", s) for s in range(1, 51)])).encode()
    bodies: list[tuple[str, bytes, dict[str, str]]] = []
    paths = [protocol.RECORDS_PATH, protocol.HEARTBEAT_PATH, protocol.LOST_PATH]
    for i in range(n):
        path = paths[i % 3]
        kind = i % 5
        if kind == 0:
            bodies.append((path, junk(rng), {}))
        elif kind == 1:
            bodies.append((path, mutate(good, rng, 20), {}))
        elif kind == 2:
            bodies.append((path, gzip.compress(mutate(good, rng, 20), mtime=0), {"Content-Encoding": "gzip"}))
        elif kind == 3:          # a gzip bomb: 4 to 64 MiB of zeros in a few KiB
            size = rng.randint(protocol.MAX_DECOMPRESSED_BYTES, 64 * 1024 * 1024)
            bodies.append((path, gzip.compress(b"\0" * size, 9, mtime=0), {"Content-Encoding": "gzip"}))
        else:                    # deep nesting and huge numbers
            depth = rng.randint(1000, 100_000)
            bodies.append((path, b"[" * depth + b"]" * depth if i % 2 else b'{"seq": ' + b"9" * depth + b"}", {}))
    before = rss_kib(proc.pid)
    times, statuses = [], []
    try:
        for path, body, headers in bodies:
            t0 = time.perf_counter()
            r = k1.post(path, raw=body, gz=False, headers=headers)
            times.append((time.perf_counter() - t0) * 1000)
            statuses.append(r.status_code)
        after = rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    times.sort()
    return {"endpoint": "POST /v1/records|heartbeat|lost", "requests": n,
            "p50_ms": round(statistics.median(times), 2), "p99_ms": round(times[int(n * 0.99) - 1], 2),
            "max_ms": round(times[-1], 1), "5xx": sum(s >= 500 for s in statuses),
            "2xx": sum(200 <= s < 300 for s in statuses), "4xx": sum(400 <= s < 500 for s in statuses),
            "rss_before_mib": round(before / 1024, 1), "rss_after_mib": round(after / 1024, 1),
            "rss_growth_mib": round((after - before) / 1024, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inputs", type=int, default=20000, help="inputs per parser (default 20000)")
    p.add_argument("--requests", type=int, default=1000, help="junk requests to the street server (default 1000)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = random.Random(args.seed)
    n = args.inputs
    clock = FakeClock(wall=1_780_000_000.0, synced=True)
    drill = make_drill(Path(tempfile.mkdtemp(prefix="bench-fuzz-")), clock)
    verifier = make_verifier(drill, clock)
    codes = [drill.code(k, HOLDER, clock.wall()).encode() for k in ("green", "paper", "volunteer", "red")]
    root = load_public(drill.root_key_path)
    good_bundle = drill.bundle_bytes(3)
    good_json = json.dumps(batch("k1", "e1", [rec("k1", "e1", s) for s in range(1, 21)])).encode()

    results = []
    for name in sorted(PROTOCOLS):
        results.append(measure(f"thermometer frames {name}", serial_inputs(name, n, rng), feed_all(name), ()))
    results.append(measure("GK1 verifier (text mutants, junk)",
                           [mutate(rng.choice(codes), rng) if i % 2 else b"GK1:" + junk(rng)[:MAX_INPUT - 4]
                            for i in range(n)], verifier._verify, ()))
    results.append(measure("GK1 verifier (COSE mutants)",
                           [(token.PREFIX + base45.encode(mutate(token.unwrap(rng.choice(codes).decode()), rng)))
                            .encode()[:MAX_INPUT] for _ in range(n)], verifier._verify, ()))
    results.append(measure("trust bundle", [mutate(good_bundle, rng) if i % 2 else junk(rng) for i in range(n // 4)],
                           lambda raw: bundle.load(raw, root), (BundleError,)))
    results.append(measure("server JSON (strict)", [mutate(good_json, rng) for _ in range(n)],
                           protocol.loads_strict, (BadRequest,)))
    results.append(measure("server gunzip (capped)",
                           [mutate(gzip.compress(good_json, mtime=0), rng) for _ in range(n)],
                           protocol.gunzip_capped, (BadRequest,)))
    worst = 0.0
    for r in results:
        worst = max(worst, r["max_ms"])
        print(f"{r['parser']:<36} {r['inputs']:>6} inputs  p50 {r['p50_us']:>8.1f} µs  p99 {r['p99_us']:>8.1f} µs  "
              f"max {r['max_ms']:>7.3f} ms  crashes {r['n_crashes']}" + (f"  {r['crashes']}" if r["crashes"] else ""))
    server = server_bench(args.requests, rng)
    print(json.dumps(server))
    crashes = sum(r["n_crashes"] for r in results)
    ok = crashes == 0 and worst < BOUND_MS and server["5xx"] == 0 and server["rss_growth_mib"] < 64
    print(f"worst parser input {worst:.2f} ms (bound {BOUND_MS:g} ms), {crashes} crashes, "
          f"server 5xx {server['5xx']}, server RSS growth {server['rss_growth_mib']} MiB (bound 64): "
          + ("all targets met" if ok else "TARGET MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
