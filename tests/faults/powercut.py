"""Simulated power cuts (T-DB-2): lose every write the disk was not told to make durable.

A child process writes passes through the *shipped* pass-log code (kiosk.passlog.store's pragmas,
row stamping and insert transaction) on an ``apsw`` connection whose VFS inherits the real
unix VFS and shadows the main file and the WAL: every ``xWrite``/``xTruncate`` is appended to
an "unsynced" log file, and ``xSync`` applies the pending operations to a "synced" image —
what a disk that honours flushes holds after a power cut (docs/reliability.md §1.2, the
pattern of SQLite's own crash tests, testing.html §3.3). The child prints each seq after
COMMIT returned; the parent SIGKILLs it at a random moment, then rebuilds the files:

* ``drop``: exactly the synced images (every unsynced write lost);
* ``subset``: the synced images plus a random subset of the unsynced writes, in 512-byte
  sectors (writes reordered and torn, as SQLite's crash VFS does).

It deletes ``-shm``, opens the log the way the kiosk does (``PassLog``: quick_check, schema,
seq) and checks: ``integrity_check`` ok, surviving seqs are exactly 1..n, and every printed
seq survived. The next cut continues on the restored files. With ``synchronous=NORMAL``
(the control) acknowledged passes are lost, which proves the harness can see loss.

    python -m tests.faults.powercut --cuts 200 --mode drop     # full size (tests/faults/run_full.sh)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.paths import REPO

KIOSK_ID = "powercut"
SECTOR = 512
_OP = struct.Struct(">cQI")     # kind (w|t), offset or size, length of data that follows


# ============================================================================ child side

def child_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="powercut child")
    p.add_argument("db", type=Path)
    p.add_argument("shadow", type=Path)
    p.add_argument("--synchronous", choices=("shipped", "normal"), default="shipped")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import apsw

    from kiosk.clock import SystemClock
    from kiosk.core.records import Reading, Record
    from kiosk.core.verdict import CodeVerdict
    from kiosk.passlog import store

    class ShadowFile(apsw.VFSFile):
        def __init__(self, name: Any, flags: list[int]) -> None:
            super().__init__("", name, flags)
            path = name.filename() if hasattr(name, "filename") else name    # the WAL comes as a str
            base = os.path.basename(path) if path else ""
            self.tracked = base in (args.db.name, args.db.name + "-wal")
            self.pending: list[tuple[bytes, int, bytes]] = []
            if self.tracked:
                self.synced = os.open(args.shadow / f"{base}.synced", os.O_RDWR | os.O_CREAT, 0o600)
                self.log = open(args.shadow / f"{base}.unsynced", "ab")

        def xWrite(self, data: bytes, offset: int) -> None:
            super().xWrite(data, offset)
            if self.tracked:
                data = bytes(data)
                self.pending.append((b"w", offset, data))
                self.log.write(_OP.pack(b"w", offset, len(data)) + data)
                self.log.flush()

        def xTruncate(self, size: int) -> None:
            super().xTruncate(size)
            if self.tracked:
                self.pending.append((b"t", size, b""))
                self.log.write(_OP.pack(b"t", size, 0))
                self.log.flush()

        def xSync(self, flags: int) -> None:
            # The simulated disk makes everything written so far durable. The real fsync is
            # skipped: this machine keeps power, only the simulated disk loses it.
            if self.tracked:
                for kind, arg, data in self.pending:
                    if kind == b"w":
                        os.pwrite(self.synced, data, arg)
                    else:
                        os.ftruncate(self.synced, arg)
                self.pending.clear()
                self.log.seek(0)
                self.log.truncate()

        def xClose(self) -> None:
            if self.tracked:
                os.close(self.synced)
                self.log.close()
            super().xClose()

    class ShadowVFS(apsw.VFS):
        def __init__(self) -> None:
            self.name = "powercut"
            super().__init__(self.name, "")

        def xOpen(self, name: Any, flags: list[int]) -> apsw.VFSFile:
            return ShadowFile(name, flags)

    vfs = ShadowVFS()           # registered while referenced
    conn = apsw.Connection(str(args.db), vfs=vfs.name)
    store.apply_writer_pragmas(conn, 512 * 1024 * 1024 // store.PAGE_SIZE)
    if args.synchronous == "normal":
        conn.execute("PRAGMA synchronous = NORMAL")      # the control run only
    meta = store.read_meta(conn)
    seq = store.last_seq_of(conn)
    clock = SystemClock(assume_synced=True)
    rng = random.Random(args.seed)
    out = sys.stdout
    while True:
        seq += 1
        token = f"{rng.getrandbits(128):032x}"
        verdict = CodeVerdict(reason="ok", kind="dynamic", colour="green", kid="k1", issuer="street",
                              token_hash=token, holder_ref=token[::-1])
        reading = Reading(round(rng.uniform(36.0, 37.2), 2), 5, 0.1, 20.0, "normal", 36.0)
        record = Record(kind="pass", t=clock.monotonic(), decision="pass", cause="ok", verdict=verdict,
                        reading=reading)
        row = store.stamp_row(record, kiosk_id=meta["kiosk_id"], db_epoch=meta["db_epoch"], gate="main",
                              direction="in", clock=clock)
        store.insert_rows(conn, [{**row, "seq": seq}])
        out.write(f"{seq}\n")       # acknowledged: COMMIT returned
        out.flush()


# ============================================================================ parent side

@dataclass
class Cut:
    acked: int              # highest seq the child printed (cumulative over the run)
    survived: int           # highest seq after the restore (survivors are 1..survived)
    integrity: str
    prefix: bool
    lost: int               # acknowledged passes missing after the cut
    unsynced_ops: int


@dataclass
class Result:
    mode: str
    synchronous: str
    cuts: list[Cut] = field(default_factory=list)

    @property
    def acked(self) -> int:
        return max((c.acked for c in self.cuts), default=0)

    def summary(self) -> dict[str, Any]:
        losing = [c.lost for c in self.cuts if c.lost]
        return {"mode": self.mode, "synchronous": self.synchronous, "cuts": len(self.cuts),
                "acked_passes": sum(c.acked - prev for c, prev in
                                    zip(self.cuts, [0] + [c.survived for c in self.cuts[:-1]], strict=True)),
                "integrity_failures": sum(c.integrity != "ok" for c in self.cuts),
                "all_prefix": all(c.prefix for c in self.cuts),
                "cuts_with_loss": len(losing), "max_lost": max(losing, default=0),
                "total_lost": sum(losing)}


def make_log(db: Path) -> None:
    """An empty pass log made by the kiosk's own code, closed cleanly (durable before any cut)."""
    from kiosk.clock import FakeClock
    from kiosk.passlog.store import PassLog
    PassLog(db, kiosk_id=KIOSK_ID, gate="main", direction="in", clock=FakeClock()).close()


def _prepare_shadow(db: Path, shadow: Path) -> None:
    shadow.mkdir(exist_ok=True)
    for f in shadow.iterdir():
        f.unlink()
    for base in (db.name, db.name + "-wal"):
        real = db.parent / base
        if real.exists():
            (shadow / f"{base}.synced").write_bytes(real.read_bytes())


def _ops(path: Path) -> list[tuple[bytes, int, bytes]]:
    if not path.exists():
        return []
    raw = path.read_bytes()
    ops, i = [], 0
    while i + _OP.size <= len(raw):
        kind, arg, n = _OP.unpack_from(raw, i)
        if i + _OP.size + n > len(raw):
            break                       # the kill landed inside this log entry: never written
        ops.append((kind, arg, raw[i + _OP.size:i + _OP.size + n]))
        i += _OP.size + n
    return ops


def restore(db: Path, shadow: Path, mode: str, rng: random.Random) -> int:
    """Rebuild the files as the power cut left them; return how many unsynced ops there were."""
    count = 0
    for base in (db.name, db.name + "-wal"):
        synced = shadow / f"{base}.synced"
        real = db.parent / base
        if not synced.exists():
            continue
        image = bytearray(synced.read_bytes())
        ops = _ops(shadow / f"{base}.unsynced")
        count += len(ops)
        if mode == "subset":
            for kind, arg, data in ops:
                if kind == b"t":
                    if rng.random() < 0.5:
                        del image[arg:]
                    continue
                for s in range(0, len(data), SECTOR):
                    if rng.random() < 0.5:
                        off = arg + s
                        piece = data[s:s + SECTOR]
                        if len(image) < off:
                            image.extend(b"\0" * (off - len(image)))
                        image[off:off + len(piece)] = piece
        real.write_bytes(bytes(image))
    (db.parent / f"{db.name}-shm").unlink(missing_ok=True)
    return count


def check(db: Path) -> tuple[str, list[int]]:
    """Open the restored log as the kiosk does, then integrity_check and the surviving seqs."""
    from kiosk.clock import FakeClock
    from kiosk.passlog.store import PassLog
    log = PassLog(db, kiosk_id=KIOSK_ID, gate="main", direction="in", clock=FakeClock())
    try:
        integrity = log.conn.execute("PRAGMA integrity_check").fetchone()[0]
        seqs = [r[0] for r in log.conn.execute("SELECT seq FROM records ORDER BY seq")]
    finally:
        log.close()
    return integrity, seqs


def run(workdir: Path, cuts: int, mode: str = "drop", synchronous: str = "shipped", seed: int = 1,
        min_lines: int = 20, max_lines: int = 1500) -> Result:
    """``cuts`` power cuts in a row on one log; returns what each left behind."""
    rng = random.Random(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    db, shadow = workdir / "passes.db", workdir / "shadow"
    make_log(db)
    result = Result(mode, synchronous)
    acked = 0
    for n in range(cuts):
        _prepare_shadow(db, shadow)
        proc = subprocess.Popen([sys.executable, "-m", "tests.faults.powercut", "child", str(db), str(shadow),
                                 "--synchronous", synchronous, "--seed", str(seed * 100_000 + n)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        target = rng.randint(min_lines, max_lines)
        seen = 0
        for line in proc.stdout:
            if not line.endswith(b"\n"):
                break
            acked = max(acked, int(line))
            seen += 1
            if seen >= target:
                os.kill(proc.pid, signal.SIGKILL)
                break
        assert proc.stdout is not None and proc.stderr is not None
        rest = proc.stdout.read()
        for line in rest.split(b"\n")[:-1]:      # complete lines printed before the kill
            acked = max(acked, int(line))
        code = proc.wait()
        if code != -signal.SIGKILL:
            raise RuntimeError(f"power-cut child exited {code}: {proc.stderr.read().decode()[-2000:]}")
        proc.stderr.close()
        ops = restore(db, shadow, mode, rng)
        integrity, seqs = check(db)
        survived = seqs[-1] if seqs else 0
        prefix = seqs == list(range(1, len(seqs) + 1))
        result.cuts.append(Cut(acked=acked, survived=survived, integrity=integrity, prefix=prefix,
                               lost=max(0, acked - survived), unsynced_ops=ops))
        acked = min(acked, survived)       # the next child continues after what survived
    return result


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "child":
        return child_main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m tests.faults.powercut", description=__doc__.split("\n\n")[0])
    p.add_argument("--cuts", type=int, default=200)
    p.add_argument("--mode", choices=("drop", "subset"), default="drop")
    p.add_argument("--synchronous", choices=("shipped", "normal"), default="shipped")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--dir", type=Path, help="work dir (default: a new temp dir)")
    args = p.parse_args(argv)
    import tempfile
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="powercut-"))
    t0 = time.monotonic()
    result = run(workdir, args.cuts, args.mode, args.synchronous, args.seed)
    summary = {**result.summary(), "seconds": round(time.monotonic() - t0, 1)}
    print(json.dumps(summary))
    ok = summary["integrity_failures"] == 0 and summary["all_prefix"]
    if args.synchronous == "shipped":
        ok = ok and summary["total_lost"] == 0
    else:
        ok = ok and summary["cuts_with_loss"] > 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
