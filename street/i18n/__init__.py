"""The office's languages: gettext catalogues, Chinese first, English second (docs/i18n.md).

Messages are written in English in the code and templates (``_("…")``) and extracted with
Babel (``pybabel extract``) into ``street/i18n/messages.pot``; ``zh/LC_MESSAGES/street.po``
holds their Chinese. The compiled ``.mo`` files are committed beside the ``.po`` (a test checks
they match), so a clean clone and an installed wheel need no build step: the runtime reads them
with the standard library's ``gettext``. English is the source text itself.
"""

from __future__ import annotations

import gettext
from functools import cache
from importlib import resources

from street.errors import LanguageError

LANGUAGES = ("zh", "en")        # the first is the default
DOMAIN = "street"


def check_language(lang: str) -> str:
    """``lang`` if the office speaks it, else LanguageError naming the choices."""
    if lang not in LANGUAGES:
        raise LanguageError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return lang


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang`` (English: the messages as written)."""
    check_language(lang)
    if lang == "en":
        return gettext.NullTranslations()
    mo = resources.files("street.i18n").joinpath(lang, "LC_MESSAGES", f"{DOMAIN}.mo")
    with mo.open("rb") as f:
        return gettext.GNUTranslations(f)


def pick(asked: str | None = None) -> str:
    """The page's language: ``?lang=`` if given, else Chinese — whatever the browser's own language
    (an office PC with an English Windows still reads the board in Chinese; a link switches)."""
    return check_language(asked) if asked else LANGUAGES[0]
