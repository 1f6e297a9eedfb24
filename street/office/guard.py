"""The one check every office view calls first.

A stand-in until issue 14's authentication lands (login, roles, sessions): it lets every request
through, exactly as the office pages did before. Issue 14's ``street.office.auth.install`` guards
every page of the office app by default (a before-request hook) and narrows scopes with
``auth.user().scope(…)``: when it lands, this module goes, ``create_office`` calls
``auth.install`` and the board's and the report's scope pass through ``auth.user().scope``.
"""

from __future__ import annotations


def guard() -> None:
    """Refuse the request (raise a werkzeug HTTPException) unless it may see the office's pages."""
