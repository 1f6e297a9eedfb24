"""Alerts reach the office: every kind, once, to a real HTTP receiver (as a generic webhook, a
WeCom robot and a signed DingTalk robot) and a real SMTP server (aiosmtpd) on 127.0.0.1; a
receiver that is down is retried with backoff; one that hangs delays no upload."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from kiosk.clock import FakeClock
from street.alerts import outbox, settings
from street.alerts.worker import AlertWorker
from street.errors import AlertConfigError
from street.registry.places import Place
from street.server import StreetServer
from sync import protocol
from tests.synckit import Signer, batch, rec

CST = dt.timezone(dt.timedelta(hours=8), "CST")
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=CST).timestamp()
EPOCH = str(uuid.uuid4())
SECRET = "SECtest-signing-secret"


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps what it is sent and answers as a robot would."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, list[str]], dict[str, Any]]] = []
        self.mode = "ok"                      # ok | down | hang
        self.arrived = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                url = urllib.parse.urlsplit(self.path)
                if outer.mode == "hang":
                    outer.arrived.set()
                    outer.release.wait(30)
                if outer.mode == "down":
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.got.append((url.path, urllib.parse.parse_qs(url.query), body))
                answer = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path: str) -> list[dict[str, Any]]:
        return [body for p, _, body in self.got if p == path]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.content, policy=email_policy))
        return "250 OK"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=port)
    ctl.start()
    yield box, port
    ctl.stop()


def alert_settings(url: str, smtp_port: int | None = None, **extra: Any) -> settings.AlertSettings:
    raw: dict[str, Any] = {"offline_after_min": 30, "unstaffed_after_min": 15, "channel": [
        {"kind": "webhook", "url": url + "/hook"},
        {"kind": "wecom", "url": url + "/cgi-bin/webhook/send?key=k1"},
        {"kind": "dingtalk", "url": url + "/robot/send?access_token=t1", "secret": SECRET}]}
    if smtp_port:
        raw["channel"].append({"kind": "smtp", "host": "127.0.0.1", "port": smtp_port,
                               "sender": "board@example.cn", "to": ["office@example.cn"]})
    raw.update(extra)
    return settings.parse(raw)


def send(k: Signer, clock: FakeClock, records: list[dict[str, Any]]) -> None:
    r = k.post(protocol.RECORDS_PATH, batch(k.kiosk_id, EPOCH, records, sent_wall=clock.wall()), now=clock.wall())
    assert r.status_code == 200, r.text


def beat(k: Signer, clock: FakeClock, **payload: Any) -> None:
    body = {"kiosk_id": k.kiosk_id, "sent_wall": clock.wall(), "gate": "north", "db_epoch": EPOCH, "backlog": 0,
            "on_duty": None, "faults": [], "clock_synced": True, "clock_offset_s": 0.01, **payload}
    assert k.post(protocol.HEARTBEAT_PATH, body, gz=False, now=clock.wall()).status_code == 200


def every_kind(server: StreetServer, clock: FakeClock) -> None:
    """A fever deny, a device fault and a clock alarm from cp-a; cp-b unstaffed 20 min; cp-c silent 31 min."""
    place = Place(street="S01", street_name="幸福街道", compound="C01", compound_name="阳光小区", gate="G1",
                  gate_name="东门")
    a = Signer(server.url, "cp-a", server.db.add_kiosk("cp-a", place))
    b = Signer(server.url, "cp-b", server.db.add_kiosk("cp-b"))
    c = Signer(server.url, "cp-c", server.db.add_kiosk("cp-c"))
    beat(b, clock)
    beat(c, clock)
    clock.advance(20 * 60)
    beat(b, clock)
    beat(a, clock, on_duty={"volunteer_ref": "ab" * 16, "since": T0})
    now = clock.wall()
    send(a, clock, [rec("cp-a", EPOCH, 1, wall_ts=now - 60),
                    rec("cp-a", EPOCH, 2, wall_ts=now - 50, decision="deny", cause="fever", temp_c=38.6),
                    rec("cp-a", EPOCH, 3, wall_ts=now - 40, kind="fault", decision=None, cause=None,
                        device="thermometer", detail="no frames for 5 s"),
                    rec("cp-a", EPOCH, 4, wall_ts=now - 30, kind="alarm", decision=None, cause=None,
                        device="clock", detail="clock stepped back 400 s")])
    clock.advance(11 * 60)
    beat(a, clock, on_duty={"volunteer_ref": "ab" * 16, "since": T0})
    beat(b, clock)


def test_every_alert_kind_reaches_every_channel_once(db_target: str | Path, receiver: Receiver,
                                                     mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    clock = FakeClock(wall=T0)
    with StreetServer(db_target, clock=clock, tz=CST) as server:
        every_kind(server, clock)
        worker = AlertWorker(server.db, alert_settings(receiver.url, port), clock, CST)
        assert worker.run_once() == 4 * 5
        assert worker.run_once() == 0                       # de-duplicated: nothing twice
        clock.advance(60)
        assert worker.run_once() == 0                       # the same spells, still going: still once
    kinds = sorted(b["kind"] for b in receiver.on("/hook"))
    assert kinds == ["alarm", "fault", "fever", "offline", "unstaffed"]
    by_kind = {b["kind"]: b for b in receiver.on("/hook")}
    assert by_kind["fever"]["kiosk_id"] == "cp-a" and by_kind["fever"]["detail"] == {"temp_c": 38.6}
    assert by_kind["offline"]["kiosk_id"] == "cp-c" and by_kind["unstaffed"]["kiosk_id"] == "cp-b"
    assert "幸福街道 阳光小区 东门" in by_kind["fever"]["place"]
    wecom = receiver.on("/cgi-bin/webhook/send")
    assert len(wecom) == 5 and all(b["msgtype"] == "text" and b["text"]["content"] for b in wecom)
    assert any("【发热告警】幸福街道 阳光小区 东门" in b["text"]["content"] and "38.6" in b["text"]["content"]
               for b in wecom)
    ding = [(q, b) for p, q, b in receiver.got if p == "/robot/send"]
    assert len(ding) == 5
    for query, body in ding:                                 # each signed as DingTalk checks it
        ts = query["timestamp"][0]
        mac = hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()
        assert query["sign"][0] == base64.b64encode(mac).decode() and query["access_token"] == ["t1"]
        assert body["msgtype"] == "text"
    assert len(box.mails) == 5
    subjects = sorted(str(m["Subject"]) for m in box.mails)
    expected = {"【发热告警】", "【卡口离线】", "【无人值守】", "【时钟或防拆", "【设备故障】"}
    assert {s[:6] for s in subjects} == expected, subjects
    assert all(m["To"] == "office@example.cn" for m in box.mails)


def test_a_receiver_that_is_down_is_retried_with_backoff_and_gets_each_alert_once(
        db_target: str | Path, receiver: Receiver) -> None:
    clock = FakeClock(wall=T0)
    with StreetServer(db_target, clock=clock, tz=CST) as server:
        every_kind(server, clock)
        receiver.mode = "down"
        worker = AlertWorker(server.db, alert_settings(receiver.url), clock, CST)
        assert worker.run_once() == 0
        failed = server.db.rows("SELECT attempts, next_try, error FROM alert_deliveries")
        assert len(failed) == 15 and all(int(r[0]) == 1 and "503" in r[2] for r in failed)
        assert all(float(r[1]) == pytest.approx(clock.wall() + outbox.backoff(1)) for r in failed)
        receiver.mode = "ok"
        clock.advance(10)
        assert worker.run_once() == 0                       # not due yet: the backoff holds
        clock.advance(outbox.backoff(1))
        assert worker.run_once() == 15
        assert worker.run_once() == 0
    assert len(receiver.on("/hook")) == 5


def test_a_hanging_receiver_delays_no_upload(db_target: str | Path, receiver: Receiver) -> None:
    clock = FakeClock(wall=T0)
    receiver.mode = "hang"
    alerts = dataclasses.replace(alert_settings(receiver.url), interval_s=0.01)
    with StreetServer(db_target, clock=clock, tz=CST, alerts=alerts) as server:
        a = Signer(server.url, "cp-a", server.db.add_kiosk("cp-a"))
        send(a, clock, [rec("cp-a", EPOCH, 1, wall_ts=T0 - 5, decision="deny", cause="fever", temp_c=38.9)])
        assert receiver.arrived.wait(30)                    # the worker is stuck inside the receiver now
        for seq in range(2, 12):                            # and uploads are answered all the same
            send(a, clock, [rec("cp-a", EPOCH, seq, wall_ts=T0)])
        assert server.db.rows("SELECT COUNT(*) FROM records")[0][0] == 11
        receiver.release.set()


@pytest.mark.parametrize(("raw", "message"), [
    ({"channel": [{"kind": "pager", "url": "http://x"}]}, "kind 'pager' is not one of"),
    ({"channel": [{"kind": "wecom"}]}, r"needs an http\(s\) url"),
    ({"channel": [{"kind": "smtp", "host": "h"}]}, "needs host, sender and to"),
    ({"channel": [{"kind": "webhook", "url": "http://x", "kinds": ["flood"]}]}, "alert kind 'flood'"),
    ({"offline_after_min": 0}, "between 1 and 1440"),
    ({"colour": "red"}, "unknown key 'colour'"),
])
def test_a_bad_alerts_file_is_one_clear_line(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(AlertConfigError, match=message):
        settings.parse(raw)


def test_serve_refuses_an_unreadable_alerts_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "alerts.toml"
    bad.write_text("[[channel]\nkind = ", encoding="utf-8")
    with pytest.raises(AlertConfigError, match="is not valid TOML"):
        settings.load(bad)
    with pytest.raises(AlertConfigError, match="No such file"):
        settings.load(tmp_path / "missing.toml")


def test_two_server_processes_send_each_alert_once(db_target: str | Path, receiver: Receiver) -> None:
    """`serve --workers N` runs an alert worker per process on one database: the claim decides."""
    clock = FakeClock(wall=T0)
    with StreetServer(db_target, clock=clock, tz=CST) as server:
        every_kind(server, clock)
        workers = [AlertWorker(server.db, alert_settings(receiver.url), clock, CST) for _ in range(2)]
        sent: list[int] = []
        threads = [threading.Thread(target=lambda w=w: sent.append(w.run_once())) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sum(sent) == 15 and len(receiver.got) == 15
        assert sorted(b["kind"] for b in receiver.on("/hook")) == ["alarm", "fault", "fever", "offline", "unstaffed"]


@pytest.mark.parametrize("hours", ["09:20,22:00", "00:00,09:00"])
def test_unstaffed_counts_only_inside_the_duty_hours(db_target: str | Path, receiver: Receiver, hours: str) -> None:
    """cp-b has nobody on duty from 09:00; at 09:31 that is an alert without a roster (above), but
    not when its duty began at 09:20 (11 min < 15) nor when its hours ended at 09:00."""
    from street.registry import duty
    from street.storage import daily
    clock = FakeClock(wall=T0)
    with StreetServer(db_target, clock=clock, tz=CST) as server:
        every_kind(server, clock)
        daily.save_duty(server.db, duty.parse(f"kiosk_id,from,to\ncp-b,{hours}\n", {"cp-b"}))
        AlertWorker(server.db, alert_settings(receiver.url), clock, CST).run_once()
    assert sorted(b["kind"] for b in receiver.on("/hook")) == ["alarm", "fault", "fever", "offline"]


def test_unstaffed_follows_the_streets_own_time_zone(db_target: str | Path, receiver: Receiver) -> None:
    """A server on UTC; street ZZ on Asia/Shanghai, cp-z's duty 09:00–22:00 local. Nobody on duty since
    09:00 CST (01:00 UTC): at 09:32 that is an alert, said in Zhengzhou's time — read in UTC (01:32)
    the post would be outside its hours and nobody would be told."""
    from street import cli
    from street.registry import duty
    from street.storage import daily
    clock = FakeClock(wall=T0)
    with StreetServer(db_target, clock=clock, tz=dt.UTC) as server:
        z = Signer(server.url, "cp-z", server.db.add_kiosk("cp-z", Place(street="ZZ", compound="C1", gate="G")))
        daily.save_duty(server.db, duty.parse("kiosk_id,from,to\ncp-z,09:00,22:00\n", {"cp-z"}))
        for _ in range(2):
            beat(z, clock)                                   # heard every 16 min, never offline
            clock.advance(16 * 60)
        beat(z, clock)
        worker = AlertWorker(server.db, alert_settings(receiver.url), clock, dt.UTC)
        worker.run_once()
        assert receiver.on("/hook") == []                                    # the server's zone: 01:32, off duty
        assert cli.main(["street", "tz", "ZZ", "Asia/Shanghai", "--db", str(db_target)]) == 0
        worker.run_once()
    hooks = receiver.on("/hook")
    assert [b["kind"] for b in hooks] == ["unstaffed"] and "09:00" in json.dumps(hooks[0], ensure_ascii=False)
