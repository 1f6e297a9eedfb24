"""Checkpoint kiosk: the application (pass flow, policies, health codes, pass log, config, CLI)."""

__version__ = "0.1.0"
