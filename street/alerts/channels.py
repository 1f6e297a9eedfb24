"""Where an alert goes: a generic JSON webhook, a WeCom or DingTalk group robot, SMTP mail.

The robots' bodies are their documented text messages (docs/alerts.md §2): WeCom
``{"msgtype": "text", "text": {"content": …}}`` posted to the robot's webhook URL; DingTalk the
same shape, with ``timestamp`` and ``sign`` (HMAC-SHA256 of ``timestamp\\nsecret``, Base64,
URL-encoded) added to the URL when the robot has a signing secret. Both answer HTTP 200 with
``{"errcode": 0, …}`` when they took the message; anything else is a failure to retry. The
generic webhook gets the alert's fields as JSON and must answer 2xx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

import requests

from street.alerts.settings import ChannelSettings
from street.errors import DeliveryError

WECOM_MAX_BYTES = 2048          # a WeCom text message's documented limit


@dataclass(frozen=True)
class Message:
    """One alert, ready to send: its fields (for the webhook) and its words (for people)."""

    key: str
    kind: str
    kiosk_id: str
    at: float
    title: str
    text: str
    fields: dict[str, Any]


class Channel(Protocol):
    name: str

    def send(self, msg: Message) -> None:
        """Deliver ``msg`` or raise DeliveryError."""
        ...


def _post(url: str, body: dict[str, Any], timeout: float) -> requests.Response:
    try:
        r = requests.post(url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"), timeout=timeout,
                          headers={"Content-Type": "application/json; charset=utf-8"})
    except requests.RequestException as exc:
        raise DeliveryError(f"{urllib.parse.urlsplit(url).netloc}: {type(exc).__name__}") from None
    if not 200 <= r.status_code < 300:
        raise DeliveryError(f"{urllib.parse.urlsplit(url).netloc} answered HTTP {r.status_code}")
    return r


def _robot_ok(r: requests.Response) -> None:
    try:
        answer = r.json()
    except ValueError:
        raise DeliveryError("the robot's answer is not JSON") from None
    if not isinstance(answer, dict) or answer.get("errcode") != 0:
        raise DeliveryError(f"the robot refused: {str(answer)[:200]}")


def _clip(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit - 3].decode("utf-8", "ignore") + "…"


class Webhook:
    def __init__(self, s: ChannelSettings) -> None:
        self.name, self.s = s.name, s

    def send(self, msg: Message) -> None:
        _post(self.s.url, {"key": msg.key, "kind": msg.kind, "kiosk_id": msg.kiosk_id, "at": msg.at,
                           "title": msg.title, "text": msg.text, **msg.fields}, self.s.timeout_s)


class WeCom:
    def __init__(self, s: ChannelSettings) -> None:
        self.name, self.s = s.name, s

    def send(self, msg: Message) -> None:
        content = _clip(f"{msg.title}\n{msg.text}", WECOM_MAX_BYTES)
        _robot_ok(_post(self.s.url, {"msgtype": "text", "text": {"content": content}}, self.s.timeout_s))


def dingtalk_url(url: str, secret: str, now_ms: int) -> str:
    """The robot's URL with its signature (DingTalk's "加签" security setting)."""
    if not secret:
        return url
    mac = hmac.new(secret.encode(), f"{now_ms}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(mac))
    return f"{url}{'&' if '?' in url else '?'}timestamp={now_ms}&sign={sign}"


class DingTalk:
    def __init__(self, s: ChannelSettings) -> None:
        self.name, self.s = s.name, s

    def send(self, msg: Message) -> None:
        url = dingtalk_url(self.s.url, self.s.secret, int(time.time() * 1000))
        _robot_ok(_post(url, {"msgtype": "text", "text": {"content": f"{msg.title}\n{msg.text}"}}, self.s.timeout_s))


class Smtp:
    def __init__(self, s: ChannelSettings) -> None:
        self.name, self.s = s.name, s

    def send(self, msg: Message) -> None:
        mail = EmailMessage()
        mail["Subject"], mail["From"], mail["To"] = msg.title, self.s.sender, ", ".join(self.s.to)
        mail.set_content(msg.text)
        try:
            with smtplib.SMTP(self.s.host, self.s.port, timeout=self.s.timeout_s) as smtp:
                if self.s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.s.username:
                    smtp.login(self.s.username, self.s.password)
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"mail via {self.s.host}:{self.s.port}: {type(exc).__name__}") from None


def make(s: ChannelSettings) -> Channel:
    kinds: dict[str, type[Webhook] | type[WeCom] | type[DingTalk] | type[Smtp]] = {
        "webhook": Webhook, "wecom": WeCom, "dingtalk": DingTalk, "smtp": Smtp}
    return kinds[s.kind](s)
