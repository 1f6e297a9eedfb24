"""The alerts file (``street-server serve --alerts alerts.toml``): thresholds and channels.

Example::

    offline_after_min = 30        # a kiosk silent this long: "offline"
    unstaffed_after_min = 15      # an online post with nobody on duty this long: "unstaffed"

    [[channel]]
    kind = "wecom"                # wecom | dingtalk | webhook | smtp
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"

    [[channel]]
    kind = "dingtalk"
    url = "https://oapi.dingtalk.com/robot/send?access_token=…"
    secret = "SEC…"               # the robot's signing secret, if it has one

    [[channel]]
    kind = "smtp"
    host = "mail.example.cn"
    port = 587
    starttls = true
    username = "…"                # optional
    password = "…"
    sender = "checkpoints@example.cn"
    to = ["office@example.cn"]
    kinds = ["fever", "offline"]  # optional: only these alert kinds (default: all)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from street.errors import AlertConfigError

KINDS = ("fever", "unstaffed", "offline", "fault", "alarm", "door")   # door: a quarantined household's door node
CHANNEL_KINDS = ("webhook", "wecom", "dingtalk", "smtp")


@dataclass(frozen=True)
class ChannelSettings:
    name: str
    kind: str
    url: str = ""
    secret: str = ""
    host: str = ""
    port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = ""
    sender: str = ""
    to: tuple[str, ...] = ()
    kinds: tuple[str, ...] = KINDS
    timeout_s: float = 10.0


@dataclass(frozen=True)
class AlertSettings:
    channels: tuple[ChannelSettings, ...] = ()
    offline_after_s: float = 1800.0
    unstaffed_after_s: float = 900.0
    interval_s: float = 15.0                 # how often the worker watches and delivers
    max_age_s: float = 12 * 3600.0           # records older than this (a late backlog) raise no alert
    channel_names: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel_names", tuple(c.name for c in self.channels))


def _channel(i: int, raw: Any, where: str) -> ChannelSettings:
    if not isinstance(raw, dict):
        raise AlertConfigError(f"{where}: [[channel]] {i + 1} is not a table")
    kind = raw.get("kind")
    if kind not in CHANNEL_KINDS:
        raise AlertConfigError(f"{where}: channel {i + 1} kind {kind!r} is not one of {', '.join(CHANNEL_KINDS)}")
    known = set(ChannelSettings.__dataclass_fields__) - {"name"} | {"name"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise AlertConfigError(f"{where}: channel {i + 1} has unknown key {unknown[0]!r}")
    kinds = tuple(raw.get("kinds", KINDS))
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise AlertConfigError(f"{where}: channel {i + 1} alert kind {bad[0]!r} is not one of {', '.join(KINDS)}")
    values = {k: v for k, v in raw.items() if k not in ("kinds", "to")}
    values.setdefault("name", f"{kind}-{i + 1}")
    try:
        ch = ChannelSettings(**values, kinds=kinds, to=tuple(raw.get("to", ())))
    except TypeError as exc:
        raise AlertConfigError(f"{where}: channel {i + 1}: {exc}") from None
    if kind == "smtp" and not (ch.host and ch.sender and ch.to):
        raise AlertConfigError(f"{where}: smtp channel {i + 1} needs host, sender and to")
    if kind != "smtp" and not ch.url.startswith(("http://", "https://")):
        raise AlertConfigError(f"{where}: {kind} channel {i + 1} needs an http(s) url")
    return ch


def load(path: Path) -> AlertSettings:
    """The settings in ``path``; AlertConfigError (one line) if it cannot be used."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AlertConfigError(f"alerts file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AlertConfigError(f"alerts file {path} is not valid TOML: {exc}") from None
    return parse(raw, str(path))


def parse(raw: dict[str, Any], where: str = "alerts") -> AlertSettings:
    channels = tuple(_channel(i, c, where) for i, c in enumerate(raw.get("channel", [])))
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise AlertConfigError(f"{where}: two channels are named alike; give each a distinct name")
    minutes = {}
    for key in ("offline_after_min", "unstaffed_after_min"):
        v = raw.get(key, 30 if key.startswith("offline") else 15)
        if not isinstance(v, int | float) or isinstance(v, bool) or not 1 <= v <= 24 * 60:
            raise AlertConfigError(f"{where}: {key} must be a number of minutes between 1 and 1440")
        minutes[key] = float(v) * 60
    unknown = sorted(set(raw) - {"channel", "offline_after_min", "unstaffed_after_min"})
    if unknown:
        raise AlertConfigError(f"{where}: unknown key {unknown[0]!r}")
    return AlertSettings(channels, minutes["offline_after_min"], minutes["unstaffed_after_min"])
