"""The message catalogue: every announcement key the flow can name, in each language."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources

from kiosk.errors import ConfigError

LANGUAGES = ("zh", "en")


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """key → {language → text}, loaded once from kiosk/data/messages.toml."""
    raw = resources.files("kiosk").joinpath("data/messages.toml").read_text(encoding="utf-8")
    data = tomllib.loads(raw)
    for key, texts in data.items():
        missing = [lang for lang in LANGUAGES if lang not in texts]
        if missing:
            raise ConfigError(f"messages.toml: [{key}] lacks {', '.join(missing)}")
    return data


def text(key: str, language: str) -> str:
    """The sentence for ``key``; an unknown key is a bug the caller logs, not a crash."""
    entry = catalogue().get(key)
    if entry is None:
        raise KeyError(f"unknown message key {key!r}")
    return entry[language]
