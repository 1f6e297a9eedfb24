"""QR decode benchmark on real photographs (not a test): plain pyzbar, each engine alone, the kiosk.

    .venv/bin/python bench/decode_photos.py --photos DIR [--manifest DIR/manifest.csv]
    .venv/bin/python bench/decode.py --photos DIR      # this table, then the rendered scenes

The photos are not in the repository (attribution, benchmarking use): point ``--photos`` at a
folder with a ``manifest.csv`` of ``file, source, category, expected_json`` rows (an empty list
for photos without a code). Every labelled photo is also decoded as a dark-mode copy (its
inverse: a light code on a dark screen), and a few non-QR symbols (EAN-13, Code 128,
DataMatrix, PDF417, Aztec, Micro QR, rendered by zxing-cpp's writer on a phone-screen
background) join the photos without a code: any payload from those is a false positive.

For each decoder, one core (the process pins itself to CPU 0 and OpenCV to one thread), the
decoders interleaved image by image so load from elsewhere falls on all alike:

- still image: read % per kind (real and dark), false positives, median / p95 ms per image and
  the median / p95 cost of an image that was not read (``kiosk decode``: every step);
- camera frame: the photo fitted into a 1280×720 frame and shown to the camera path for up to
  15 frames (1 s at 15 fps): read on the first frame, read within the second, median / p95 ms
  per frame, and the cost of a frame that read nothing (the per-frame budget holds it down).

"unexpected" counts payloads on labelled photos that are not in the label (a second code the
label missed, or a misread): reported, not counted as false positives.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.camera import engines
from drivers.camera.qr import QrDecoder

FRAME = (1280, 720)
HELD_FRAMES = 15


@dataclass
class Photo:
    file: str
    kind: str
    gray: np.ndarray
    expected: frozenset[bytes]
    dark: bool = False


@dataclass
class Tally:
    read: Counter[str] = field(default_factory=Counter)
    first: Counter[str] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)
    n: Counter[str] = field(default_factory=Counter)
    false_pos: int = 0
    unexpected: int = 0
    ms: list[float] = field(default_factory=list)
    ms_failed: list[float] = field(default_factory=list)
    frame_ms: list[float] = field(default_factory=list)
    frame_failed_ms: list[float] = field(default_factory=list)


def load(photos: Path, manifest: Path) -> list[Photo]:
    out = []
    with manifest.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            gray = cv2.imread(str(photos / row["file"]), cv2.IMREAD_GRAYSCALE)
            if gray is None:
                print(f"skipped {row['file']}: not readable", file=sys.stderr)
                continue
            expected = frozenset(p.encode() for p in json.loads(row["expected_json"] or "[]"))
            kind = row["category"] if expected else "no code"
            out.append(Photo(row["file"], kind, gray, expected))
            if expected:
                out.append(Photo(row["file"], kind, cv2.bitwise_not(gray), expected, dark=True))
    return out


def other_symbologies() -> list[Photo]:
    """Non-QR codes on a lit phone screen: any payload read from these is a false positive."""
    import zxingcpp  # type: ignore[import-not-found,unused-ignore]

    out = []
    fmt = zxingcpp.BarcodeFormat
    for name in ("EAN13", "Code128", "DataMatrix", "PDF417", "Aztec", "MicroQRCode"):
        text = "4006381333931" if name == "EAN13" else ("HELLO" if name == "MicroQRCode" else "GK1:NOT-A-QR-CODE-12345")
        symbol = np.array(zxingcpp.create_barcode(text, getattr(fmt, name)).to_image(scale=6))
        frame = np.full((720, 1280), 40, np.uint8)
        screen = np.full((600, 420), 235, np.uint8)
        s = min(380 / symbol.shape[1], 380 / symbol.shape[0])
        sym = cv2.resize(symbol, None, fx=s, fy=s, interpolation=cv2.INTER_NEAREST)
        y, x = (600 - sym.shape[0]) // 2, (420 - sym.shape[1]) // 2
        screen[y:y + sym.shape[0], x:x + sym.shape[1]] = sym
        frame[60:660, 430:850] = screen
        out.append(Photo(f"<{name}>", "no code", cv2.GaussianBlur(frame, (3, 3), 0), frozenset()))
    return out


def fit(gray: np.ndarray) -> np.ndarray:
    """The photo as a 1280×720 camera frame: scaled to fit, on a grey surround."""
    w, h = FRAME
    s = min(w / gray.shape[1], h / gray.shape[0])
    img = cv2.resize(gray, (max(1, round(gray.shape[1] * s)), max(1, round(gray.shape[0] * s))),
                     interpolation=cv2.INTER_AREA)
    frame = np.full((h, w), 110, np.uint8)
    y, x = (h - img.shape[0]) // 2, (w - img.shape[1]) // 2
    frame[y:y + img.shape[0], x:x + img.shape[1]] = img
    return frame


Still = Callable[[np.ndarray], list[bytes]]
Camera = Callable[[], Callable[[np.ndarray], list[bytes]]]


def decoders(only: list[str] | None) -> dict[str, tuple[Still, Camera]]:
    """name → (decode a still image, a fresh per-resident camera-path decode)."""
    from pyzbar.pyzbar import ZBarSymbol
    from pyzbar.pyzbar import decode as pyzbar_decode

    def plain(g: np.ndarray) -> list[bytes]:
        return [d.data for d in pyzbar_decode(g, symbols=[ZBarSymbol.QRCODE])]

    out: dict[str, tuple[Still, Camera]] = {"plain pyzbar": (plain, lambda: plain)}
    for name in engines.available():
        engine = engines.make(name)
        alone: Still = (lambda e: lambda g: [s.data for s in e.read(g)])(engine)
        out[f"{name} alone"] = (alone, (lambda f: lambda: f)(alone))
    still, camera = QrDecoder(), QrDecoder()   # one each for the run, as on the kiosk: costs stay learned

    def fresh() -> Callable[[np.ndarray], list[bytes]]:
        camera.forget()
        return lambda frame: camera.decode(frame).payloads

    out["kiosk cascade"] = (lambda g: still.decode_still(g).payloads, fresh)
    return {k: v for k, v in out.items() if not only or k in only}


def run(photos: list[Photo], decs: dict[str, tuple[Still, Camera]]) -> dict[str, Tally]:
    tallies = {name: Tally() for name in decs}
    names = list(decs)
    for i, photo in enumerate(photos):
        frame = fit(photo.gray)
        group = "dark" if photo.dark else "real"
        for name in names[i % len(names):] + names[:i % len(names)]:
            t, (still, camera) = tallies[name], decs[name]
            t0 = time.perf_counter()
            got = set(still(photo.gray))
            ms = (time.perf_counter() - t0) * 1000
            t.ms.append(ms)
            if not photo.expected:
                t.false_pos += len(got)
                t.n["negatives"] += 1
                continue
            t.unexpected += len(got - photo.expected)
            ok = bool(got & photo.expected)
            t.n[group] += 1
            t.n[f"{group}:{photo.kind}"] += 1
            t.read[group] += ok
            t.read[f"{group}:{photo.kind}"] += ok
            if not ok:
                t.ms_failed.append(ms)
            decode = camera()
            for k in range(HELD_FRAMES):
                t0 = time.perf_counter()
                hit = bool(set(decode(frame)) & photo.expected)
                fms = (time.perf_counter() - t0) * 1000
                t.frame_ms.append(fms)
                if not hit:
                    t.frame_failed_ms.append(fms)
                    continue
                t.first[group] += k == 0
                t.held[group] += 1
                break
        if not photo.expected:      # the camera path on frames without a code
            for name in names:
                decode = decs[name][1]()
                tallies[name].false_pos += sum(len(decode(frame)) for _ in range(3))
    return tallies


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, round(p / 100 * (len(v) - 1)))]


def report(tallies: dict[str, Tally], photos: list[Photo]) -> None:
    kinds = sorted({p.kind for p in photos if p.expected})
    names = list(tallies)
    w = max(14, *(len(n) for n in names))
    print("\nstill images (`kiosk decode`: every step until one reads), read % per kind, real / dark:")
    print(f"  {'kind':<14} {'n':>4} " + " ".join(f"{n:>{w}}" for n in names))
    for kind in kinds:
        n = tallies[names[0]].n[f"real:{kind}"]
        cells = []
        for name in names:
            t = tallies[name]
            r, d = t.read[f"real:{kind}"], t.read[f"dark:{kind}"]
            cells.append(f"{100 * r / n:5.1f} / {100 * d / n:5.1f}".rjust(w))
        print(f"  {kind:<14} {n:>4} " + " ".join(cells))
    print(f"  {'ALL':<14} {tallies[names[0]].n['real']:>4} " + " ".join(
        f"{100 * t.read['real'] / t.n['real']:5.1f} / {100 * t.read['dark'] / t.n['dark']:5.1f}".rjust(w)
        for t in tallies.values()))
    print(f"\n  {'decoder':<{w}} {'false pos':>9} {'unexpected':>10} {'med ms':>7} {'p95 ms':>7} "
          f"{'fail med':>8} {'fail p95':>8}   camera frame: {'1st':>5} {'≤1 s':>5} {'med ms':>6} {'p95 ms':>6} "
          f"{'fail med':>8} {'fail p95':>8}")
    for name, t in tallies.items():
        labelled = t.n["real"] + t.n["dark"]
        print(f"  {name:<{w}} {t.false_pos:>9} {t.unexpected:>10} {statistics.median(t.ms):7.1f} {pct(t.ms, 95):7.1f} "
              f"{pct(t.ms_failed, 50):8.1f} {pct(t.ms_failed, 95):8.1f}   "
              f"{'':>13} {100 * sum(t.first.values()) / labelled:4.1f}% {100 * sum(t.held.values()) / labelled:4.1f}% "
              f"{statistics.median(t.frame_ms):6.1f} {pct(t.frame_ms, 95):6.1f} "
              f"{pct(t.frame_failed_ms, 50):8.1f} {pct(t.frame_failed_ms, 95):8.1f}")
    if "kiosk cascade" in tallies and "plain pyzbar" in tallies:
        k, p = tallies["kiosk cascade"], tallies["plain pyzbar"]
        print(f"\n  kiosk / plain pyzbar, median ms: {statistics.median(k.ms) / statistics.median(p.ms):.2f}× per "
              f"image, {statistics.median(k.frame_ms) / statistics.median(p.frame_ms):.2f}× per camera frame; "
              f"summed over the run {sum(k.ms) / sum(p.ms):.2f}×")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--photos", type=Path, help="folder of real photographs (with manifest.csv)")
    p.add_argument("--manifest", type=Path, help="manifest CSV (default PHOTOS/manifest.csv)")
    p.add_argument("--decoders", help="comma-separated decoders (default: all)")
    p.add_argument("--cpu", type=int, default=0, help="pin to this CPU (default 0; -1: do not pin)")


def photos_table(args: argparse.Namespace) -> int:
    """The real-photo table; 2 (and one line saying why) when the set is absent."""
    if args.photos is None:
        print("real photographs: none given (--photos DIR with a manifest.csv); the set is not in the repository")
        return 2
    manifest = args.manifest or args.photos / "manifest.csv"
    if not args.photos.is_dir() or not manifest.is_file():
        print(f"real photographs: {args.photos} has no photos or no {manifest.name}; nothing measured")
        return 2
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    cv2.setNumThreads(1)
    photos = load(args.photos, manifest) + (other_symbologies() if "zxing" in engines.available() else [])
    labelled = sum(1 for p in photos if p.expected and not p.dark)
    print(f"real photographs: {labelled} with codes in {len({p.kind for p in photos if p.expected})} kinds "
          f"(+ {labelled} dark-mode copies), {sum(1 for p in photos if not p.expected)} without a QR code "
          f"(of which {sum(1 for p in photos if p.file.startswith('<'))} other symbologies), "
          f"from {manifest}; one core (CPU {args.cpu}), engines: {', '.join(engines.available())}")
    tallies = run(photos, decoders(args.decoders.split(",") if args.decoders else None))
    report(tallies, photos)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return photos_table(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
