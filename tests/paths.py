"""Where the repository is, for tests that read shipped files (configs, units, docs)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
