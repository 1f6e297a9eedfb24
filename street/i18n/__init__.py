"""The office's languages: gettext catalogues, Chinese first, English second (docs/i18n.md).

Messages are written in English in the code and templates (``_("…")``) and extracted with
Babel (``pybabel extract``) into ``street/i18n/messages.pot``; ``zh/LC_MESSAGES/street.po``
holds their Chinese. The compiled ``.mo`` files are committed beside the ``.po`` (a test checks
they match), so a clean clone and an installed wheel need no build step: the runtime reads them
with the standard library's ``gettext``. English is the source text itself.

Pages take ``?lang=`` (else Chinese); the ``street-server`` command takes ``--lang`` or
``$STREET_LANG`` (else Chinese) for what it says to the office — its machine-read lines (the
``serving`` line, tab-separated lists, the printed credential) stay as docs/contracts.md has them.
"""

from __future__ import annotations

import gettext
import os
from contextvars import ContextVar
from functools import cache
from importlib import resources

from street.errors import LanguageError

LANGUAGES = ("zh", "en")        # the first is the default
DOMAIN = "street"
ENV_VAR = "STREET_LANG"         # the command line's language when --lang is not given

_terminal: ContextVar[str | None] = ContextVar("street_terminal_language", default=None)


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


def for_terminal(asked: str | None = None) -> str:
    """The command line's language: ``--lang`` if given, else ``$STREET_LANG``, else Chinese. The
    locale (``LANG``) is not consulted: a server image's is usually English or C, and the office
    reads Chinese."""
    if asked is not None:
        return check_language(asked)
    env = os.environ.get(ENV_VAR, "").strip()
    return check_language(env) if env else LANGUAGES[0]


def N_(message: str) -> str:
    """Mark ``message`` for extraction only (a text kept in a table); translated where shown."""
    return message


def use_terminal(lang: str | None) -> str:
    """Word what the command line says in ``lang`` (None: ``$STREET_LANG``, else Chinese) from now
    on; the language chosen. LanguageError for one the office does not have."""
    chosen = for_terminal(lang)
    _terminal.set(chosen)
    return chosen


def say(message: str) -> str:
    """``message`` in the command line's language (street-server and what it reads: rosters)."""
    lang = _terminal.get()
    return translations(lang if lang is not None else for_terminal()).gettext(message)


def say_n(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for ``n``, in the command line's language."""
    lang = _terminal.get()
    return translations(lang if lang is not None else for_terminal()).ngettext(singular, plural, n)
