"""Every message of the office has its Chinese, and the committed catalogues are current."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from street import i18n

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "street" / "i18n"


def test_every_message_in_the_code_has_a_chinese_translation(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(I18N / "babel.cfg"), "--no-location",
                                "-o", str(pot), str(ROOT / "street")])
    wanted = {m.id for m in read_po(pot.open("rb")) if m.id}
    po = {m.id: m.string for m in read_po((I18N / "zh" / "LC_MESSAGES" / "street.po").open("rb")) if m.id}
    assert len(wanted) > 50
    done = {k for k, v in po.items() if (all(v) if isinstance(v, tuple) else v)}   # plurals: every form
    assert sorted(map(str, wanted - done)) == []              # run pybabel extract, then translate
    assert not [m.id for m in read_po((I18N / "zh" / "LC_MESSAGES" / "street.po").open("rb")) if m.fuzzy and m.id]


def test_the_committed_mo_is_the_compiled_po() -> None:
    def norm(v: object) -> object:                           # plural ids and forms: lists in one, tuples in the other
        return tuple(v) if isinstance(v, list | tuple) else v

    po = {norm(m.id): norm(m.string) for m in read_po((I18N / "zh" / "LC_MESSAGES" / "street.po").open("rb")) if m.id}
    mo = {norm(m.id): norm(m.string) for m in read_mo(
        io.BytesIO((I18N / "zh" / "LC_MESSAGES" / "street.mo").read_bytes())) if m.id}
    assert mo == po, "run: pybabel compile -d street/i18n -D street"
    assert i18n.translations("zh").gettext("fever") == "发热"


def test_a_language_that_does_not_exist_is_one_clear_line() -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown language 'xx': choose one of zh, en"):
        i18n.translations("xx")
