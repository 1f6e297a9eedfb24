"""The thermometer inside the running kiosk: real driver thread, real pty module, real flow loop.

Unplugging the module mid-pass sends the resident to the volunteer ("see the volunteer",
cause device_fault), and the kiosk measures the next resident once the module is back —
without a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hardware_mocks.thermometer import PtyThermometer
from kiosk import config as config_mod
from kiosk.clock import SystemClock
from kiosk.config import Config
from kiosk.core.events import ButtonPress, CodeRead
from kiosk.core.flow import State
from kiosk.core.records import Record
from kiosk.core.verdict import CodeVerdict
from kiosk.service.assembly import assembled
from kiosk.service.runtime import Kiosk


def green(n: int) -> CodeVerdict:
    return CodeVerdict(reason="ok", kind="dynamic", colour="green", kid="k1", issuer="test",
                       token_hash=f"{n:032x}", holder_ref=f"{n + 1000:032x}")


class Running:
    """Runs the kiosk loop in this thread (it owns the pass log) while a scene plays out in
    another, like `kiosk demo`; commits are observable under a condition."""

    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk
        self.cv = threading.Condition()
        self.records: list[Record] = []
        kiosk.on_commit(self._commit)

    def play(self, scene: Callable[[], None]) -> None:
        stop = threading.Event()
        failure: list[BaseException] = []

        def act() -> None:
            try:
                scene()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
                failure.append(exc)
            finally:
                stop.set()

        actor = threading.Thread(target=act, daemon=True)
        actor.start()
        self.kiosk.run(stop)
        actor.join(timeout=5)
        if failure:
            raise failure[0]

    def _commit(self, seq: int, record: Record) -> None:
        with self.cv:
            self.records.append(record)
            self.cv.notify_all()

    def wait(self, pred: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        """Wait until ``pred`` holds; commits wake us at once, flow state is re-checked every 20 ms."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred():
                left = deadline - time.monotonic()
                assert left > 0, (f"kiosk did not {what}; records: "
                                  f"{[(r.kind, r.decision, r.cause) for r in self.records]}")
                self.cv.wait(min(left, 0.02))

    def kinds(self) -> list[str]:
        return [r.kind for r in self.records]


@pytest.fixture
def link(tmp_path: Path) -> Path:
    return tmp_path / "ttyTHERMO"


@pytest.fixture
def kiosk_cfg(tmp_path: Path, link: Path) -> Config:
    return config_mod.from_dict({
        "kiosk": {"id": "test-kiosk", "state_dir": str(tmp_path / "state"), "runtime_dir": str(tmp_path / "run")},
        "gpio": {"pin_factory": "mock"},
        "flow": {"result_hold_s": 0.5},
        "voice": {"backend": "none"},                  # announcements are only logged (and listed)
        "thermometer": {"port": str(link), "protocol": "gy-mcu90614", "read_timeout_s": 0.05,
                        "silence_fault_s": 0.5, "reconnect_max_s": 0.2},
        "camera": {"enabled": False},                  # no camera: its fault would be the first one
    })


@pytest.fixture
def running(kiosk_cfg: Config, link: Path) -> Iterator[tuple[Running, PtyThermometer]]:
    with PtyThermometer("gy-mcu90614", link=link, room_c=22.0) as sim:
        with assembled(kiosk_cfg, SystemClock()) as kiosk:
            yield Running(kiosk), sim


def test_unplug_mid_pass_sends_to_volunteer_and_replug_recovers_without_restart(
        running: tuple[Running, PtyThermometer]) -> None:
    run, sim = running
    kiosk = run.kiosk
    said: list[str] = kiosk.executor.announcer.said   # type: ignore[attr-defined]
    run.play(lambda: _unplug_scene(run, sim, said))
    passed = next(r for r in run.records if r.decision == "pass")
    assert passed.reading is not None
    assert passed.reading.value_c == pytest.approx(36.6, abs=0.05)
    assert passed.reading.samples == 5 and passed.reading.ambient_c == 22.0
    assert passed.reading.spread_c <= 0.3 and passed.reading.object_c == pytest.approx(36.1, abs=0.05)
    assert [r.device for r in run.records if r.kind in ("fault", "recovered")] == ["thermometer"] * 2


def _unplug_scene(run: Running, sim: PtyThermometer, said: list[str]) -> None:
    kiosk = run.kiosk
    kiosk.post(CodeRead(green(1), kiosk.clock.monotonic()))
    run.wait(lambda: kiosk.flow.state is State.MEASURING, "start measuring")
    sim.unplug()                                     # the USB adapter is pulled mid-pass
    run.wait(lambda: "fault" in run.kinds() and kiosk.flow.state is State.VOLUNTEER, "call the volunteer")
    assert kiosk.flow.case is not None and kiosk.flow.case.cause == "device_fault"
    assert "see_volunteer" in said
    fault = next(r for r in run.records if r.kind == "fault")
    assert fault.device == "thermometer" and str(sim.link) in (fault.detail or "")

    sim.replug()
    run.wait(lambda: "recovered" in run.kinds(), "notice the thermometer is back")
    kiosk.post(ButtonPress("deny", kiosk.clock.monotonic()))     # the volunteer decides this one
    run.wait(lambda: any(r.decision == "manual_deny" for r in run.records), "record the volunteer's decision")
    run.wait(lambda: kiosk.flow.state is State.IDLE, "clear the result")

    kiosk.post(CodeRead(green(2), kiosk.clock.monotonic()))     # the next resident, same process
    run.wait(lambda: kiosk.flow.state is State.MEASURING, "measure the next resident")
    sim.set_target(36.1, 22.0)
    run.wait(lambda: any(r.decision == "pass" for r in run.records), "pass a normal reading")


def test_empty_sensor_on_a_hot_day_is_no_target_not_a_pass(running: tuple[Running, PtyThermometer]) -> None:
    run, sim = running
    kiosk = run.kiosk

    def scene() -> None:
        sim.clear_target(ambient_c=35.5)             # nobody in front; the air is 35.5 °C
        kiosk.post(CodeRead(green(3), kiosk.clock.monotonic()))
        run.wait(lambda: kiosk.flow.state is State.MEASURING, "start measuring")
        assert sim.wait_frames(20)                   # well over a second of frames of hot air

    run.play(scene)
    assert kiosk.flow.state is State.MEASURING and not any(r.kind == "pass" for r in run.records)
    assert kiosk.flow.window.samples == []
