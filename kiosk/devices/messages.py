"""The message catalogue: every announcement key the flow can name, in each language.

Each entry of kiosk/data/messages.toml has one sentence per language and a ``track``: the
file number of the message on a GPIO-triggered voice module, unique and stable.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

from kiosk.errors import ConfigError

LANGUAGES = ("zh", "en")
MAX_TRACK = 255          # what 8 binary-coded trigger inputs can select


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, Any]]:
    """key → {language → text, "track" → int}, loaded once from kiosk/data/messages.toml."""
    raw = resources.files("kiosk").joinpath("data/messages.toml").read_text(encoding="utf-8")
    data = tomllib.loads(raw)
    tracks: dict[int, str] = {}
    for key, texts in data.items():
        missing = [lang for lang in LANGUAGES if not isinstance(texts.get(lang), str)]
        if missing:
            raise ConfigError(f"messages.toml: [{key}] lacks {', '.join(missing)}")
        track = texts.get("track")
        if not isinstance(track, int) or isinstance(track, bool) or not 1 <= track <= MAX_TRACK:
            raise ConfigError(f"messages.toml: [{key}] needs a track number 1 … {MAX_TRACK}")
        if track in tracks:
            raise ConfigError(f"messages.toml: [{key}] has track {track}, already used by [{tracks[track]}]")
        tracks[track] = key
    return data


def keys() -> list[str]:
    """Every message key, in catalogue order."""
    return list(catalogue())


def text(key: str, language: str) -> str:
    """The sentence for ``key``; an unknown key is a bug the caller logs, not a crash."""
    entry = catalogue().get(key)
    if entry is None:
        raise KeyError(f"unknown message key {key!r}")
    return str(entry[language])


def track(key: str) -> int:
    """The voice-module track number of ``key``."""
    entry = catalogue().get(key)
    if entry is None:
        raise KeyError(f"unknown message key {key!r}")
    return int(entry["track"])
