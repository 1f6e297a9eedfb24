"""Kiosk device faults on the office's board in the office's language.

A kiosk reports each fault as ``{device, detail}`` in its heartbeat (docs/contracts.md: the
heartbeat), in the words of the kiosk's own English log, and the board used to show them as
sent. The faults the kiosk and its drivers raise have a known shape (kiosk/service/housekeeping.py,
kiosk/devices/camera_boot.py, drivers/thermometer/link.py, drivers/camera/capture.py): each is
matched here and said again through the office's catalogue, numbers and names kept. A device or
a detail of unknown shape (another software version, a driver's own error text) is shown exactly
as sent — never guessed at. The CSV keeps the faults as sent (a contract of its columns).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from street import i18n
from street.i18n import N_
from street.office.status_page import Status

# the ``device`` of a fault → its name on the board
DEVICES = {
    "thermometer": N_("thermometer"), "camera": N_("camera"), "voice": N_("voice"), "scanner": N_("code scanner"),
    "gpio": N_("GPIO"), "store": N_("pass log"), "disk": N_("disk"), "sync": N_("upload"),
}

# a detail's known shape → the message that says it; the groups fill the message's %(name)s
SHAPES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), m) for p, m in (
    (r"thermometer on (?P<port>\S+) sent no valid frame for (?P<s>[\d.]+) s \((?P<bad>\d+) bad frames\)",
     N_("the thermometer on %(port)s sent no valid reading for %(s)s s (%(bad)s bad frames)")),
    (r"no valid frame from (?P<port>\S+) for (?P<s>[\d.]+) s \((?P<bad>\d+) bad frames\)",
     N_("the thermometer on %(port)s sent no valid reading for %(s)s s (%(bad)s bad frames)")),
    (r"no successful sync with the street server for (?P<min>\d+) min",
     N_("no successful upload to the street server for %(min)s min")),
    (r"(?P<free>\d+) MiB free, below (?P<min>\d+) MiB", N_("only %(free)s MiB free, below %(min)s MiB")),
    (r"camera did not start: (?P<error>.*)", N_("the camera did not start: %(error)s")),
    (r"(?P<source>.+): no frames for (?P<s>[\d.]+) s", N_("%(source)s: no pictures for %(s)s s")),
    (r"(?P<source>.+): no such file", N_("%(source)s: no such device")),
    (r"(?P<source>.+) could not be opened: (?P<error>.*)", N_("%(source)s could not be opened: %(error)s")),
    (r"(?P<source>.+) could not be opened", N_("%(source)s could not be opened")),
))


def describe(fault: str, lang: str) -> str:
    """One fault as the board lists it (``device: detail``), in ``lang``; unknown parts as sent."""
    device, sep, detail = fault.partition(": ")
    if not sep or device not in DEVICES:
        return fault
    t = i18n.translations(lang)
    return f"{t.gettext(DEVICES[device])}: {_detail(detail, t.gettext)}"


def _detail(detail: str, gettext: Callable[[str], str]) -> str:
    for pattern, message in SHAPES:
        m = pattern.fullmatch(detail)
        if m:
            return gettext(message) % m.groupdict()
    return detail


def translated(status: Status, lang: str) -> Status:
    """``status`` with every checkpoint's faults in ``lang`` (a copy: the cached status is shared)."""
    if lang == "en":
        return status
    return dataclasses.replace(status, checkpoints=[
        dataclasses.replace(c, faults=[describe(f, lang) for f in c.faults]) if c.faults else c
        for c in status.checkpoints])
