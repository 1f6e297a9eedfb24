"""The kiosk's device adapters: configuration in, driver running, events out.

One module per device, all of the same shape::

    start(cfg: Config, sink: <the part of Sink it uses>, ...) -> the running adapter (or None when
        the device is switched off in the config); each has ``close()``.

Drivers (``drivers/``) know nothing of the kiosk; an adapter builds its driver from the
config's section, and turns the driver's two callbacks — ``on_fault(message)`` and
``on_recovered()`` (drivers/health.py) — and its readings into calls on the sink. The sink is
the running kiosk's inbox (kiosk/service/runtime.py :class:`~kiosk.service.runtime.Inbox`),
which stamps each call with the kiosk's clock and queues it for the one loop that runs the
flow. Adapters run in their drivers' threads and never touch the flow, the log or the gate.

=========================  =================================  ===========================
module                     device                             reports
=========================  =================================  ===========================
``gpio``                   relay, LEDs, buzzer, amp, buttons  ``button_edge``
``thermometer``            IR thermometer on a serial port    ``sample_seen``, faults
``camera``                 camera → QR decoder                payloads (to ``scanner``)
``scanner``                a payload → the verifier           ``code_read``, faults
``voice``                  speaker or voice module            faults
``calibration``            the thermometer's stored offset    (a file, read at start)
``messages``               the announcement catalogue         (data)
=========================  =================================  ===========================
"""

from __future__ import annotations

from typing import Protocol

from kiosk.core.verdict import CodeVerdict


class DeviceSink(Protocol):
    """Where an adapter reports its device going down and coming back."""

    def device_fault(self, device: str, message: str) -> None: ...

    def device_recovered(self, device: str) -> None: ...


class Sink(DeviceSink, Protocol):
    """Everything adapters report; callable from any thread."""

    def button_edge(self, button: str, pressed: bool) -> None: ...

    def code_read(self, verdict: CodeVerdict) -> None: ...

    def sample_seen(self, object_c: float | None, ambient_c: float | None, body_c: float | None) -> None: ...
