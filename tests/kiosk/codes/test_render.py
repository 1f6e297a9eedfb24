"""Printed codes and badges: Chinese first with English below, local time with the zone named, the QR
module for module as segno made it (both decoders read it), and a missing font is one clear line."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from fontTools.ttLib import TTCollection

from kiosk.codes import labels, render
from kiosk.errors import CodeError

ROOT = Path(__file__).resolve().parents[3]
I18N = ROOT / "kiosk" / "codes" / "i18n"
PO = I18N / "zh" / "LC_MESSAGES" / "codes.po"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
EXP = int(dt.datetime(2026, 12, 1, 16, 30, tzinfo=dt.UTC).timestamp())        # 00:30 on the 2nd in Zhengzhou
PAYLOAD = "GK1:" + "6BFOXN*TS0BI$ZDFRH" * 12


def test_the_printed_expiry_is_local_time_with_the_zone_named_chinese_first() -> None:
    lines = render.paper_caption("volunteer", EXP, ("C01", "C02"), SHANGHAI)
    assert lines == [("志愿者工作证", "GK1 volunteer badge"),
                     ("有效期至 2026-12-02 00:30（CST Asia/Shanghai）",
                      "Valid until 2026-12-02 00:30 (CST Asia/Shanghai)"),
                     ("适用卡口：C01, C02", "Checkpoints: C01, C02")]
    assert render.paper_caption("paper", EXP, ("C01",))[1][1] == "Valid until 2026-12-01 16:30 (UTC)"
    assert render.paper_caption("inspector", EXP, ("C01",), zoneinfo.ZoneInfo("Asia/Urumqi"))[1][1] == \
        "Valid until 2026-12-01 22:30 (+06 Asia/Urumqi)"


@pytest.mark.parametrize("kind", ["paper", "volunteer", "inspector"])
def test_a_chinese_labelled_page_is_read_by_both_decoders_and_the_qr_is_unchanged(tmp_path: Path, kind: str) -> None:
    png = tmp_path / f"{kind}.png"
    render.save_a6(PAYLOAD, png, render.paper_caption(kind, EXP, ("C01",), SHANGHAI))
    assert render.decode_image(png) == [PAYLOAD.encode()]                                   # ZBar
    page = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    assert page is not None and page.shape == (1748, 1240)                                   # A6 at 300 dpi
    assert [r.text for r in zxingcpp.read_barcodes(page)] == [PAYLOAD]                       # zxing-cpp
    code = render.qr_pixels(PAYLOAD)
    x0, y0 = (page.shape[1] - code.shape[1]) // 2, render._mm(12)
    assert np.array_equal(page[y0:y0 + code.shape[0], x0:x0 + code.shape[1]], code)         # module for module
    caption = page[y0 + code.shape[0]:]
    rows = np.flatnonzero((caption < 128).any(axis=1))
    assert rows.size and (np.diff(rows) > 1).sum() + 1 == 6       # six lines of ink: three Chinese, three English


def test_every_printed_chinese_character_has_a_glyph_in_the_font() -> None:
    """No tofu: the SC face of the collection maps every character the captions print."""
    faces = TTCollection(str(render.CJK_FONT)).fonts
    face = next(f for f in faces if f["name"].getDebugName(1) == render.CJK_FACE)
    cmap = face.getBestCmap()
    text = "".join(zh for kind in labels.TITLES for zh, _ in render.paper_caption(kind, EXP, ("C01",), SHANGHAI))
    assert [c for c in text if ord(c) not in cmap] == []
    assert render.cjk_font(40).getname()[0] == "Noto Sans CJK SC"


def test_a_missing_font_is_one_clear_line_and_nothing_written(tmp_path: Path) -> None:
    png = tmp_path / "badge.png"
    with pytest.raises(CodeError) as exc:
        render.save_a6(PAYLOAD, png, render.paper_caption("volunteer", EXP, ("C01",), SHANGHAI),
                       font=tmp_path / "NoSuchFont.ttc")
    assert "\n" not in str(exc.value) and str(tmp_path / "NoSuchFont.ttc") in str(exc.value)
    assert "apt install fonts-noto-cjk" in str(exc.value) and not png.exists()


def test_every_printed_message_has_its_chinese_and_the_mo_is_compiled(tmp_path: Path) -> None:
    pot = tmp_path / "codes.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(I18N / "babel.cfg"), "--no-location",
                                "-o", str(pot), str(ROOT / "kiosk" / "codes" / "labels.py")])
    wanted = {m.id for m in read_po(pot.open("rb")) if m.id}
    po = {m.id: m.string for m in read_po(PO.open("rb")) if m.id}
    assert len(wanted) == 5 and sorted(k for k in wanted if not po.get(k)) == []
    mo = {m.id: m.string for m in read_mo(io.BytesIO(PO.with_suffix(".mo").read_bytes())) if m.id}
    assert mo == po, "run: pybabel compile -d kiosk/codes/i18n -D codes"
