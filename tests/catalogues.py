"""Checks shared by the kiosk's and the office's gettext catalogues (kiosk/i18n, street/i18n)."""

from __future__ import annotations

import io
import re
import string
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]


def po(domain: str, lang: str = "zh") -> Catalog:
    with (ROOT / domain / "i18n" / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as f:
        return read_po(f)


def untranslated(domain: str, tmp_path: Path) -> list[str]:
    """The messages the code and templates use (extracted now, as `pybabel extract` does) that have
    no Chinese in the committed .po, plus any still marked fuzzy."""
    pot = tmp_path / f"{domain}.pot"
    i18n = ROOT / domain / "i18n"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(i18n / "babel.cfg"), "--no-location",
                                "-o", str(pot), str(ROOT / domain)])
    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    catalogue = po(domain)
    done = {m.id for m in catalogue if m.id and not m.fuzzy
            and (all(m.string) if isinstance(m.string, tuple) else m.string)}   # plurals: every form
    return sorted(map(str, wanted - done))


def compiled_differs(domain: str) -> bool:
    """Whether the committed .mo is not the compiled .po."""
    def norm(v: object) -> object:                           # plural ids and forms: lists in one, tuples in the other
        return tuple(v) if isinstance(v, list | tuple) else v

    want = {norm(m.id): norm(m.string) for m in po(domain) if m.id}
    mo = ROOT / domain / "i18n" / "zh" / "LC_MESSAGES" / f"{domain}.mo"
    got = {norm(m.id): norm(m.string) for m in read_mo(io.BytesIO(mo.read_bytes())) if m.id}
    return want != got


def _fields(text: str) -> set[str]:
    """The names a message fills in: ``{name…}`` for str.format, ``%(name)s`` for Jinja/%-style."""
    names = {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f} if "{" in text else set()
    return names | set(re.findall(r"%\((\w+)\)", text))


def placeholder_mismatches(domain: str) -> list[str]:
    """Translations that drop, add or misspell a placeholder of their English (at run time: a
    KeyError, or a number silently missing from what a person reads)."""
    bad = []
    for m in po(domain):
        if not m.id or not m.string:
            continue
        ids = m.id if isinstance(m.id, list | tuple) else (m.id,)
        strings = m.string if isinstance(m.string, list | tuple) else (m.string,)
        want = set().union(*(_fields(i) for i in ids))
        bad += [f"{ids[0]!r} → {s!r}" for s in strings if s and _fields(s) != want
                and not (len(ids) > 1 and _fields(s) <= want)]      # a plural form may leave out the count
    return bad
