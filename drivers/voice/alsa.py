"""The loudspeaker on an ALSA device: WAV clips played with ``aplay``, espeak-ng for the rest.

Each utterance is turned into WAV bytes — the pre-rendered clip if there is one (backend
``aplay``), otherwise espeak-ng's rendering of the text (backend ``espeak``, and the fallback
for a missing clip) — scaled to the configured volume, and piped into
``aplay -q -D <device> -t wav -``. The amplifier-enable pin goes on just before aplay starts
and off as soon as it exits, so the speaker does not hum between passes.

Software volume (sample scaling) works on every ALSA device, unlike mixer control names,
which differ between a USB dongle, the Pi's headphone jack and an I2S amplifier HAT.
Rendered audio is cached, so only the first use of a message pays for reading or rendering it.

Without a sound card, ``-D null`` discards the samples and ``-D file:'/path',raw`` writes them
to a file or FIFO (ALSA's file plugin) — real aplay runs, which is what tests and the
benchmark use.
"""

from __future__ import annotations

import array
import io
import logging
import subprocess
import sys
import threading
import wave
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

from drivers.errors import DeviceConfigError, DeviceUnavailable, SpeechUnavailable
from drivers.voice.player import Utterance

log = logging.getLogger("drivers.voice.alsa")

RENDER_TIMEOUT_S = 10.0
PLAY_MARGIN_S = 5.0          # aplay may take this much longer than the clip before it counts as hung
CACHE_SIZE = 96              # every catalogue message in both languages, with room to spare


class Switch(Protocol):
    """The amplifier enable (drivers.gpio.AmpEnable)."""

    def on(self) -> None: ...

    def off(self) -> None: ...


class AlsaSpeaker:
    """Plays utterances through aplay; a :class:`~drivers.voice.player.Backend`.

    :param device: ALSA PCM name for ``aplay -D``.
    :param prefer_clips: play ``utterance.clip`` when it exists (backend ``aplay``); if False,
        always speak the text with espeak-ng (backend ``espeak``).
    :param volume: 0–100, percent of full-scale amplitude.
    :param amp: amplifier enable, switched around each playback (None: no amplifier pin).
    :param aplay, espeak: the commands to run (tests may point them at recording stand-ins).
    """

    def __init__(self, *, device: str = "default", prefer_clips: bool = True, volume: int = 100,
                 amp: Switch | None = None, aplay: str = "aplay", espeak: str = "espeak-ng",
                 buffer_ms: int | None = None) -> None:
        if not 0 <= volume <= 100:
            raise DeviceConfigError(f"volume {volume} is outside 0–100")
        self.device, self.prefer_clips, self.volume = device, prefer_clips, volume
        self.buffer_ms = buffer_ms      # aplay -B: what a cut may still let through (None: aplay's own, ≤ 500 ms)
        self.amp = amp
        self.aplay_cmd, self.espeak_cmd = aplay, espeak
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._proc_cancelled: threading.Event | None = None    # the cancel flag of _proc's utterance
        self._cache: OrderedDict[tuple[str, ...], bytes] = OrderedDict()
        self._warned: set[Path] = set()

    # ------------------------------------------------------------------ audio

    def audio(self, utterance: Utterance) -> bytes:
        """WAV bytes for ``utterance`` at its own volume or the configured one (cached)."""
        volume = self.volume if utterance.volume is None else utterance.volume
        clip = utterance.clip
        if self.prefer_clips and clip is not None:
            key: tuple[str, ...] = ("clip", str(clip), str(volume))
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            try:
                data = clip.read_bytes()
            except OSError as exc:
                if clip not in self._warned:
                    self._warned.add(clip)
                    log.warning("clip %s cannot be read (%s); speaking %s with espeak-ng instead "
                                "(run `kiosk voice build`)", clip, exc.strerror or exc, utterance.name)
            else:
                return self._remember(key, scale_wav(data, volume, source=str(clip)))
        key = ("tts", utterance.voice, utterance.text, str(volume))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        data = render(utterance.text, utterance.voice, espeak=self.espeak_cmd)
        return self._remember(key, scale_wav(data, volume, source="espeak-ng"))

    def _remember(self, key: tuple[str, ...], data: bytes) -> bytes:
        self._cache[key] = data
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return data

    # ------------------------------------------------------------------ playback

    def play(self, utterance: Utterance, cancelled: threading.Event) -> None:
        try:
            data = self.audio(utterance)
        except SpeechUnavailable as exc:
            if self.prefer_clips:
                raise
            raise DeviceUnavailable(f"espeak-ng cannot speak: {exc}") from None
        if cancelled.is_set():
            return
        if self.amp is not None:
            self.amp.on()
        try:
            self._aplay(data, cancelled)
        finally:
            if self.amp is not None:
                self.amp.off()

    def _aplay(self, data: bytes, cancelled: threading.Event) -> None:
        argv = [self.aplay_cmd, "-q", "-D", self.device, "-t", "wav", "-"]
        if self.buffer_ms is not None:
            argv[1:1] = [f"--buffer-time={self.buffer_ms * 1000}"]
        with self._lock:
            if cancelled.is_set():
                return
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
            except FileNotFoundError:
                raise DeviceUnavailable(f"{self.aplay_cmd} is not installed (Debian package alsa-utils)") from None
            self._proc, self._proc_cancelled = proc, cancelled
        try:
            _, err = proc.communicate(data, timeout=wav_seconds(data) + PLAY_MARGIN_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise DeviceUnavailable(f"aplay on ALSA device {self.device!r} hung") from None
        finally:
            with self._lock:
                self._proc, self._proc_cancelled = None, None
        if proc.returncode != 0 and not cancelled.is_set():
            raise DeviceUnavailable(f"ALSA device {self.device!r} cannot play: {_last_line(err)}")

    def interrupt(self) -> None:
        """Stop the playing clip if its utterance was cancelled (never a newer one that just started)."""
        with self._lock:
            proc, cancelled = self._proc, self._proc_cancelled
            if proc is not None and cancelled is not None and cancelled.is_set() and proc.poll() is None:
                proc.terminate()

    def close(self) -> None:
        self.interrupt()

    def __enter__(self) -> AlsaSpeaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------- helpers

def render(text: str, voice: str, *, espeak: str = "espeak-ng") -> bytes:
    """Speak ``text`` with espeak-ng into WAV bytes (text on stdin, so it is never an option)."""
    try:
        out = subprocess.run([espeak, "-v", voice, "--stdout"], input=text.encode("utf-8"),
                             capture_output=True, timeout=RENDER_TIMEOUT_S)
    except FileNotFoundError:
        raise SpeechUnavailable(f"{espeak} is not installed (Debian package espeak-ng)") from None
    except subprocess.TimeoutExpired:
        raise SpeechUnavailable(f"{espeak} took longer than {RENDER_TIMEOUT_S:.0f} s") from None
    if out.returncode != 0 or not out.stdout:
        raise SpeechUnavailable(f"{espeak} -v {voice} failed: {_last_line(out.stderr)}")
    return out.stdout


def scale_wav(data: bytes, volume: int, *, source: str = "clip") -> bytes:
    """Return a well-formed WAV of ``data`` with 16-bit samples scaled to ``volume`` percent.

    espeak-ng's ``--stdout`` header claims ~2 GiB of data (it streams); rewriting the header
    with the real length lets aplay and :func:`wav_seconds` trust it.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            params = w.getparams()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SpeechUnavailable(f"{source} is not a PCM WAV file: {exc}") from None
    if params.sampwidth == 2 and volume != 100:
        samples = array.array("h")
        samples.frombytes(frames[: len(frames) // 2 * 2])
        if sys.byteorder == "big":
            samples.byteswap()
        gain = volume / 100.0
        samples = array.array("h", (int(s * gain) for s in samples))
        if sys.byteorder == "big":
            samples.byteswap()
        frames = samples.tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(params.nchannels)
        w.setsampwidth(params.sampwidth)
        w.setframerate(params.framerate)
        w.writeframes(frames)
    return out.getvalue()


def wav_seconds(data: bytes) -> float:
    """Duration of a well-formed WAV (0.0 if it cannot be read)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            return w.getnframes() / float(w.getframerate() or 1)
    except (wave.Error, EOFError):
        return 0.0


def _last_line(err: bytes | None) -> str:
    lines = [ln.strip() for ln in (err or b"").decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines:
        return "no error message"
    last = lines[-1]
    return last.split(": ", 2)[-1] if last.startswith("aplay:") else last
