"""Benchmark: a resident cuts a publicity notice — how fast, and what it costs the gate.

The real voice path (espeak-ng → aplay → ALSA's file plugin) into a FIFO drained at the sample
rate like a sound card, the pipe shrunk to ``--buffer-ms`` so it plays the card's buffer
(hardware_mocks/audio.py). For each trial a long notice starts through the publicity rounds'
path (Player.say_if_idle); once it is audible a resident's announcement arrives (Player.say,
what the flow's Announce does) and we time:

- ``say``: the call the kiosk loop makes — what the gate waits for (target: far under 1 ms);
- ``cut``: from that call until the notice's aplay has exited (nothing more of it is written).
  aplay ends at once on SIGTERM, but ALSA's file plugin writes out what aplay had already
  buffered (a card drops it), so here the cut is bounded by one aplay buffer (``--aplay-buffer-ms``,
  ``[voice] buffer_ms``; aplay's own default is at most 500 ms) plus the card's (``--buffer-ms``);
- ``next``: until the resident's own aplay is running (its clip rendered and started).

    .venv/bin/python bench/publicity.py [--trials N] [--buffer-ms MS]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from drivers.voice.alsa import AlsaSpeaker
from drivers.voice.player import Player, Utterance
from hardware_mocks.audio import FifoSink

BPS = 22050 * 2        # espeak-ng's Mandarin voice: 22,050 Hz, mono, 16-bit
APLAY_DEFAULT_MS = 500      # aplay caps its default buffer at 500 ms (alsa-utils aplay/aplay.c, set_params)
NOTICE = "请佩戴口罩，保持一米距离，勤洗手，常通风。进出小区请主动出示健康码，配合测量体温。"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--buffer-ms", type=float, default=93.0, help="the card's buffer (default: one 4 KiB page)")
    ap.add_argument("--aplay-buffer-ms", type=int, default=None,
                    help="aplay --buffer-time, as [voice] buffer_ms (default: aplay's own, at most 500 ms)")
    args = ap.parse_args()
    pipe = max(4096, int(BPS * args.buffer_ms / 1000) // 4096 * 4096)
    buffer_ms = pipe / BPS * 1000
    aplay_ms = float(args.aplay_buffer_ms or APLAY_DEFAULT_MS)
    say_us: list[float] = []
    cut_ms: list[float] = []
    next_ms: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        with FifoSink(Path(tmp), paced_bps=BPS, pipe_bytes=pipe) as sink:
            speaker = AlsaSpeaker(device=sink.device, prefer_clips=False, buffer_ms=args.aplay_buffer_ms)
            player = Player(speaker)
            ended: dict[str, float] = {}
            done = threading.Condition()

            def finished(name: str, outcome: str) -> None:
                with done:
                    ended[name] = time.perf_counter()
                    done.notify_all()

            player.finished = finished
            resident = Utterance("measuring", "请测量体温", "cmn")
            speaker.audio(resident)                 # rendered once, as the kiosk's clips are
            for trial in range(args.trials):
                ended.clear()
                assert player.say_if_idle(Utterance(f"notice:{trial}", NOTICE, "cmn", volume=70))
                deadline = time.perf_counter() + 30
                while speaker._proc is None or player.current != f"notice:{trial}":   # its aplay is writing
                    if time.perf_counter() > deadline:
                        print("the notice never started", file=sys.stderr)
                        return 1
                    time.sleep(0.001)
                time.sleep(0.2 + 0.3 * (trial % 5) / 5)      # cut at varying points of the notice
                t0 = time.perf_counter()
                player.say(resident)
                say_us.append((time.perf_counter() - t0) * 1e6)
                name = f"notice:{trial}"

                def cut_done(name: str = name) -> bool:
                    return name in ended

                with done:
                    if not done.wait_for(cut_done, 10):
                        print("the notice was not cut", file=sys.stderr)
                        return 1
                cut_ms.append((ended[name] - t0) * 1000)
                deadline = time.perf_counter() + 10
                while player.current == "measuring" and speaker._proc is None and time.perf_counter() < deadline:
                    time.sleep(0.0005)
                next_ms.append((time.perf_counter() - t0) * 1000)
                player.wait_idle(30)
            player.close()
    bound = aplay_ms + buffer_ms
    print(f"publicity cut, {args.trials} trials, aplay buffer {aplay_ms:.0f} ms, card buffer {buffer_ms:.0f} ms "
          f"({pipe} bytes at {BPS} B/s)")
    print(f"  say() in the kiosk loop:      p50 {statistics.median(say_us):7.1f} µs   p95 {pct(say_us, .95):7.1f} µs   "
          f"max {max(say_us):7.1f} µs")
    print(f"  notice's aplay gone after:    p50 {statistics.median(cut_ms):7.1f} ms   p95 {pct(cut_ms, .95):7.1f} ms   "
          f"max {max(cut_ms):7.1f} ms   (within one aplay + card buffer, {bound:.0f} ms: "
          f"{sum(c <= bound for c in cut_ms)}/{len(cut_ms)})")
    print(f"  resident's aplay running:     p50 {statistics.median(next_ms):7.1f} ms   "
          f"p95 {pct(next_ms, .95):7.1f} ms   max {max(next_ms):7.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
