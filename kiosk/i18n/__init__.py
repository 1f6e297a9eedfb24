"""What the kiosk prints to a person, Chinese first, English second (docs/i18n.md).

Messages are written in English in the code (``_("…")``, ``N_("…")`` for a text kept in a table
and translated when shown) and extracted with Babel into ``kiosk/i18n/messages.pot``;
``zh/LC_MESSAGES/kiosk.po`` holds their Chinese and the compiled ``kiosk.mo`` is committed beside
it (a test checks they match). At run time only the standard library's ``gettext`` reads the
``.mo`` — Babel is a developer's and the tests' tool, never imported by the kiosk.

The language: ``kiosk --lang en …`` (any command), else ``$KIOSK_LANG``, else Chinese. ``LANG``
and ``LANGUAGE`` are deliberately not consulted: Raspberry Pi OS ships ``en_GB.UTF-8``, and a
volunteer at the gate reads Chinese whatever the image's locale. Nothing is loaded until the first
message is translated, so ``kiosk run`` pays nothing for this at start. The service's own log
lines (journald, read by technicians and pasted into bug reports) stay English.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING

from kiosk.errors import LanguageError

if TYPE_CHECKING:
    import gettext

LANGUAGES = ("zh", "en")        # the first is the default
DOMAIN = "kiosk"
ENV_VAR = "KIOSK_LANG"

_chosen: ContextVar[str | None] = ContextVar("kiosk_lang", default=None)


def check_language(lang: str) -> str:
    """``lang`` if the kiosk speaks it, else LanguageError naming the choices (in English: the
    language asked for is exactly what could not be understood)."""
    if lang not in LANGUAGES:
        raise LanguageError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return lang


def use(lang: str | None) -> None:
    """Print in ``lang`` from now on (None: back to ``$KIOSK_LANG`` or Chinese)."""
    _chosen.set(None if lang is None else check_language(lang))


def current() -> str:
    """The language messages are printed in now."""
    chosen = _chosen.get()
    if chosen is not None:
        return chosen
    env = os.environ.get(ENV_VAR, "").strip()
    return check_language(env) if env else LANGUAGES[0]


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang``, read once, when first needed: gettext's own lookup of
    ``<this package>/<lang>/LC_MESSAGES/kiosk.mo``; English is the messages as written."""
    import gettext

    check_language(lang)
    here = os.path.dirname(__file__)
    return gettext.translation(DOMAIN, here, languages=[lang], fallback=lang == "en")   # en: no .mo, as written


def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(current()).gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for extraction only; it is translated with ``_()`` where it is shown."""
    return message


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes (a Chinese character takes two)."""
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def ljust(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns."""
    return text + " " * max(0, width - columns(text))
