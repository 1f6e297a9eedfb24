"""`kiosk voice build [--out DIR]` renders every message into WAV clips with espeak-ng;
`kiosk voice say KEY` plays one through the configured backend (technicians, set-up).

Clips are written at full scale as ``<DIR>/<language>/<key>.wav`` (the volume is applied when
playing). ``--numbered`` also writes ``<DIR>/<language>/tracks/00001.wav`` … by track number,
the file names a GPIO-triggered voice module plays from its SD card or flash.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from drivers.errors import DriverError
from drivers.gpio import AmpEnable, close_factory, make_pin_factory
from drivers.voice.alsa import render, scale_wav
from kiosk import config as config_mod
from kiosk.config import Config
from kiosk.devices import messages, voice
from kiosk.devices.voice import ESPEAK_VOICES, VoiceAnnouncer, clip_path
from kiosk.durable import write_atomic
from kiosk.errors import VoiceError
from kiosk.i18n import _
from kiosk.service import logs

SAY_TIMEOUT_S = 60.0



def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="render every message into WAV clips with espeak-ng")
    b.add_argument("--out", help="output directory (default: [voice] clips_dir, else <state_dir>/voice)")
    b.add_argument("--language", choices=(*messages.LANGUAGES, "all"), default="all",
                   help="which language(s) to render (default: all)")
    b.add_argument("--numbered", action="store_true",
                   help="also write tracks/00001.wav … for a GPIO-triggered voice module")
    b.add_argument("--config", help="config file (only needed without --out)")
    s = sub.add_parser("say", help="say one message through the configured backend")
    s.add_argument("key", metavar="KEY", help="message key from the catalogue, e.g. temp_normal_pass")
    s.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    s.add_argument("--device", help="ALSA device for this once, instead of [voice] device")


def run(args: argparse.Namespace) -> int:
    logs.setup(level=logging.WARNING)
    if args.action == "build":
        return build(args)
    return say(args)


# ---------------------------------------------------------------------- build

def build(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else config_mod.load(args.config).clips_dir
    languages = messages.LANGUAGES if args.language == "all" else (args.language,)
    count = 0
    for lang in languages:
        (out / lang).mkdir(parents=True, exist_ok=True)
        if args.numbered:
            (out / lang / "tracks").mkdir(exist_ok=True)
        for key in messages.keys():
            try:
                wav = scale_wav(render(messages.text(key, lang), ESPEAK_VOICES[lang]), 100, source="espeak-ng")
            except DriverError as exc:
                raise VoiceError(_("cannot render {clip}: {error}").format(clip=f"{lang}/{key}", error=exc)) from None
            target = clip_path(out, lang, key)
            write_atomic(target, wav)
            if args.numbered:
                shutil.copyfile(target, out / lang / "tracks" / f"{messages.track(key):05d}.wav")
            count += 1
    print(_("rendered {count} clips ({languages}) into {out}").format(
        count=count, languages=", ".join(languages), out=out))
    return 0


# ---------------------------------------------------------------------- say

def say(args: argparse.Namespace) -> int:
    logging.getLogger("drivers.voice.player").setLevel(logging.CRITICAL)   # its error is reported below, once
    cfg = config_mod.load(args.config)
    if args.key not in messages.catalogue():
        raise VoiceError(_("unknown message key {key!r} (known: {known})").format(
            key=args.key, known=", ".join(messages.keys())))
    if args.device:
        cfg = cfg.replace(voice=_replace(cfg.voice, device=args.device))
    if cfg.voice.backend == "none":
        print(_("voice.backend is 'none': {text}").format(text=messages.text(args.key, cfg.kiosk.language)))
        return 0
    if cfg.voice.mute:
        print(_("voice.mute is on: nothing said"))
        return 0
    factory = make_pin_factory(cfg.gpio.pin_factory, cfg.gpio.mock_journal)
    amp: AmpEnable | None = None
    try:
        if cfg.voice.backend != "gpio-voice":
            amp = _claim_amp(cfg, factory)
        announcer = voice.start(cfg, amp=amp, pin_factory=factory)
        assert isinstance(announcer, VoiceAnnouncer)
        try:
            announcer.announce(args.key)
            if not announcer.wait_idle(SAY_TIMEOUT_S):
                raise VoiceError(_("{key} did not finish within {seconds:.0f} s").format(
                    key=args.key, seconds=SAY_TIMEOUT_S))
            error = announcer.player.last_error
        finally:
            announcer.close()
    finally:
        if amp is not None:
            amp.close()
        close_factory(factory)
    if error:
        raise VoiceError(error)
    print(_("said {key} ({backend}): {text}").format(
        key=args.key, backend=cfg.voice.backend, text=messages.text(args.key, cfg.kiosk.language)))
    return 0


def _claim_amp(cfg: Config, factory: object) -> AmpEnable:
    try:
        return AmpEnable(cfg.gpio.amp_enable_pin, pin_factory=factory)
    except DriverError:
        raise
    except Exception as exc:  # noqa: BLE001 - lgpio: "GPIO busy" while the kiosk service holds the pin
        raise VoiceError(_("cannot claim the amplifier pin GPIO{pin} ({error}); "
                           "is the kiosk service running? Stop it first").format(
            pin=cfg.gpio.amp_enable_pin, error=exc)) from None


def _replace(section: object, **kw: object) -> object:
    import dataclasses
    return dataclasses.replace(section, **kw)  # type: ignore[type-var]
