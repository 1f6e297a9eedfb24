"""Screenshots of the office's board for docs/screenshots/: a street of 117 posts, in Chinese.

    .venv/bin/python docs/screenshots.py [--out docs/screenshots]

Starts a real street server on 127.0.0.1 with a fake clock at 15:30 Zhengzhou time, registers
117 kiosks in 12 compounds of 幸福路街道, uploads a day of signed records through the kiosk
API (a morning and an evening peak; denies, manual passes and denies, two fever denies), sends
heartbeats (most posts staffed; a few unstaffed, faulted, silent, off by the clock; three never
seen) with a duty roster, and has headless Chromium take the list, the grid and the daily report,
and print the report to PDF. The six days before are stored too (through the same checks as an
upload, without HTTP: the week report needs them), and the week report and one post's report
are taken as well. Needs chromium and a CJK font
(run.sh installs fonts-noto-cjk with the test packages).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.clock import FakeClock  # noqa: E402
from street.api.validate import check_batch  # noqa: E402
from street.registry import duty  # noqa: E402
from street.registry.places import Place  # noqa: E402
from street.server import StreetServer  # noqa: E402
from street.storage import daily  # noqa: E402
from sync import protocol  # noqa: E402
from tests.browser import Browser  # noqa: E402
from tests.office_login import office  # noqa: E402
from tests.synckit import Signer, batch, rec  # noqa: E402

CST = dt.timezone(dt.timedelta(hours=8), "CST")
DAY = dt.date(2026, 11, 30)
NOW = dt.datetime.combine(DAY, dt.time(15, 30), CST).timestamp()
COMPOUNDS = ["阳光小区", "建设新村", "金水花园", "纬五路家属院", "幸福里", "绿城百合", "文化宫社区", "丰产路小区",
             "政七街院", "黄河路一号院", "经三路小区", "农业路新村"]
GATES = ["东门", "西门", "南门", "北门", "东北门", "西南门", "1号门", "2号门", "3号门", "车行口"]


def at(hour: float, day: dt.date = DAY) -> float:
    return dt.datetime.combine(day, dt.time(0), CST).timestamp() + hour * 3600


def earlier_days(server: StreetServer, rng: random.Random, kiosk_ids: list[str]) -> None:
    """Each post's six days before, quieter than today: one volunteer 06:30–22:05, some leaving the post
    for lunch (an absence), a few fever denies."""
    for kiosk_id in kiosk_ids:
        epoch, volunteer = str(uuid.uuid4()), f"{rng.getrandbits(128):032x}"
        out: list[dict[str, Any]] = []
        for back in range(6, 0, -1):
            day = DAY - dt.timedelta(days=back)
            shift = {"decision": None, "cause": None, "volunteer_ref": volunteer}
            out.append(rec(kiosk_id, epoch, 0, wall_ts=at(6.5, day), kind="shift_start", **shift))
            if rng.random() < 0.15:
                out += [rec(kiosk_id, epoch, 0, wall_ts=at(12.0, day), kind="shift_end", **shift),
                        rec(kiosk_id, epoch, 0, wall_ts=at(12.0 + rng.random(), day), kind="shift_start", **shift)]
            out.append(rec(kiosk_id, epoch, 0, wall_ts=at(22.08, day), kind="shift_end", **shift))
            if rng.random() < 0.93:                                 # the inspection team's daily round
                out.append(rec(kiosk_id, epoch, 0, wall_ts=at(9 + rng.random() * 8, day), kind="inspection",
                               decision=None, cause="staffed", volunteer_ref=volunteer, code_kind="inspector",
                               holder_ref=rng.choice(["5e1f0a77", "c09b33d2"]) * 4, detail="self-check ok"))
            weights = [0.03] * 6 + [1, 3, 3, 1.5, 1, 2, 2.5, 1.2, 1, 0.8, 1, 1.5, 2.5, 2, 1.2, 0.6, 0.2, 0.05]
            for _ in range(rng.randint(120, 320)):
                roll = rng.random()
                decision, cause = ("pass", "ok") if roll < 0.93 else ("deny", "red") if roll < 0.975 else \
                    ("manual_pass", "no_code") if roll < 0.995 else ("manual_deny", "no_code")
                if rng.random() < 0.0002:
                    decision, cause = "deny", "fever"
                out.append(rec(kiosk_id, epoch, 0, wall_ts=at(rng.choices(range(24), weights)[0] + rng.random(), day),
                               decision=decision, cause=cause, temp_c=38.3 if cause == "fever" else 36.5,
                               volunteer_ref=volunteer if decision.startswith("manual") else None))
        out.sort(key=lambda r: r["wall_ts"])
        for i, r in enumerate(out):
            r["seq"] = i + 1
        for start in range(0, len(out), protocol.MAX_BATCH_RECORDS):
            body = batch(kiosk_id, epoch, out[start:start + protocol.MAX_BATCH_RECORDS], sent_wall=at(11.9))
            server.db.ingest(kiosk_id, check_batch(body, kiosk_id), uuid.uuid4().hex)


def day_records(rng: random.Random, kiosk_id: str, epoch: str, volunteer: str) -> list[dict[str, Any]]:
    """A post's day until 15:30: about 150–400 decisions, busiest 7–9 h and 11–13 h."""
    out: list[dict[str, Any]] = [rec(kiosk_id, epoch, 1, wall_ts=at(6.5), kind="shift_start", decision=None,
                                     cause=None, volunteer_ref=volunteer)]
    n = rng.randint(150, 400)
    weights = [0.03] * 6 + [1, 3, 3, 1.5, 1, 2, 2.5, 1.2, 1, 0.8]
    for _ in range(n):
        hour = rng.choices(range(16), weights)[0] + rng.random()
        if hour >= 15.5:
            continue
        roll = rng.random()
        decision, cause = ("pass", "ok") if roll < 0.93 else ("deny", "red") if roll < 0.975 else \
            ("manual_pass", "no_code") if roll < 0.995 else ("manual_deny", "no_code")
        out.append(rec(kiosk_id, epoch, len(out) + 1, wall_ts=at(hour), decision=decision, cause=cause,
                       temp_c=round(rng.gauss(36.5, 0.25), 1),
                       volunteer_ref=volunteer if decision.startswith("manual") else None))
    out[1:] = sorted(out[1:], key=lambda r: r["wall_ts"])
    for i, r in enumerate(out):
        r["seq"] = i + 1
    return out


def populate(server: StreetServer, clock: FakeClock, rng: random.Random) -> None:
    posts = []
    for i in range(117):
        compound = i * len(COMPOUNDS) // 117
        place = Place(street="XFL", street_name="幸福路街道", compound=f"C{compound + 1:02d}",
                      compound_name=COMPOUNDS[compound], gate=f"G{i + 1:03d}", gate_name=GATES[i % len(GATES)])
        kiosk_id = f"xfl-{i + 1:03d}"
        posts.append((kiosk_id, Signer(server.url, kiosk_id, server.db.add_kiosk(kiosk_id, place))))
    roster = "kiosk_id,from,to\n" + "".join(
        f"{k},07:00,22:00\n" if n % 9 else f"{k},00:00,24:00\n" for n, (k, _) in enumerate(posts))
    daily.save_duty(server.db, duty.parse(roster, {k for k, _ in posts}))
    never = {"xfl-040", "xfl-088", "xfl-115"}
    unstaffed = {"xfl-012", "xfl-077", "xfl-101"}
    faulted = {"xfl-023": ("thermometer", "测温模块 5 秒无数据"), "xfl-064": ("camera", "摄像头无画面")}
    offline = {"xfl-031", "xfl-096"}
    clock_off = {"xfl-052"}
    fever = {"xfl-007": 38.4, "xfl-059": 38.9}
    clock.jump_wall(NOW - 60 - clock.wall())         # stored as heard just now: today's uploads end no silence
    earlier_days(server, rng, [k for k, _ in posts if k not in never])
    # xfl-018 heard every 20 min all week but for 2½ hours two days ago (its downtime in the reports)
    down = (at(9.2, DAY - dt.timedelta(days=2)), at(11.7, DAY - dt.timedelta(days=2)))
    t = at(0, DAY - dt.timedelta(days=6))
    while t < NOW - 60:
        if not down[0] < t < down[1]:
            clock.jump_wall(t - clock.wall())
            server.db.heartbeat("xfl-018", {"kiosk_id": "xfl-018", "sent_wall": t, "backlog": 0}, uuid.uuid4().hex)
        t += 1200
    clock.jump_wall(at(11.9) - clock.wall())
    posts.sort(key=lambda p: p[0] not in offline)            # the silent ones upload first, at 11:54
    for kiosk_id, k in posts:
        if kiosk_id in never:
            continue
        if kiosk_id not in offline:
            clock.jump_wall(NOW - clock.wall())
        epoch, volunteer = str(uuid.uuid4()), f"{rng.getrandbits(128):032x}"
        records = day_records(rng, kiosk_id, epoch, volunteer)
        if kiosk_id in fever:
            records.append(rec(kiosk_id, epoch, len(records) + 1, wall_ts=at(14.9), decision="deny", cause="fever",
                               temp_c=fever[kiosk_id]))
        if kiosk_id in ("xfl-018", "xfl-045"):                # a thermometer that dropped out for a while
            records += [rec(kiosk_id, epoch, len(records) + 1, wall_ts=at(9.2), kind="fault", decision=None,
                            cause=None, device="thermometer", detail="测温模块 5 秒无数据"),
                        rec(kiosk_id, epoch, len(records) + 2, wall_ts=at(9.45), kind="recovered", decision=None,
                            cause=None, device="thermometer")]
        if kiosk_id in unstaffed:
            records.append(rec(kiosk_id, epoch, len(records) + 1, wall_ts=at(13.0), kind="shift_end", decision=None,
                               cause=None, volunteer_ref=volunteer))
        if rng.random() < 0.7:                                  # the inspection team's round so far
            staffed = kiosk_id not in unstaffed or rng.random() < 0.3
            records.append(rec(kiosk_id, epoch, len(records) + 1, wall_ts=at(9 + rng.random() * 5),
                               kind="inspection", decision=None, cause="staffed" if staffed else "unstaffed",
                               volunteer_ref=volunteer if staffed else None, code_kind="inspector",
                               holder_ref=rng.choice(["5e1f0a77", "c09b33d2"]) * 4,
                               detail="faults: camera" if kiosk_id == "xfl-064" else "self-check ok"))
            records.sort(key=lambda row: row["wall_ts"])
            for i, row in enumerate(records):
                row["seq"] = i + 1
        silent = kiosk_id in offline
        if silent:
            records = [r for r in records if r["wall_ts"] < at(12.0)]
        for start in range(0, len(records), protocol.MAX_BATCH_RECORDS):
            chunk = records[start:start + protocol.MAX_BATCH_RECORDS]
            r = k.post(protocol.RECORDS_PATH, batch(kiosk_id, epoch, chunk, sent_wall=clock.wall()),
                       now=clock.wall())
            assert r.status_code == 200, r.text
        if silent:
            continue
        device = faulted.get(kiosk_id)
        body = {"kiosk_id": kiosk_id, "sent_wall": NOW, "gate": "main", "db_epoch": epoch, "backlog": 0,
                "on_duty": None if kiosk_id in unstaffed else {"volunteer_ref": volunteer, "since": at(6.5)},
                "faults": [{"device": device[0], "detail": device[1], "since": at(15.1)}] if device else [],
                "clock_synced": True, "clock_offset_s": 412.0 if kiosk_id in clock_off else 0.02}
        r = k.post(protocol.HEARTBEAT_PATH, body, gz=False, now=clock.wall())
        assert r.status_code == 200, r.text
    clock.jump_wall(NOW - clock.wall())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock(wall=at(11.9))
        with StreetServer(Path(tmp) / "street.db", clock=clock, tz=CST, offline_after=1800) as server:
            # the silent posts upload at 11:54 and are not heard from again
            populate(server, clock, random.Random(20261130))
            with Browser() as b:
                b.sign_in(server.url, office(server.db, server.url))
                for name, path in (("board-list", "/?street=XFL"), ("board-grid", "/?street=XFL&view=grid"),
                                   ("report", "/report?street=XFL"), ("report-week", "/report/week?street=XFL"),
                                   ("report-post", "/report/post?kiosk=xfl-018")):
                    b.open(server.url + path)
                    b.screenshot(args.out / f"{name}.png", full_page=False)     # the first screen
                    print(args.out / f"{name}.png")
                b.open(server.url + "/report?street=XFL")
                b.pdf(args.out / "report.pdf")
                print(args.out / "report.pdf")
                # what the PDF shows: the page as print media lays it out (A4 landscape is ~1123 px wide)
                b.call("Emulation.setEmulatedMedia", {"media": "print"}, session=b.session)
                b.call("Emulation.setDeviceMetricsOverride", {"width": 1123, "height": 794, "deviceScaleFactor": 1,
                                                               "mobile": False}, session=b.session)
                b.screenshot(args.out / "report-print.png", full_page=False)
                print(args.out / "report-print.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
