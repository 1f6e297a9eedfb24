"""`python -m kiosk` is the same as the `kiosk` console script (systemd units use it)."""

from kiosk.cli.main import main

raise SystemExit(main())
