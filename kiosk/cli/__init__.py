"""The `kiosk` command line: kiosk/cli/main.py dispatches, one module per command, named after it."""
