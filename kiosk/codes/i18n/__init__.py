"""The ``codes`` gettext catalogue: printed badge and paper-code texts (kiosk/codes/labels.py).

Regenerate after changing a message (docs/street-office.md §4)::

    .venv/bin/pybabel extract -F kiosk/codes/i18n/babel.cfg --no-location --sort-output \
        -o kiosk/codes/i18n/codes.pot kiosk/codes/labels.py
    .venv/bin/pybabel update -i kiosk/codes/i18n/codes.pot -d kiosk/codes/i18n -D codes -l zh --no-fuzzy-matching
    .venv/bin/pybabel compile -d kiosk/codes/i18n -D codes
"""
