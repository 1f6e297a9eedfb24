"""The publicity rounds' schedule ("一喇叭"): what the compound loudspeaker says, and when. Pure.

The street office publishes it inside the signed trust bundle (kiosk/codes/bundle.py, section
``publicity``), so a kiosk plays only notices the street signed. Payload (text keys)::

    "publicity": {"utc_offset_min": 480, "quiet": ["22:00", "07:00"],
                  "notices": [{"id": "masks", "at": "09:00", "max_s": 60, "volume": 70,
                               "text": "请佩戴口罩，保持一米距离。"} | {..., "clip": "<catalogue key>"}]}

Each notice plays once a day, at ``at`` or as soon after it (within :data:`LATE_S`) as the gate
is idle, for at most ``max_s``; notices whose ``[at, at + max_s)`` overlap are refused (the
office meant one or the other), so is a clip the kiosk's catalogue does not know, an id used
twice and a notice inside the quiet hours. A malformed section never costs a kiosk its trust
material: :func:`parse` raises :class:`PublicityError` and the bundle's loader keeps the rest.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.errors import BundleError

_HM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
LATE_S = 15 * 60            # a notice not started within this of its time waits for tomorrow
MAX_NOTICES = 48
MAX_TEXT = 500
MAX_PLAY_S = 600


class PublicityError(BundleError):
    """The publicity section of a bundle (or a schedule file) is malformed."""


@dataclass(frozen=True)
class Notice:
    id: str
    at_min: int                  # minute of the local day
    max_s: int
    volume: int                  # 0-100
    text: str | None = None      # spoken by espeak-ng (Mandarin)
    clip: str | None = None      # a catalogue key with a rendered clip

    def to_cbor_obj(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "at": hm(self.at_min), "max_s": self.max_s, "volume": self.volume}
        if self.text is not None:
            out["text"] = self.text
        if self.clip is not None:
            out["clip"] = self.clip
        return out


@dataclass(frozen=True)
class Schedule:
    notices: tuple[Notice, ...]
    quiet: tuple[int, int] | None = None     # [start, end) minutes; may wrap midnight
    offset_min: int = 480

    def to_cbor_obj(self) -> dict[str, Any]:
        out: dict[str, Any] = {"utc_offset_min": self.offset_min, "notices": [n.to_cbor_obj() for n in self.notices]}
        if self.quiet is not None:
            out["quiet"] = [hm(self.quiet[0]), hm(self.quiet[1])]
        return out

    def local(self, wall: float) -> tuple[int, float]:
        """(local day number, seconds into the local day) of POSIX time ``wall``."""
        t = wall + self.offset_min * 60
        return int(t // 86400), t % 86400

    def is_quiet(self, minute: int) -> bool:
        if self.quiet is None:
            return False
        a, b = self.quiet
        return a <= minute < b if a < b else minute >= a or minute < b

    def due(self, wall: float, played: Collection[tuple[int, str]]) -> tuple[int, Notice] | None:
        """The notice to play now (with its local day), if any: its time has come, less than
        LATE_S ago, it has not been played (or cut) today, and it is not quiet hours."""
        day, secs = self.local(wall)
        if self.is_quiet(int(secs // 60)):
            return None
        for n in self.notices:
            if 0 <= secs - n.at_min * 60 < LATE_S and (day, n.id) not in played:
                return day, n
        return None


def hm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minute(v: object, where: str) -> int:
    m = _HM.fullmatch(v) if isinstance(v, str) else None
    if m is None:
        raise PublicityError(f"{where} must be a time like 09:00")
    return int(m.group(1)) * 60 + int(m.group(2))


def _int(v: object, lo: int, hi: int, where: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise PublicityError(f"{where} must be an integer {lo}–{hi}")
    return v


def parse(obj: object, known_clips: Collection[str] | None = None) -> Schedule:
    """A schedule from its CBOR/TOML object; ``known_clips``: the catalogue keys a clip may name
    (None: not checked here — the kiosk then speaks the text or skips the notice)."""
    if not isinstance(obj, Mapping):
        raise PublicityError("publicity must be a map")
    unknown = set(obj) - {"utc_offset_min", "quiet", "notices"}
    if unknown:
        raise PublicityError(f"publicity has unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    offset = _int(obj.get("utc_offset_min", 480), -720, 840, "publicity utc_offset_min")
    quiet_raw = obj.get("quiet")
    quiet = None
    if quiet_raw is not None:
        if not isinstance(quiet_raw, (list, tuple)) or len(quiet_raw) != 2:
            raise PublicityError("publicity quiet must be [start, end], e.g. [\"22:00\", \"07:00\"]")
        quiet = (_minute(quiet_raw[0], "quiet start"), _minute(quiet_raw[1], "quiet end"))
    raw = obj.get("notices", [])
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_NOTICES:
        raise PublicityError(f"publicity notices must be a list of at most {MAX_NOTICES}")
    notices: list[Notice] = []
    for i, e in enumerate(raw):
        where = f"notice {i + 1}"
        if not isinstance(e, Mapping):
            raise PublicityError(f"{where} must be a map")
        extra = set(e) - {"id", "at", "max_s", "volume", "text", "clip"}
        if extra:
            raise PublicityError(f"{where} has unknown field(s): {', '.join(sorted(map(str, extra)))}")
        nid = e.get("id")
        if not isinstance(nid, str) or not ID_RE.fullmatch(nid):
            raise PublicityError(f"{where}: id must be lowercase letters, digits, _ or - (at most 32)")
        where = f"notice {nid!r}"
        text, clip = e.get("text"), e.get("clip")
        if (text is None) == (clip is None):
            raise PublicityError(f"{where} needs exactly one of text or clip")
        if text is not None and (not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT):
            raise PublicityError(f"{where}: text must be 1–{MAX_TEXT} characters")
        if clip is not None and (not isinstance(clip, str) or (known_clips is not None and clip not in known_clips)):
            raise PublicityError(f"{where}: clip {str(clip)[:40]!r} is not a known clip")
        n = Notice(id=nid, at_min=_minute(e.get("at"), f"{where} at"),
                   max_s=_int(e.get("max_s", 120), 1, MAX_PLAY_S, f"{where} max_s"),
                   volume=_int(e.get("volume", 80), 0, 100, f"{where} volume"), text=text, clip=clip)
        if any(o.id == n.id for o in notices):
            raise PublicityError(f"{where} is listed twice")
        notices.append(n)
    notices.sort(key=lambda n: n.at_min)
    schedule = Schedule(tuple(notices), quiet, offset)
    for a, b in itertools.pairwise(notices):
        if b.at_min * 60 < a.at_min * 60 + a.max_s:
            raise PublicityError(f"notices {a.id!r} ({hm(a.at_min)}, up to {a.max_s} s) and {b.id!r} "
                                 f"({hm(b.at_min)}) overlap")
    for n in notices:
        if schedule.is_quiet(n.at_min):
            raise PublicityError(f"notice {n.id!r} at {hm(n.at_min)} falls in the quiet hours")
    return schedule
