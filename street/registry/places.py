"""Where a kiosk stands: district → street → compound → gate, each a short code and a name.

Codes are what machines compare (``S07``, ``C03``, ``north``); names are what people read
(``经开区``, ``祥和社区``, ``北门``). A district server holds many streets; a street's own
server usually one. A kiosk registered without a place (`street-server kiosk add ID`) has the
empty place and shows under "unplaced".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from street.errors import RegistryError
from street.i18n import say as _

CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_NAME = 64


@dataclass(frozen=True)
class Place:
    district: str = ""
    district_name: str = ""
    street: str = ""
    street_name: str = ""
    compound: str = ""
    compound_name: str = ""
    gate: str = ""
    gate_name: str = ""

    def check(self) -> Place:
        """This place, or RegistryError naming the first field that is wrong."""
        for field in ("district", "street", "compound", "gate"):
            code = getattr(self, field)
            if code and not CODE_RE.fullmatch(code):
                raise RegistryError(_("%(field)s code %(code)r must be 1-64 letters, digits, '.', '_' or '-'")
                                    % {"field": field, "code": code[:40]})
            name = getattr(self, f"{field}_name")
            if len(name) > MAX_NAME or any(unicodedata.category(ch).startswith("C") for ch in name):
                raise RegistryError(_("%(field)s_name %(name)r must be at most %(max)s printable characters")
                                    % {"field": field, "name": name[:40], "max": MAX_NAME})
            if name and not code:
                raise RegistryError(_("%(field)s_name %(name)r is given without a %(field)s code")
                                    % {"field": field, "name": name[:40]})
        if self.compound and not self.street:
            raise RegistryError(_("compound %(code)r is given without its street") % {"code": self.compound})
        if self.district and not self.street:
            raise RegistryError(_("district %(code)r is given without a street") % {"code": self.district})
        return self


@dataclass(frozen=True)
class Scope:
    """Which kiosks a view covers: everything, a district, a street, a compound of a street, or one
    post (the single-checkpoint report)."""

    district: str | None = None
    street: str | None = None
    compound: str | None = None
    kiosk: str | None = None

    def where(self, alias: str = "k") -> tuple[str, list[str]]:
        """An SQL condition on the kiosks table (aliased ``alias``) and its parameters."""
        terms, params = ["1 = 1"], []
        if self.district is not None:
            terms.append(f"{alias}.street_id IN (SELECT street_id FROM streets WHERE district_id = ?)")
            params.append(self.district)
        if self.street is not None:
            terms.append(f"{alias}.street_id = ?")
            params.append(self.street)
        if self.compound is not None:
            terms.append(f"{alias}.compound_id = ?")
            params.append(self.compound)
        if self.kiosk is not None:
            terms.append(f"{alias}.kiosk_id = ?")
            params.append(self.kiosk)
        return " AND ".join(terms), params
