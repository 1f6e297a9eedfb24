"""A printed code tells its expiry in the kiosk's local time, not UTC."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from kiosk.codes.render import paper_caption


def test_the_printed_expiry_is_local_time() -> None:
    exp = int(dt.datetime(2026, 12, 1, 16, 30, tzinfo=dt.UTC).timestamp())        # 00:30 on the 2nd in Zhengzhou
    lines = paper_caption("volunteer", exp, ("C01",), zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert lines[1] == "valid until 2026-12-02 00:30 (CST)"
    assert paper_caption("paper", exp, ("C01",))[1] == "valid until 2026-12-01 16:30 (UTC)"
