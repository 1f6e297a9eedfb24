"""Kiosk faults on the office's board: the known shapes in the office's language, the rest as sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.clock import FakeClock
from street.office.fault_text import describe
from street.server import StreetServer
from sync import protocol
from tests.office_login import desk
from tests.synckit import Signer

SENT = [
    "thermometer: thermometer on /dev/ttyUSB0 sent no valid frame for 2 s (17 bad frames)",
    "sync: no successful sync with the street server for 45 min",
    "disk: 180 MiB free, below 200 MiB",
    "camera: camera did not start: /dev/video0 could not be opened",
    "camera: usb:0: no frames for 5 s",
]
CHINESE = [
    "测温仪: /dev/ttyUSB0 上的测温仪 2 秒没有有效读数（坏数据帧 17 个）",
    "上传: 已 45 分钟没有成功上传到街道服务器",
    "磁盘: 只剩 180 MiB，低于 200 MiB",
    "摄像头: 摄像头没有启动：/dev/video0 could not be opened",     # a driver's error inside: as sent
    "摄像头: usb:0：5 秒没有画面",
]


def test_known_faults_are_said_in_chinese_and_unknown_ones_shown_as_sent() -> None:
    assert [describe(f, "zh") for f in SENT] == CHINESE
    assert [describe(f, "en") for f in SENT][1:3] == ["upload: no successful upload to the street server for 45 min",
                                                      "disk: only 180 MiB free, below 200 MiB"]
    for unknown in ("lidar: lens dirty", "thermometer: firmware 2.1 says E42", "no device at all"):
        assert describe(unknown, "zh") in (unknown, "测温仪: firmware 2.1 says E42")


def beat(k: Signer, clock: FakeClock, faults: list[dict[str, str]]) -> None:
    body = {"kiosk_id": k.kiosk_id, "sent_wall": clock.wall(), "gate": "north", "backlog": 0, "on_duty": None,
            "faults": faults, "clock_synced": True}
    assert k.post(protocol.HEARTBEAT_PATH, body, gz=False, now=clock.wall()).status_code == 200


def test_the_board_shows_them_in_chinese_first_and_the_csv_as_sent(tmp_path: Path) -> None:
    """On SQLite only: the wording happens on the board's data after either engine has read it."""
    clock = FakeClock(wall=1_764_400_000.0)
    with StreetServer(tmp_path / "street.db", clock=clock) as server:
        k = Signer(server.url, "cp-001", server.db.add_kiosk("cp-001"))
        sent = [*SENT, "lidar: lens <dirty>"]
        beat(k, clock, [{"device": d, "detail": x} for d, _sep, x in (f.partition(": ") for f in sent)])
        page = desk(server).get(server.url + "/", timeout=10).text
        for text in CHINESE[:3]:
            assert text in page
        assert "lidar: lens &lt;dirty&gt;" in page and "no successful sync" not in page
        english = desk(server).get(server.url + "/?lang=en", timeout=10).text
        assert SENT[1] in english and "上传" not in english
        csv_text = desk(server).get(server.url + "/status.csv", timeout=10).text
        assert "; ".join(sent) in csv_text                   # the CSV's faults column: as the kiosk sent them


@pytest.mark.parametrize("fault", SENT)
def test_every_shape_keeps_its_numbers(fault: str) -> None:
    digits = [w for w in fault.replace("(", " ").split() if w.isdigit()]
    assert all(d in describe(fault, "zh") for d in digits)
