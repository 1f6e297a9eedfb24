"""The one seam between the office pages and who is using them.

Until the office login (issue 14) is integrated, the quarantine board is readable like the
status page and an acknowledgement is signed with the name the staff member types into the
form (``staff``). Integration replaces the body of :func:`acting_staff` with the logged-in
user's name (and a refusal when nobody is logged in); the routes call nothing else.
"""

from __future__ import annotations

from flask import Request


def acting_staff(req: Request) -> str | None:
    """The name of the staff member acting in this request, or None if nobody is named.

    Stand-in: the form's ``staff`` field, as typed."""
    name = (req.form.get("staff") or "").strip()
    return name or None
