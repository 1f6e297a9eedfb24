"""Every message of the office has its Chinese, and the committed catalogues are current."""

from __future__ import annotations

from pathlib import Path

import pytest

from street import i18n
from tests import catalogues


def test_every_message_in_the_code_has_a_chinese_translation(tmp_path: Path) -> None:
    assert len(catalogues.po("street")) > 50
    assert catalogues.untranslated("street", tmp_path) == []    # run pybabel extract, then translate
    assert catalogues.placeholder_mismatches("street") == []


def test_the_committed_mo_is_the_compiled_po() -> None:
    assert not catalogues.compiled_differs("street"), "run: pybabel compile -d street/i18n -D street"
    assert i18n.translations("zh").gettext("fever") == "发热"


def test_a_language_that_does_not_exist_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match="unknown language 'xx': choose one of zh, en"):
        i18n.translations("xx")
