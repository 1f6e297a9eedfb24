"""The one check every office view calls first.

A stand-in until issue 14's authentication lands (login, roles, sessions): it lets every request
through, exactly as the office pages did before. Issue 14 replaces the body; the views keep
calling ``guard()`` and need no change.
"""

from __future__ import annotations


def guard() -> None:
    """Refuse the request (raise a werkzeug HTTPException) unless it may see the office's pages."""
