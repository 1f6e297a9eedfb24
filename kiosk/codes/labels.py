"""The words printed under a paper code or a badge: Chinese first, English below (docs/street-office.md §4).

Texts are gettext messages written in English (``N_`` marks them for ``pybabel extract``) with
their Chinese in the ``codes`` catalogue beside this module (kiosk/codes/i18n/zh/LC_MESSAGES/
codes.po, compiled to a committed .mo, as the office's street/i18n). Each caption line is a
pair (Chinese, English): the printer draws both, so a volunteer and a visiting inspector from
elsewhere read the same page. Times are the kiosk's local time (``[kiosk] timezone``) with the
zone named, since a badge is read far from the machine that printed it.
"""

from __future__ import annotations

import datetime as dt
import gettext
from functools import cache
from importlib import resources

DOMAIN = "codes"


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is printed."""
    return message


TITLES = {
    "paper": N_("Paper health code"),
    "volunteer": N_("Volunteer badge"),
    "inspector": N_("Inspector badge"),
}
VALID_UNTIL = N_("Valid until %(time)s (%(zone)s)")
SCOPE = N_("Checkpoints: %(scope)s")
SCOPE_CHARS = 40                 # the longest scope text that fits on one A6 line


@cache
def chinese() -> gettext.NullTranslations:
    """The Chinese catalogue, read from the committed .mo (no build step on a kiosk)."""
    mo = resources.files("kiosk.codes.i18n").joinpath("zh", "LC_MESSAGES", f"{DOMAIN}.mo")
    with mo.open("rb") as f:
        return gettext.GNUTranslations(f)


def zone_name(when: dt.datetime) -> str:
    """``CST Asia/Shanghai``: the abbreviation a reader knows and the zone's name, which is unambiguous
    (CST is also US Central); UTC alone for UTC."""
    abbr = when.tzname() or ""
    key = str(getattr(when.tzinfo, "key", "") or "")
    return " ".join(dict.fromkeys(x for x in (abbr, key) if x)) or "UTC"


def caption(kind: str, exp: int, scope: tuple[str, ...], tz: dt.tzinfo) -> list[tuple[str, str]]:
    """The lines under a printed code, each as (Chinese, English)."""
    zh = chinese().gettext
    until = dt.datetime.fromtimestamp(exp, tz)
    values = {"time": f"{until:%Y-%m-%d %H:%M}", "zone": zone_name(until),
              "scope": ", ".join(scope)[:SCOPE_CHARS]}
    title = TITLES.get(kind, kind)
    return [(zh(title), f"GK1 {title.lower()}"),
            (zh(VALID_UNTIL) % values, VALID_UNTIL % values),
            (zh(SCOPE) % values, SCOPE % values)]
