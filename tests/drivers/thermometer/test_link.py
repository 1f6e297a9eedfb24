"""The thermometer driver end to end: real pyserial on a real pseudo-terminal, the simulated
module speaking each protocol's bytes at its baud and frame rate (hardware_mocks/thermometer.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers.errors import DeviceTimeout, DeviceUnavailable, FrameError
from drivers.thermometer.frames import Frame
from drivers.thermometer.link import LinkSettings, Thermometer, ThermometerLink
from hardware_mocks.thermometer import PtyThermometer, Step, load_scenario

SimFactory = Callable[..., PtyThermometer]


@pytest.fixture
def link_path(tmp_path: Path) -> Path:
    return tmp_path / "ttyTHERMO"


@pytest.fixture
def make_sim(link_path: Path) -> Iterator[SimFactory]:
    sims: list[PtyThermometer] = []

    def make(protocol: str, target: tuple[float, ...] | None = None, **kw: object) -> PtyThermometer:
        """A started module; ``target`` is in front of it before its first frame."""
        kw.setdefault("link", link_path)
        kw.setdefault("noise_c", 0.0)
        sim = PtyThermometer(protocol, **kw)  # type: ignore[arg-type]
        sims.append(sim)
        if target is not None:
            sim.set_target(*target)
        return sim.start()

    yield make
    for sim in sims:
        sim.close()


class Recorder:
    """Collects a Thermometer's callbacks; tests wait on its condition, never on sleeps."""

    def __init__(self) -> None:
        self.cv = threading.Condition()
        self.samples: list[Frame] = []
        self.events: list[str] = []
        self.bad: list[FrameError] = []

    def sample(self, frame: Frame) -> None:
        with self.cv:
            self.samples.append(frame)
            self.cv.notify_all()

    def fault(self, message: str) -> None:
        with self.cv:
            self.events.append(f"fault: {message}")
            self.cv.notify_all()

    def recover(self) -> None:
        with self.cv:
            self.events.append("recovered")
            self.cv.notify_all()

    def wait(self, pred: Callable[[], bool], timeout: float = 5.0) -> None:
        with self.cv:
            assert self.cv.wait_for(pred, timeout=timeout), f"timed out; events={self.events}"

    def thermometer(self, port: Path, protocol: str = "gy-mcu90614", **kw: object) -> Thermometer:
        settings = LinkSettings(str(port), protocol, read_timeout_s=0.05)
        opts: dict[str, object] = dict(silence_s=0.4, backoff_min_s=0.05, backoff_max_s=0.2)
        opts.update(kw)
        return Thermometer(settings, self.sample, self.fault, self.recover, on_bad=self.bad.append,
                           **opts)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- each protocol

@pytest.mark.parametrize("protocol, sim_kw, link_kw, baud, command", [
    ("gy-mcu90614", {}, {}, 9600, bytes.fromhex("A5 45 EA")),
    ("gy-mcu90614", {"baud": 115200}, {}, 115200, bytes.fromhex("A5 45 EA")),       # found by the probe
    ("gy-mcu90614", {"auto_output": False}, {"mode": "query"}, 9600, bytes.fromhex("A5 15 BA")),
    ("gy-mcu90614", {"auto_output": True}, {"mode": "query"}, 9600, bytes.fromhex("A5 15 BA")),
    ("aa-a5-body", {}, {}, 38400, bytes.fromhex("AA A5 04 02 02 08 55")),
    ("idc50-push", {}, {}, 115200, None),
])
def test_each_protocol_end_to_end_through_a_pty(make_sim: SimFactory, link_path: Path, protocol: str,
                                                sim_kw: dict[str, object], link_kw: dict[str, object],
                                                baud: int, command: bytes | None) -> None:
    sim = make_sim(protocol, target=(35.9, 21.0, 36.6), **sim_kw)
    settings = LinkSettings(str(link_path), protocol, **link_kw)  # type: ignore[arg-type]
    with ThermometerLink(settings) as link:
        frames = list(link.frames(count=3))
        assert link.baud == baud
    if protocol == "gy-mcu90614":
        assert [(f.object_c, f.ambient_c, f.body_c) for f in frames] == [(35.9, 21.0, None)] * 3
    elif protocol == "aa-a5-body":
        assert [(f.object_c, f.ambient_c, f.body_c) for f in frames] == [(None, 21.0, 36.6)] * 3
    else:
        assert [(f.object_c, f.ambient_c, f.body_c) for f in frames] == [(None, None, 36.6)] * 3
    if command is not None:
        assert command in sim.commands_seen
    if baud == 115200 and protocol == "gy-mcu90614":
        assert sim.noise_sent > 0       # the 9600 probe heard noise first, as on a real UART


def test_a_streamed_frame_costs_one_read(make_sim: SimFactory, link_path: Path) -> None:
    """Waiting for a whole frame at once: one wake-up of the reader a frame, where reading the
    first byte and then the rest cost two (0.16 % of a core at 14 Hz: docs/benchmarks.md "Idle CPU,
    issue 17")."""
    make_sim("gy-mcu90614", target=(35.9, 21.0))
    with ThermometerLink(LinkSettings(str(link_path), "gy-mcu90614")) as link:
        frames = link.frames(count=9)
        next(frames)                                  # opened, in step with the stream
        port = link._port
        reads: list[int] = []
        read = port.read

        def counted(size: int = 1) -> bytes:
            data: bytes = read(size)
            reads.append(len(data))
            return data
        port.read = counted
        assert len(list(frames)) == 8
    assert len(reads) <= 8 + 3 and sum(reads) >= 8 * 9     # 16 when a frame took two (a stall may split one)


def test_a_forced_wrong_baud_rate_hears_only_noise_and_says_so(make_sim: SimFactory, link_path: Path) -> None:
    sim = make_sim("gy-mcu90614", target=(35.9, 21.0), baud=115200)
    with pytest.raises(DeviceTimeout, match=r"no valid gy-mcu90614 frame .* at 9600 baud"):
        ThermometerLink(LinkSettings(str(link_path), "gy-mcu90614", baud=9600)).open()
    assert sim.commands_seen == []


def test_wrong_protocol_is_a_clear_timeout(make_sim: SimFactory, link_path: Path) -> None:
    make_sim("gy-mcu90614")
    with pytest.raises(DeviceTimeout, match=r"no valid idc50-push frame from .*wrong protocol"):
        ThermometerLink(LinkSettings(str(link_path), "idc50-push")).open()


def test_missing_port_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailable, match=r"cannot open thermometer port .*nope: No such file"):
        ThermometerLink(LinkSettings(str(tmp_path / "nope"), "gy-mcu90614")).open()


def test_port_is_opened_exclusively(make_sim: SimFactory, link_path: Path) -> None:
    make_sim("gy-mcu90614")
    with ThermometerLink(LinkSettings(str(link_path), "gy-mcu90614")):
        with pytest.raises(DeviceUnavailable, match="in use by another program"):
            ThermometerLink(LinkSettings(str(link_path), "gy-mcu90614")).open()


# --------------------------------------------------------------------------- faults on the wire

def test_garbage_split_bad_checksum_and_truncated_frames_never_yield_a_value(
        make_sim: SimFactory, link_path: Path) -> None:
    sim = make_sim("gy-mcu90614", target=(35.9, 21.0))
    bad: list[FrameError] = []
    with ThermometerLink(LinkSettings(str(link_path), "gy-mcu90614"), on_bad=bad.append) as link:
        for fault in ("garbage", "split", "bad_checksum", "truncate", "garbage"):
            sim.inject(fault)
            assert sim.wait_frames(1)          # each fault lands on its own frame (bytes wait in the pty)
        frames = list(link.frames(count=8))
    assert {(f.object_c, f.ambient_c) for f in frames} == {(35.9, 21.0)}
    reasons = " | ".join(e.reason for e in bad)
    assert "checksum" in reasons
    assert link.parser.bad >= 2 and len(bad) == link.parser.bad


def test_scenario_csv_drives_the_module(make_sim: SimFactory, link_path: Path, tmp_path: Path) -> None:
    csv = tmp_path / "scenario.csv"
    csv.write_text("t,object_c,ambient_c,body_c,fault\n0,,20.0,,\n0.3,35.7,20.0,,\n0.6,36.1,20.5,,bad_checksum\n")
    steps = load_scenario(csv)
    assert steps[0] == Step(0.0, None, 20.0) and steps[2].fault == "bad_checksum"
    make_sim("gy-mcu90614", scenario=steps)
    with ThermometerLink(LinkSettings(str(link_path), "gy-mcu90614")) as link:
        seen: list[float] = []
        for frame in link.frames(duration_s=5.0):
            assert frame.object_c is not None
            if not seen or seen[-1] != frame.object_c:
                seen.append(frame.object_c)
            if frame.object_c == 36.1:
                break
    assert seen[-3:] == [20.0, 35.7, 36.1]


@pytest.mark.parametrize("text, message", [
    ("time,object_c\n", "needs columns"),
    ("t,object_c,ambient_c\nx,1,2\n", ":2:"),
    ("t,object_c,ambient_c,fault\n0,1,2,melt\n", "unknown fault"),
])
def test_bad_scenarios_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_scenario(path)


# --------------------------------------------------------------------------- the reader thread

def test_silence_is_a_fault_and_frames_coming_back_recover(make_sim: SimFactory, link_path: Path) -> None:
    sim = make_sim("gy-mcu90614", target=(35.9, 21.0))
    rec = Recorder()
    with rec.thermometer(link_path):
        rec.wait(lambda: len(rec.samples) >= 2)
        sim.silence()
        rec.wait(lambda: any(e.startswith("fault") for e in rec.events))
        assert "no valid frame" in rec.events[0]
        sim.resume()
        rec.wait(lambda: "recovered" in rec.events)
        count = len(rec.samples)
        rec.wait(lambda: len(rec.samples) > count)
    assert rec.events == [rec.events[0], "recovered"]     # one fault, one recovery


def test_unplug_is_a_fault_and_replug_recovers_without_restart(make_sim: SimFactory, link_path: Path) -> None:
    sim = make_sim("aa-a5-body", target=(35.9, 21.0, 36.6))
    rec = Recorder()
    with rec.thermometer(link_path, "aa-a5-body") as thermometer:
        rec.wait(lambda: len(rec.samples) >= 2)
        sim.unplug()
        rec.wait(lambda: bool(rec.events))
        assert rec.events[0].startswith("fault: ") and str(link_path) in rec.events[0]
        assert thermometer.faulted
        sim.replug()                                  # a new pty; the link points at it again
        rec.wait(lambda: "recovered" in rec.events)
        count = len(rec.samples)
        rec.wait(lambda: len(rec.samples) >= count + 2)
    assert rec.samples[-1].body_c == 36.6
    assert rec.events.count("recovered") == 1 and len(rec.events) == 2
    assert sim.commands_seen.count(bytes.fromhex("AA A5 04 02 02 08 55")) >= 2   # body mode set again


def test_a_port_missing_at_start_is_a_fault_until_it_appears(make_sim: SimFactory, link_path: Path) -> None:
    rec = Recorder()
    with rec.thermometer(link_path) as thermometer:
        rec.wait(lambda: bool(rec.events))
        assert "No such file" in rec.events[0]
        make_sim("gy-mcu90614", target=(36.0, 22.0))
        rec.wait(lambda: "recovered" in rec.events and len(rec.samples) >= 1)
        assert not thermometer.faulted
    assert rec.samples[-1].object_c == 36.0


def test_close_stops_the_reader_thread(make_sim: SimFactory, link_path: Path) -> None:
    make_sim("idc50-push")
    rec = Recorder()
    thermometer = rec.thermometer(link_path, "idc50-push", silence_s=5.0).start()
    rec.wait(lambda: len(rec.samples) >= 1)
    thread = thermometer._thread
    thermometer.close()
    assert thread is not None and not thread.is_alive()
    assert not thermometer.link.is_open
