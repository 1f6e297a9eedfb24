"""`python -m hardware_mocks.standin`: the stand-in site for `kiosk run` on a laptop.

A shim kept so the README's command keeps working: the site itself composes kiosk, sync and
street parts, so it lives with the other demo scaffolding in kiosk/demo/site.py. This is the
one module of hardware_mocks allowed to import beyond drivers (tests/test_architecture.py).
"""

from kiosk.demo.site import main

if __name__ == "__main__":
    raise SystemExit(main())
