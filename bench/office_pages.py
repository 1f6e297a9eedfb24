"""How long the office waits for its pages: the board (list, grid, CSV), the daily report, the week
report and one checkpoint's report (page, CSV, XLSX each) for a street of 117 posts
(docs/screenshots.py's street: a week of records, today about 27,000 decisions, shifts, faults,
inspections, a duty roster), on SQLite, one server process.

    .venv/bin/python bench/office_pages.py [--rounds 20]

Prints, per page, the median and the slowest of ``--rounds`` loads (server-side rendering plus
one loopback round trip), and the size of the answer. Then the board's own CPU time (building
the status and rendering it, in this process, ``time.thread_time``: what a load would take on an
idle core, whatever else the machine runs) for the street, and for a district of 50 such streets
(5,850 posts: the street's 117 and 5,733 more, registered and heard from) on ``GET /``. A
measure, not a test: compare with the same command on the previous tree, and say the load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

from screenshots import CST, at, populate  # noqa: E402

from kiosk.clock import FakeClock  # noqa: E402
from street.office import status_page  # noqa: E402
from street.registry import credentials  # noqa: E402
from street.registry.places import Place, Scope  # noqa: E402
from street.server import StreetServer  # noqa: E402
from street.storage.db import Registration, StreetDB  # noqa: E402
from tests.office_login import office  # noqa: E402

PAGES = (("board", "/?street=XFL"), ("board grid", "/?street=XFL&view=grid"), ("board CSV", "/status.csv?street=XFL"),
         ("report", "/report?street=XFL"), ("report CSV", "/report.csv?street=XFL"),
         ("report XLSX", "/report.xlsx?street=XFL"), ("week", "/report/week?street=XFL"),
         ("week CSV", "/report/week.csv?street=XFL"), ("week XLSX", "/report/week.xlsx?street=XFL"),
         ("post", "/report/post?kiosk=xfl-018"), ("post CSV", "/report/post.csv?kiosk=xfl-018"),
         ("post XLSX", "/report/post.xlsx?kiosk=xfl-018"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock(wall=at(11.9))
        with StreetServer(Path(tmp) / "street.db", clock=clock, tz=CST) as server:
            t0 = time.perf_counter()
            populate(server, clock, random.Random(20261130))
            records = server.db.rows("SELECT COUNT(*) FROM records")[0][0]
            print(f"street of 117 posts, {records} records stored in {time.perf_counter() - t0:.1f} s")
            print(f"{'page':<12} {'median ms':>10} {'slowest ms':>11} {'bytes':>9}")
            with office(server.db, server.url) as http:                   # a signed-in district account
                for name, path in PAGES:
                    http.get(server.url + path, timeout=60)                 # warm: templates, fonts
                    times, size = [], 0
                    for _ in range(args.rounds):
                        start = time.perf_counter()
                        r = http.get(server.url + path, timeout=60)
                        times.append((time.perf_counter() - start) * 1000)
                        assert r.status_code == 200, r.text
                        size = len(r.content)
                    print(f"{name:<12} {statistics.median(times):>10.1f} {max(times):>11.1f} {size:>9}")
                print(f"load average {os.getloadavg()[0]:.1f}")
                board_cpu(server.db, clock, "street of 117 posts", Scope(street="XFL"), args.rounds)
                more = district(server.db, clock)
                print(f"district: {more:,} more posts registered and heard from")
                for name, path in (("district", "/"),):
                    times = []
                    for _ in range(max(3, args.rounds // 4)):
                        start = time.perf_counter()
                        r = http.get(server.url + path, timeout=60)
                        times.append((time.perf_counter() - start) * 1000)
                        assert r.status_code == 200, r.text
                    print(f"{name:<12} {statistics.median(times):>10.1f} {max(times):>11.1f} {len(r.content):>9}")
                board_cpu(server.db, clock, "district of 5,850 posts", Scope(), max(3, args.rounds // 4))
    return 0


def board_cpu(db: StreetDB, clock: FakeClock, what: str, scope: Scope, rounds: int) -> None:
    """The board's CPU ms (median of ``rounds``): building the status, rendering each view."""
    for view in ("list", "grid"):
        built, rendered = [], []
        for _ in range(rounds):
            t0 = time.thread_time()
            st = status_page.build(db, clock.wall(), CST, 1800.0, scope)
            t1 = time.thread_time()
            status_page.render_html(st, view, "zh")
            t2 = time.thread_time()
            built.append((t1 - t0) * 1000)
            rendered.append((t2 - t1) * 1000)
        print(f"board CPU, {what}, {view}: status {statistics.median(built):.1f} ms + page "
              f"{statistics.median(rendered):.1f} ms")


def district(db: StreetDB, clock: FakeClock) -> int:
    """49 more streets of 117 posts each, every one heard from a minute ago."""
    regs = [Registration(f"d{s:02d}-{i:03d}", Place("410105", "金水区", f"S{s:02d}", f"第{s}街道", f"C{i // 9:02d}",
                                                    f"第{i // 9 + 1}社区", f"g{i % 9}", f"{i % 9}号门"),
                         credentials.issue())
            for s in range(2, 51) for i in range(117)]
    db.register(regs)
    now = clock.wall()
    beat = json.dumps({"gate": "g", "faults": [], "clock_synced": True, "backlog": 0,
                       "on_duty": {"volunteer_ref": "v" * 32}})
    db.engine.write(lambda tx: tx.many("INSERT INTO heartbeats (kiosk_id, received, payload) VALUES (?, ?, ?)",
                                       [(r.kiosk_id, now - 60, beat) for r in regs]))
    db.engine.write(lambda tx: tx.run("UPDATE kiosks SET last_contact = ?, online_since = ? WHERE kiosk_id LIKE 'd%'",
                                      (now - 60, now - 3600)))
    return len(regs)


if __name__ == "__main__":
    sys.exit(main())
