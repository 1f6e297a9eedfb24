"""Frame codecs and the resynchronising parser (drivers/thermometer/frames.py), against the worked
frames of docs/thermometer.md §1 and property-based round trips."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import DeviceConfigError, FrameError
from drivers.thermometer.frames import (
    PROTOCOLS,
    AaA5Body,
    Frame,
    GyMcu90614,
    Idc50Push,
    codec,
    effective_mode,
    sample_rate_hz,
    sum8,
)

GY, AA, IDC = GyMcu90614(), AaA5Body(), Idc50Push()
H = bytes.fromhex


# --------------------------------------------------------------------------- worked frames (docs/thermometer.md §1)

@pytest.mark.parametrize("raw, object_c, ambient_c", [
    ("5A 5A 45 04 0C 78 0D 19 A7", 31.92, 33.53),      # the seller's own frame
    ("5A 5A 45 04 0E 42 09 C4 1A", 36.50, 25.00),      # our fixture
    ("5A 5A 45 04 0D 16 FE 0C 2A", 33.50, -5.00),      # cold outdoors: TA two's complement
])
def test_gy_worked_frames_decode_exactly(raw: str, object_c: float, ambient_c: float) -> None:
    frame = GY.decode(H(raw))
    assert (frame.object_c, frame.ambient_c, frame.body_c) == (object_c, ambient_c, None)
    assert GY.encode(object_c=object_c, ambient_c=ambient_c) == H(raw)


def test_gy_host_commands_are_the_documented_bytes() -> None:
    assert GY.query() == H("A5 15 BA")
    assert GY.stream() == H("A5 45 EA")
    assert GY.command(GY.BAUD_9600) == H("A5 AE 53") and GY.command(GY.BAUD_115200) == H("A5 AF 54")
    assert GY.command(GY.AUTO_ON) == H("A5 51 F6") and GY.command(GY.AUTO_OFF) == H("A5 52 F7")
    assert GY.decode_command(H("A5 15 BA")).cmd == 0x15
    with pytest.raises(FrameError, match="checksum"):
        GY.decode_command(H("A5 15 BB"))


def test_aa_a5_worked_frames() -> None:
    assert AA.setup() == (H("AA A5 04 02 02 08 55"),)     # set target: body
    assert AA.query() == H("AA A5 03 01 04 55")            # measure
    frame = AA.decode(H("AA A5 08 01 02 01 6D 00 FA 73 55"))
    assert (frame.body_c, frame.ambient_c, frame.object_c) == (36.5, 25.0, None)
    assert AA.encode(body_c=36.5, ambient_c=25.0) == H("AA A5 08 01 02 01 6D 00 FA 73 55")
    ack = AA.decode(AA.reply(0x02, 0x00))
    assert (ack.reply_to, ack.status, ack.has_temperature) == (0x02, 0x00, False)
    assert AA.acknowledges(AA.setup()[0], ack)
    assert not AA.acknowledges(AA.query(), ack)


def test_idc50_worked_frame() -> None:
    frame = IDC.decode(H("AA 55 06 24 07 30"))
    assert (frame.body_c, frame.object_c, frame.ambient_c) == (36.7, None, None)
    assert IDC.encode(body_c=36.7) == H("AA 55 06 24 07 30")


# --------------------------------------------------------------------------- strict decoding

def _gy(to: int, ta: int) -> bytes:
    body = b"\x5a\x5a\x45\x04" + struct.pack(">hh", to, ta)
    return body + bytes((sum8(body),))


@pytest.mark.parametrize("raw, reason", [
    (H("5A 5A 45 04 0C 78 0D 19 A8"), "checksum"),
    (H("5A 5A 45 05 0C 78 0D 19 A8"), "45 04"),
    (H("5A 5A 45 04 0C 78 0D 19"), "8 bytes"),
    (_gy(-8000, 2500), "outside the sensor range"),          # -80.00 °C object
    (_gy(3650, 13000), "outside the sensor range"),          # 130 °C ambient
    (H("AA 55 06 24 0A 33"), "not a digit"),
    (H("AA 55 06 24 07 31"), "checksum"),
    (H("AA A5 08 01 02 01 6D 00 FA 73 56"), "tail"),
    (H("AA A5 08 01 03 01 6D 00 FA 74 55"), "target"),
    (H("AA A5 04 09 00 0D 55"), "unknown command"),
])
def test_invalid_frames_raise_frame_error_naming_the_problem(raw: bytes, reason: str) -> None:
    c = IDC if raw[:2] == b"\xaa\x55" else AA if raw[:2] == b"\xaa\xa5" else GY
    with pytest.raises(FrameError, match=reason) as info:
        c.decode(raw)
    assert info.value.raw == raw
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@given(data=st.binary(max_size=40))
@settings(max_examples=300, deadline=None)
def test_decode_of_arbitrary_bytes_raises_only_frame_error(name: str, data: bytes) -> None:
    c = codec(name)
    try:
        frame = c.decode(data)
    except FrameError:
        return
    assert frame.raw == data          # accepted only if it really is a frame
    assert c.decode(frame.raw) == frame


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=8))
@settings(max_examples=200, deadline=None)
def test_parser_never_raises_and_only_yields_verified_frames(name: str, data: bytes, cuts: list[int]) -> None:
    c = codec(name)
    parser = c.parser()
    frames: list[Frame] = []
    for a, b in _chunks(len(data), cuts):
        frames += parser.feed(data[a:b])
    parser.flush()
    for frame in frames:
        assert c.decode(frame.raw) == frame          # checksum and ranges hold for every yielded frame
    assert parser.pending == 0


# --------------------------------------------------------------------------- round trips

gy_values = st.tuples(st.integers(-7000, 32767), st.integers(-4000, 12500))
aa_values = st.tuples(st.sampled_from(("object", "body")), st.integers(-700, 3800), st.integers(-400, 1250))
idc_values = st.integers(0, 2559)


@given(gy_values)
def test_gy_round_trip(v: tuple[int, int]) -> None:
    raw = GY.encode(object_c=v[0] / 100, ambient_c=v[1] / 100)
    frame = GY.decode(raw)
    assert (frame.object_c, frame.ambient_c) == (v[0] / 100, v[1] / 100)
    assert GY.encode(object_c=frame.object_c, ambient_c=frame.ambient_c) == raw


@given(aa_values)
def test_aa_a5_round_trip(v: tuple[str, int, int]) -> None:
    target, value, ambient = v
    raw = AA.encode(ambient_c=ambient / 10, **{f"{target}_c": value / 10})
    frame = AA.decode(raw)
    assert getattr(frame, f"{target}_c") == value / 10 and frame.ambient_c == ambient / 10
    other = "object" if target == "body" else "body"
    assert getattr(frame, f"{other}_c") is None


@given(idc_values)
def test_idc50_round_trip(tenths: int) -> None:
    raw = IDC.encode(body_c=tenths / 10)
    assert IDC.decode(raw).body_c == round(tenths / 10, 1)


def _frames_for(name: str, values: list[tuple[int, int]]) -> list[bytes]:
    c = codec(name)
    if name == "gy-mcu90614":
        return [c.encode(object_c=a / 100, ambient_c=b / 100) for a, b in values]
    if name == "aa-a5-body":
        return [c.encode(body_c=a / 100, ambient_c=max(-400, min(b, 1250)) / 10) for a, b in values]
    return [c.encode(body_c=abs(a) % 2560 / 10) for a, _ in values]


def _chunks(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    points = sorted({0, n, *(min(c, n) for c in cuts)})
    return list(itertools.pairwise(points)) or [(0, 0)]


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@given(values=st.lists(st.tuples(st.integers(-3000, 9000), st.integers(-400, 1250)), min_size=1, max_size=12),
       garbage=st.lists(st.binary(max_size=12), min_size=13, max_size=13),
       cuts=st.lists(st.integers(0, 400), max_size=10))
@settings(max_examples=150, deadline=None)
def test_parser_recovers_every_frame_between_garbage_in_any_chunking(
        name: str, values: list[tuple[int, int]], garbage: list[bytes], cuts: list[int]) -> None:
    c = codec(name)
    lead = c.header[0]
    frames = _frames_for(name, values)
    junk = [bytes(b for b in g if b != lead) for g in garbage]     # garbage that cannot start a header
    stream = b"".join(j + f for j, f in zip(junk, frames, strict=False)) + junk[-1]
    parser = c.parser()
    got: list[Frame] = []
    for a, b in _chunks(len(stream), cuts):
        got += parser.feed(stream[a:b])
    assert [f.raw for f in got] == frames
    assert parser.bad == 0


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@given(values=st.lists(st.tuples(st.integers(-3000, 9000), st.integers(-400, 1250)), min_size=1, max_size=8),
       garbage=st.lists(st.binary(max_size=12), min_size=9, max_size=9))
@settings(max_examples=150, deadline=None)
def test_a_reader_waiting_for_what_the_parser_needs_gets_each_frame_with_its_last_byte(
        name: str, values: list[tuple[int, int]], garbage: list[bytes]) -> None:
    """The thermometer's reader waits for ``needed()`` bytes at once (one wake-up a frame, not
    two): that never reads past a frame's end before the frame is out, so no sample is late."""
    c = codec(name)
    lead = c.header[0]
    frames = _frames_for(name, values)
    junk = [bytes(b for b in g if b != lead) for g in garbage]
    stream, ends = b"", []
    for j, f in zip(junk, frames, strict=False):
        stream += j + f
        ends.append(len(stream))
    parser = c.parser()
    pos, out = 0, []
    while pos < len(stream):
        n = parser.needed()
        assert n >= 1
        got = parser.feed(stream[pos:pos + n])
        pos = min(pos + n, len(stream))
        out += [pos] * len(got)
    assert out == ends and parser.needed() == c.min_length


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@given(values=st.lists(st.tuples(st.integers(3000, 4000), st.integers(0, 300)), min_size=3, max_size=8),
       data=st.data())
@settings(max_examples=150, deadline=None)
def test_a_corrupted_byte_costs_at_most_its_frame_and_never_yields_a_bad_value(
        name: str, values: list[tuple[int, int]], data: st.DataObject) -> None:
    c = codec(name)
    frames = _frames_for(name, values)
    stream = bytearray(b"".join(frames))
    pos = data.draw(st.integers(0, len(stream) - 1))
    stream[pos] ^= data.draw(st.integers(1, 255))
    parser = c.parser()
    got = parser.feed(bytes(stream))
    parser.flush()
    for frame in got:
        assert c.decode(frame.raw) == frame
    recovered = [f.raw for f in got]
    assert all(raw in frames for raw in recovered)            # nothing invented
    assert len(recovered) >= len(frames) - 2                   # its own frame, at most one neighbour
    assert parser.bad >= 1 or parser.skipped >= 1


def test_parser_counts_bad_checksums_and_truncated_frames_and_reports_them() -> None:
    bad: list[FrameError] = []
    parser = GY.parser(on_bad=bad.append)
    good = GY.encode(object_c=36.5, ambient_c=25.0)
    corrupt = good[:-1] + bytes(((good[-1] + 1) & 0xFF,))
    assert parser.feed(corrupt + good[:5]) == []
    assert parser.feed(good[5:] + good) == [GY.decode(good)] * 2
    parser.feed(good[:4])
    parser.flush()
    assert parser.bad == 2
    assert "checksum" in bad[0].reason and bad[1].reason == "truncated frame"


def test_split_frame_is_reassembled() -> None:
    parser = AA.parser()
    raw = AA.encode(body_c=36.6, ambient_c=21.0)
    got = [f for b in raw for f in parser.feed(bytes((b,)))]
    assert [f.body_c for f in got] == [36.6] and parser.bad == 0


def test_impossible_length_byte_resynchronises() -> None:
    parser = AA.parser()
    good = AA.encode(body_c=36.6, ambient_c=21.0)
    got = parser.feed(b"\xaa\xa5\xff" + good)
    assert [f.raw for f in got] == [good] and parser.bad == 1


# --------------------------------------------------------------------------- protocol facts

def test_protocol_registry_modes_and_rates() -> None:
    with pytest.raises(DeviceConfigError, match="unknown thermometer protocol"):
        codec("mlx-42")
    assert effective_mode(GY, "auto") == "stream" and effective_mode(AA, "auto") == "query"
    with pytest.raises(DeviceConfigError, match="only answers queries"):
        effective_mode(AA, "stream")
    with pytest.raises(DeviceConfigError, match="only pushes"):
        effective_mode(IDC, "query")
    assert sample_rate_hz("gy-mcu90614", "auto", 8.0) == 14.0
    assert sample_rate_hz("gy-mcu90614", "query", 8.0) == 8.0
    assert sample_rate_hz("aa-a5-body", "auto", 6.0) == 6.0
    assert sample_rate_hz("idc50-push", "auto", 8.0) == 2.0
    assert GY.bauds == (9600, 115200)
