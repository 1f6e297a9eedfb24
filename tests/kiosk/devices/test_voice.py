"""The kiosk side of the voice: the catalogue covers every announcement the flow can make,
the configured backend is the one built, a dead sound card becomes a device fault of the
running kiosk, and `kiosk voice build|say` work end to end."""

from __future__ import annotations

import ast
import dataclasses
import shutil
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.voice.alsa import AlsaSpeaker
from drivers.voice.module import VoiceModule
from hardware_mocks.audio import FifoSink
from kiosk.clock import FakeClock
from kiosk.config import Config
from kiosk.core import flow as flow_mod
from kiosk.core import policy
from kiosk.core.events import CodeRead
from kiosk.core.verdict import CodeVerdict
from kiosk.devices import messages
from kiosk.devices.voice import SAID_KEPT, LogAnnouncer, VoiceAnnouncer, utterance
from kiosk.devices.voice import start as make_announcer
from kiosk.passlog.reader import connect_readonly
from kiosk.schema import REASONS
from kiosk.service.assembly import assembled

needs_aplay = pytest.mark.skipif(shutil.which("aplay") is None, reason="aplay (alsa-utils) not installed")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


# ---------------------------------------------------------------------- catalogue

def announced_keys(path: Path) -> set[str]:
    """Every string literal given to Announce(...) or as a message=… argument, or returned by
    a policy function whose name ends in _message."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    keys: set[str] = set()

    def strings(node: ast.AST) -> set[str]:
        return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name == "Announce":
                keys |= set().union(*(strings(a) for a in node.args)) if node.args else set()
            for kw in node.keywords:
                if kw.arg == "message":
                    keys |= strings(kw.value)
        if isinstance(node, ast.FunctionDef) and node.name.endswith("_message"):
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Constant):
                    keys.add(str(ret.value.value))
    return keys


def test_every_announcement_of_the_flow_is_in_the_catalogue() -> None:
    keys = announced_keys(Path(flow_mod.__file__)) | announced_keys(Path(policy.__file__))
    for reason in REASONS:                                     # code_message builds some keys
        keys.add(policy.code_message(CodeVerdict(reason=reason)))
    keys |= {policy.low_reading_message(a, 10.0) for a in (None, -5.0, 20.0)}
    assert len(keys) > 20                                      # the scan found the flow's keys
    missing = sorted(k for k in keys if k not in messages.catalogue())
    assert missing == []


def test_issue_outcomes_have_messages_in_both_languages() -> None:
    wanted = ["please_scan", "please_measure", "temp_normal_pass", "temp_high_rest", "temp_fever_denied",
              "code_yellow", "code_red", "code_expired", "code_invalid", "code_replay", "see_volunteer",
              "device_fault", "manual_pass", "emergency_open", "shift_started", "shift_ended"]
    for key in wanted:
        assert messages.text(key, "zh") and messages.text(key, "en")
    tracks = [messages.track(k) for k in messages.keys()]
    assert len(set(tracks)) == len(tracks) and sorted(tracks) == list(range(1, len(tracks) + 1))


def test_unknown_key_is_logged_not_raised(cfg: Config, caplog: pytest.LogCaptureFixture) -> None:
    announcer = make_announcer(cfg.replace(voice=dataclasses.replace(cfg.voice, backend="espeak", device="null")))
    try:
        announcer.announce("no_such_message")
    finally:
        announcer.close()
    assert "no_such_message" in caplog.text


# ---------------------------------------------------------------------- backend selection

def voice(cfg: Config, **kw: Any) -> Config:
    return cfg.replace(voice=dataclasses.replace(cfg.voice, **kw))


def test_backend_is_picked_by_config(cfg: Config, tmp_path: Path) -> None:
    assert isinstance(make_announcer(voice(cfg, backend="none")), LogAnnouncer)
    for backend, clips in (("aplay", True), ("espeak", False)):
        a = make_announcer(voice(cfg, backend=backend, device="null", volume=30))
        assert isinstance(a, VoiceAnnouncer)
        speaker = a.player.backend
        assert isinstance(speaker, AlsaSpeaker)
        assert (speaker.prefer_clips, speaker.device, speaker.volume) == (clips, "null", 30)
        assert a.clips_dir == cfg.kiosk.state_dir / "voice"
        a.close()
    from gpiozero.pins.mock import MockFactory
    factory = MockFactory()
    try:
        a = make_announcer(voice(cfg, backend="gpio-voice", gpio_pins="20,21,26", gpio_mode="per_pin"),
                           pin_factory=factory)
        module = a.player.backend  # type: ignore[attr-defined]
        assert isinstance(module, VoiceModule) and module.pins == (20, 21, 26) and module.mode == "per_pin"
        a.close()
    finally:
        factory.reset()
        factory.close()


def test_mute_says_nothing(cfg: Config, tmp_path: Path) -> None:
    a = make_announcer(voice(cfg, backend="espeak", device="null", mute=True))
    assert isinstance(a, VoiceAnnouncer)
    a.announce("temp_normal_pass")
    assert a.wait_idle(5) and a.player.played == 0 and a.said == ["temp_normal_pass"]
    a.close()


# ---------------------------------------------------------------------- in the running kiosk

@needs_aplay
def test_a_dead_sound_card_is_a_voice_fault_of_the_kiosk_not_a_crash(cfg: Config, clock: FakeClock) -> None:
    clips = cfg.kiosk.state_dir / "voice" / "zh"
    clips.mkdir(parents=True)
    with wave.open(str(clips / "code_red.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x00" * 800)
    broken = voice(cfg, backend="aplay", device="hw:CARD=NoSuchCard")
    with assembled(broken, clock) as kiosk:
        kiosk.post(CodeRead(CodeVerdict(reason="red", colour="red"), clock.monotonic()))
        kiosk.pump()                                           # decides, asks for "code_red"
        announcer = kiosk.executor.announcer
        assert isinstance(announcer, VoiceAnnouncer) and announcer.wait_idle(10)
        kiosk.step()                                           # the fault event the player posted
        assert kiosk.flow.faults.get("voice", "").startswith("ALSA device 'hw:CARD=NoSuchCard'")
        conn = connect_readonly(broken.db_path)
        rows = conn.execute("SELECT kind, decision, device FROM records ORDER BY seq").fetchall()
        conn.close()
        assert [tuple(r) for r in rows] == [("pass", "deny", None), ("fault", None, "voice")]
        amp = kiosk.devices.factory.pin(broken.gpio.amp_enable_pin)
        assert [s.state for s in amp.states] == [False, True, False]


@needs_aplay
def test_the_kiosk_speaks_its_decision_through_aplay(cfg: Config, clock: FakeClock, tmp_path: Path) -> None:
    amps: list[Any] = []
    with FifoSink(tmp_path, on_first_sample=lambda: amps[0].is_on) as sink:
        live = voice(cfg, backend="aplay", device=sink.device, clips_dir=tmp_path / "clips")
        clip = tmp_path / "clips" / "zh" / "code_red.wav"
        clip.parent.mkdir(parents=True)
        with wave.open(str(clip), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\x00\x10" * 100_000)
        with assembled(live, clock) as kiosk:
            amps.append(kiosk.devices.amp)
            kiosk.post(CodeRead(CodeVerdict(reason="red", colour="red"), clock.monotonic()))
            kiosk.pump()
            played = sink.wait_for(1)
    assert played[0].snapshot is True                              # amplifier on while it played
    assert played[0].data[:200_000] == b"\xcc\x0c" * 100_000        # 0x1000 at 80 % volume = 0x0ccc


# ---------------------------------------------------------------------- command line

def kiosk_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=120)


@needs_espeak
def test_voice_build_renders_every_message(tmp_path: Path) -> None:
    out = kiosk_cli("voice", "build", "--out", str(tmp_path / "v"), "--language", "zh", "--numbered")
    assert out.returncode == 0, out.stderr
    keys = messages.keys()
    for key in keys:
        with wave.open(str(tmp_path / "v" / "zh" / f"{key}.wav")) as w:
            assert w.getnframes() > w.getframerate() // 4           # at least a quarter second of speech
    assert len(list((tmp_path / "v" / "zh" / "tracks").glob("0*.wav"))) == len(keys)
    assert f"rendered {len(keys)} clips" in out.stdout


@pytest.fixture
def config_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "kiosk.toml"
    path.write_text(f"""
[kiosk]
state_dir = "{tmp_path / 'state'}"
[gpio]
pin_factory = "mock"
mock_journal = "{tmp_path / 'gpio.jsonl'}"
[voice]
backend = "espeak"
device = "file:'{tmp_path / 'out.wav'}',wav"
""")
    yield path


@needs_aplay
@needs_espeak
def test_voice_say_plays_one_message(config_file: Path, tmp_path: Path) -> None:
    out = kiosk_cli("voice", "say", "temp_normal_pass", "--config", str(config_file))
    assert out.returncode == 0, out.stderr
    assert "体温正常" in out.stdout
    with wave.open(str(tmp_path / "out.wav")) as w:
        assert w.getnframes() > 0
    journal = (tmp_path / "gpio.jsonl").read_text().splitlines()
    assert [line.split('"state": ')[1].rstrip("}") for line in journal] == ["0", "1", "0"]   # amp off/on/off


@needs_aplay
def test_voice_say_errors_are_one_line(config_file: Path) -> None:
    out = kiosk_cli("voice", "say", "no_such_key", "--config", str(config_file))
    assert out.returncode == 1 and "unknown message key 'no_such_key'" in out.stderr
    out = kiosk_cli("voice", "say", "code_red", "--config", str(config_file), "--device", "hw:CARD=NoSuchCard")
    assert out.returncode == 1 and "NoSuchCard" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_an_announcer_remembers_only_its_recent_announcements() -> None:
    # ``said`` grew by a couple of keys every pass for as long as the kiosk ran (issue 17).
    a = LogAnnouncer("en")
    k = sorted(messages.keys())[:2]
    keys = k * (5 * SAID_KEPT) + k[:1]
    for key in keys:
        a.announce(key)
    assert SAID_KEPT <= len(a.said) <= 2 * SAID_KEPT
    assert a.said == keys[-len(a.said):]


def test_an_utterance_is_made_once_per_message(tmp_path: Path) -> None:
    """The same Utterance (and clip Path) for every announcement of a message: a Path built per
    announcement interned its file name afresh each time (pathlib), which made CPython's table of
    interned strings grow (issue 17)."""
    first = utterance("please_measure", "zh", tmp_path)
    assert utterance("please_measure", "zh", tmp_path) is first
    assert first.clip == tmp_path / "zh" / "please_measure.wav"
    assert utterance("please_measure", "en", tmp_path) is not first
