"""How long the office waits for its pages: the board (list, grid, CSV), the daily report, the week
report and one checkpoint's report (page, CSV, XLSX each) for a street of 117 posts
(docs/screenshots.py's street: a week of records, today about 27,000 decisions, shifts, faults,
inspections, a duty roster), on SQLite, one server process.

    .venv/bin/python bench/office_pages.py [--rounds 20]

Prints, per page, the median and the slowest of ``--rounds`` loads (server-side rendering plus
one loopback round trip), and the size of the answer. A measure, not a test: run it on an idle
machine, and compare with the same command on the previous tree.
"""

from __future__ import annotations

import argparse
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
from street.server import StreetServer  # noqa: E402
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
