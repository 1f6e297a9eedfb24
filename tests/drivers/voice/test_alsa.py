"""The ALSA speaker: real aplay into ALSA's file plugin (no sound card needed), the amplifier
pin on gpiozero's MockFactory, espeak-ng for missing clips, and a recording player where aplay
is absent."""

from __future__ import annotations

import array
import io
import os
import shutil
import stat
import sys
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.errors import DeviceConfigError, DeviceUnavailable, SpeechUnavailable
from drivers.gpio import AmpEnable
from drivers.voice.alsa import AlsaSpeaker, render, scale_wav, wav_seconds
from drivers.voice.player import Player, Utterance
from hardware_mocks.audio import FifoSink

HAVE_APLAY = shutil.which("aplay") is not None
HAVE_ESPEAK = shutil.which("espeak-ng") is not None
needs_aplay = pytest.mark.skipif(not HAVE_APLAY, reason="aplay (alsa-utils) not installed")
needs_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")
AMP_PIN = 25


def make_wav(path: Path, samples: list[int], rate: int = 16000) -> Path:
    a = array.array("h", samples)
    if sys.byteorder == "big":
        a.byteswap()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(a.tobytes())
    return path


def pcm(data: bytes) -> list[int]:
    a = array.array("h")
    a.frombytes(data[: len(data) // 2 * 2])
    if sys.byteorder == "big":
        a.byteswap()
    return list(a)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()
    f.close()


@pytest.fixture
def amp(factory: MockFactory) -> Iterator[AmpEnable]:
    a = AmpEnable(AMP_PIN, pin_factory=factory)
    yield a
    a.close()


def utter(clip: Path | None, name: str = "temp_normal_pass", text: str = "Temperature normal.") -> Utterance:
    return Utterance(name=name, text=text, voice="en", clip=clip, track=1)


# ---------------------------------------------------------------------- real aplay

@needs_aplay
def test_clip_plays_through_aplay_with_the_amplifier_on_only_meanwhile(tmp_path: Path, factory: MockFactory,
                                                                      amp: AmpEnable) -> None:
    samples = [1000, -1000, 2000, -2000, 32767, -32768] * 20000     # longer than the FIFO's buffer
    clip = make_wav(tmp_path / "c.wav", samples)
    pin = factory.pin(AMP_PIN)
    with FifoSink(tmp_path, on_first_sample=lambda: amp.is_on) as sink:
        speaker = AlsaSpeaker(device=sink.device, volume=50, amp=amp)
        speaker.play(utter(clip), threading.Event())
        speaker.play(utter(clip), threading.Event())
        played = sink.wait_for(2)
    pin.assert_states([False, True, False, True, False])
    assert len(pin.states) == 5
    assert [p.snapshot for p in played] == [True, True]          # amplifier on while samples flowed
    got = pcm(played[0].data)
    assert got[: len(samples)] == [int(s * 0.5) for s in samples]   # the clip, at half volume
    assert not any(got[len(samples):])                              # then ALSA's silent padding


@needs_aplay
def test_missing_sound_card_is_a_device_error_naming_the_device(tmp_path: Path, amp: AmpEnable,
                                                                factory: MockFactory) -> None:
    clip = make_wav(tmp_path / "c.wav", [0, 1, 2] * 100)
    speaker = AlsaSpeaker(device="hw:CARD=NoSuchCard", amp=amp)
    with pytest.raises(DeviceUnavailable, match="NoSuchCard"):
        speaker.play(utter(clip), threading.Event())
    assert not amp.is_on
    factory.pin(AMP_PIN).assert_states([False, True, False])


@needs_aplay
@needs_espeak
def test_missing_clip_is_spoken_with_espeak(tmp_path: Path) -> None:
    with FifoSink(tmp_path) as sink:
        speaker = AlsaSpeaker(device=sink.device)
        speaker.play(utter(tmp_path / "absent.wav", text="Please pass."), threading.Event())
        played = sink.wait_for(1)
    assert sum(abs(s) for s in pcm(played[0].data)) > 0        # speech, not silence


@needs_aplay
def test_player_reports_a_fault_once_and_the_recovery(tmp_path: Path) -> None:
    clip = make_wav(tmp_path / "c.wav", [5, -5] * 200)
    faults: list[str] = []
    recovered = threading.Event()
    speaker = AlsaSpeaker(device="hw:CARD=NoSuchCard")
    with Player(speaker, on_fault=faults.append, on_recovered=recovered.set) as player:
        for _ in range(3):
            player.say(utter(clip))
            assert player.wait_idle(10)
        assert len(faults) == 1 and "NoSuchCard" in faults[0]
        with FifoSink(tmp_path) as sink:
            speaker.device = sink.device               # the technician plugs the card back in
            player.say(utter(clip))
            sink.wait_for(1)
            assert recovered.wait(10)
    assert not player.faulted


# ---------------------------------------------------------------------- recording player

RECORDER = """#!{python}
import os, sys, signal
out = os.environ["REC_DIR"]
n = len([f for f in os.listdir(out) if f.endswith(".argv")])
open(os.path.join(out, f"{{n}}.argv"), "w").write("\\n".join(sys.argv[1:]))
data = sys.stdin.buffer.read()
open(os.path.join(out, f"{{n}}.wav"), "wb").write(data)
if os.environ.get("REC_BLOCK"):
    with open(os.environ["REC_BLOCK"], "w") as fifo:   # tell the test we are playing
        fifo.write("playing\\n")
    signal.pause()                                      # until terminated
"""


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for aplay that records its arguments and the WAV it was fed."""
    script = tmp_path / "fake-aplay"
    script.write_text(RECORDER.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    rec = tmp_path / "rec"
    rec.mkdir()
    monkeypatch.setenv("REC_DIR", str(rec))
    return script


def test_recording_player_gets_the_device_and_the_scaled_clip(tmp_path: Path, recorder: Path, amp: AmpEnable,
                                                             factory: MockFactory) -> None:
    samples = [100, -200, 300] * 50
    clip = make_wav(tmp_path / "c.wav", samples)
    speaker = AlsaSpeaker(device="plughw:1,0", volume=20, amp=amp, aplay=str(recorder))
    speaker.play(utter(clip), threading.Event())
    rec = tmp_path / "rec"
    assert (rec / "0.argv").read_text().split("\n") == ["-q", "-D", "plughw:1,0", "-t", "wav", "-"]
    with wave.open(str(rec / "0.wav")) as w:
        assert pcm(w.readframes(w.getnframes())) == [int(s * 0.2) for s in samples]
    factory.pin(AMP_PIN).assert_states([False, True, False])


def test_newer_announcement_interrupts_the_playing_one(tmp_path: Path, recorder: Path, amp: AmpEnable,
                                                      factory: MockFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    clip_a = make_wav(tmp_path / "a.wav", [1] * 16000)
    clip_b = make_wav(tmp_path / "b.wav", [2] * 160)
    started = tmp_path / "started.fifo"
    os.mkfifo(started)
    monkeypatch.setenv("REC_BLOCK", str(started))
    speaker = AlsaSpeaker(device="null", amp=amp, aplay=str(recorder))
    with Player(speaker) as player:
        player.say(utter(clip_a, name="please_measure"))      # returns at once: never blocks the flow
        with open(started) as fifo:                           # blocks until the stand-in is playing A
            assert fifo.readline() == "playing\n"
        assert amp.is_on
        monkeypatch.delenv("REC_BLOCK")                       # B plays to its end
        player.say(utter(clip_b, name="temp_normal_pass"))
        assert player.wait_idle(10)
    assert (player.interrupted, player.played) == (1, 1)
    rec = tmp_path / "rec"
    assert sorted(p.name for p in rec.glob("*.wav")) == ["0.wav", "1.wav"]
    with wave.open(str(rec / "1.wav")) as w:
        assert set(pcm(w.readframes(w.getnframes()))) == {2}
    factory.pin(AMP_PIN).assert_states([False, True, False, True, False])
    assert player.last_error is None


def test_aplay_not_installed_is_a_device_fault(tmp_path: Path) -> None:
    speaker = AlsaSpeaker(device="null", aplay=str(tmp_path / "no-aplay"))
    with pytest.raises(DeviceUnavailable, match="alsa-utils"):
        speaker.play(utter(make_wav(tmp_path / "c.wav", [0] * 10)), threading.Event())


def test_neither_clip_nor_espeak_is_a_logged_miss_not_a_fault(tmp_path: Path, recorder: Path) -> None:
    faults: list[str] = []
    speaker = AlsaSpeaker(device="null", aplay=str(recorder), espeak=str(tmp_path / "no-espeak"))
    with Player(speaker, on_fault=faults.append) as player:
        player.say(utter(tmp_path / "absent.wav"))
        assert player.wait_idle(10)
    assert faults == [] and "espeak-ng" in (player.last_error or "")
    with pytest.raises(DeviceUnavailable):        # backend 'espeak' has no other way to speak
        AlsaSpeaker(device="null", prefer_clips=False, espeak=str(tmp_path / "no-espeak")).play(
            utter(None), threading.Event())


# ---------------------------------------------------------------------- WAV handling

def test_scale_wav_fixes_a_streaming_header_and_scales() -> None:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(array.array("h", [1000] * 8000).tobytes())
    data = bytearray(buf.getvalue())
    data[40:44] = (0x7FFFF000).to_bytes(4, "little")         # what espeak-ng --stdout writes
    out = scale_wav(bytes(data), 10)
    assert wav_seconds(out) == pytest.approx(1.0)
    with wave.open(io.BytesIO(out)) as w:
        assert set(pcm(w.readframes(w.getnframes()))) == {100}


def test_not_a_wav_is_named() -> None:
    with pytest.raises(SpeechUnavailable, match="espeak-ng is not a PCM WAV"):
        scale_wav(b"RIFF....junk", 50, source="espeak-ng")
    with pytest.raises(DeviceConfigError):
        AlsaSpeaker(volume=101)


@needs_espeak
def test_espeak_renders_mandarin() -> None:
    data = scale_wav(render("体温正常，请通行", "cmn"), 100)
    assert wav_seconds(data) > 0.5
