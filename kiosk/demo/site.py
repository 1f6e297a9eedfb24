"""The stand-in site: everything a stand-in config points at, so `kiosk run` works on a laptop.

``python -m hardware_mocks.standin [--config config/standin.toml] [--crowd] [--seed S]`` brings up,
from the config alone:

- the thermometer module (:class:`hardware_mocks.thermometer.PtyThermometer`) on a pseudo-terminal
  linked at ``[thermometer] port``;
- the synthetic camera's clip at ``[camera] source`` (an image sequence or an ``.avi``), which
  the kiosk plays in a loop through the real ``cv2.VideoCapture``: the empty gate, and with
  ``--crowd`` each resident's code on paper while they are at the gate;
- throwaway trust material (:class:`kiosk.codes.drill.Drill`): the root public key at
  ``[codes] root_key``, the signed bundle at ``[codes] bundle`` (default
  ``<state_dir>/bundle.cbor``);
- the street server (:class:`street.server.StreetServer`) on ``[sync] server_url`` (127.0.0.1
  only), with this kiosk registered, its secret in ``[sync] secret_file`` (0600) and the drill
  bundle published, so `kiosk sync` uploads and fetches like at a real street office.

The site's own state (street database, drill keys) lives beside the kiosk's state directory in
``<state_dir>-site/``, so records uploaded in one session are still on the server in the next.
The drill keys are new on every start (they are throwaway): the kiosk's copy of the last good
bundle, signed under the old root, is removed with them.

The volunteers' panel: type ``p``, ``d``, ``r`` or ``e`` (pass, deny, re-measure, emergency) and
Enter in the site's terminal, and the running kiosk's button is pressed (:class:`PanelKeys`).

With ``--crowd`` residents keep coming, one every ``--period`` seconds: a distinct paper code
(valid 30 days, so a code shown while the kiosk restarts is still good; each shown once) is
held up to the camera, then a forehead of normal temperature to the thermometer, then the
resident walks on. A running `kiosk run` makes a steady stream of passes from it — the stream
the crash test (tests/faults/test_crash.py) kills the kiosk across.

This launcher sits above everything else, so unlike the other stand-ins it imports ``kiosk``
and ``sync`` (config, drill, server); nothing in production imports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import random
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, cast
from urllib.parse import urlsplit

import cv2
import numpy as np

from hardware_mocks.camera import CATEGORIES, FRAME_SIZE, render, render_scene
from hardware_mocks.thermometer import PtyThermometer
from kiosk import config as config_mod
from kiosk.codes.drill import Drill
from kiosk.config import Config
from kiosk.core.measure import object_for_body
from kiosk.devices.calibration import offset_c
from kiosk.devices.thermometer import port_of
from kiosk.durable import write_atomic
from kiosk.errors import ConfigError, KioskError
from kiosk.service import control
from kiosk.statefiles import control_path
from street.office.accounts import Accounts
from street.server import StreetServer
from sync.protocol import parse_secret

OFFICE_USER = "office"       # the stand-in street office's account (a district account)

log = logging.getLogger("standin")
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "standin.toml"
FRAMES = 3                       # frames per scene: the kiosk loops over them
FRAME_SIZE_STANDIN = (960, 540)  # smaller than the default mode: cheaper to render, write and scan
LOOPBACK = ("127.0.0.1", "localhost")


def site_dir(cfg: Config) -> Path:
    """Where the site keeps its own state: beside the kiosk's state dir, never inside it."""
    state = cfg.kiosk.state_dir
    return state.parent / f"{state.name}-site"


# --------------------------------------------------------------------------- the camera's clip

class ClipWriter:
    """The camera clip at ``[camera] source``, rewritten in place as people come and go.

    Each frame file (or the whole ``.avi``) is replaced atomically, so the kiosk's
    ``VideoCapture`` reads either the old scene or the new one, never half a file.
    """

    def __init__(self, source: str, size: tuple[int, int] = FRAME_SIZE_STANDIN, seed: int = 1,
                 frames: int = FRAMES, fps: float = 15.0) -> None:
        self.source, self.size, self.frames, self.fps = source, size, frames, fps
        self.rng = random.Random(seed)
        self._gate = [render_scene(random.Random(seed), size, sensor=random.Random(seed + i)) for i in range(frames)]
        if "%" in source:
            if len(re.findall(r"%0?\d*d", source)) != 1 or source.count("%") > 1:
                raise ConfigError(f"camera.source = {source!r}: an image sequence needs one %d field")
            self.kind = "sequence"
        elif source.lower().endswith(".avi"):
            self.kind = "video"
        else:
            raise ConfigError(f"camera.source = {source!r}: the stand-in camera writes an image sequence "
                              "(like ../var/standin/camera/frame_%04d.jpg) or an .avi file")
        self.paths = ([Path(source % i) for i in range(frames)] if self.kind == "sequence" else [Path(source)])
        self.scene = "none"
        self._gate_files: list[np.ndarray] | list[bytes] | None = None

    def encode(self, frames: list[np.ndarray]) -> list[np.ndarray] | list[bytes]:
        """``frames`` as the files :meth:`put` writes, encoded now (a pass driver encodes the next
        resident's frames ahead, so showing them costs a file write, not a JPEG encode); a video
        clip is written whole by :meth:`put` and keeps its frames."""
        if self.kind == "video":
            return frames
        out = []
        for path, frame in zip(self.paths, frames, strict=True):
            suffix = path.suffix.lower()
            params = [cv2.IMWRITE_JPEG_QUALITY, 90] if suffix in (".jpg", ".jpeg") else [cv2.IMWRITE_PNG_COMPRESSION, 1]
            ok, buf = cv2.imencode(suffix, frame, params)
            if not ok:
                raise OSError(f"cannot encode camera frame for {path}")
            out.append(buf.tobytes())
        return out

    def _write(self, shown: list[np.ndarray] | list[bytes]) -> None:
        self.paths[0].parent.mkdir(parents=True, exist_ok=True)
        if shown and isinstance(shown[0], bytes):
            self._write_files(shown)
            return
        frames = cast("list[np.ndarray]", shown)
        if self.kind == "video":
            path = self.paths[0]
            tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
            h, w = frames[0].shape[:2]
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"MJPG"), self.fps, (w, h))
            try:
                for f in frames:
                    writer.write(f)
            finally:
                writer.release()
            os.replace(tmp, path)
            return
        self._write_files(cast("list[bytes]", self.encode(frames)))

    def _write_files(self, files: list[bytes]) -> None:
        for path, blob in zip(self.paths, files, strict=True):
            tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
            try:
                tmp.write_bytes(blob)
            except OSError as exc:
                raise OSError(f"cannot write camera frame {tmp}: {exc.strerror}") from None
            os.replace(tmp, path)

    def clear_stale(self) -> None:
        """Remove frames of an earlier clip that this one would not overwrite."""
        if self.kind != "sequence":
            return
        directory = self.paths[0].parent
        if not directory.is_dir():
            return
        shape = re.compile(re.sub(r"%0?\d*d", r"\\d+", re.escape(Path(self.source).name)) + r"\Z")
        keep = {p.name for p in self.paths}
        for p in directory.iterdir():
            if shape.match(p.name) and p.name not in keep:
                p.unlink(missing_ok=True)

    def gate(self) -> None:
        """The empty gate (its files encoded once)."""
        if self._gate_files is None:
            self._gate_files = self.encode(self._gate)
        self._write(self._gate_files)
        self.scene = "gate"

    def render_gate(self, i: int) -> np.ndarray:
        """Frame ``i`` of the empty gate (not a copy: do not draw on it)."""
        return self._gate[i % self.frames]

    def show(self, payload: str) -> None:
        """A resident holding a paper code up (slightly shaking), as the camera sees it."""
        self.put(self.render(payload))

    def render(self, payload: str) -> list[np.ndarray]:
        """The frames of :meth:`show`, not written yet (a pass driver renders the next resident
        while the kiosk is busy with this one)."""
        look = CATEGORIES["clean"](self.rng)
        look = dataclasses.replace(look, medium="paper",
                                   module_px=look.module_px * self.size[0] / FRAME_SIZE[0])
        frames = []
        for _ in range(self.frames):
            jitter = dataclasses.replace(look, rotation_deg=look.rotation_deg + self.rng.uniform(-1.5, 1.5))
            frames.append(render(payload, jitter, random.Random(self.rng.getrandbits(32)), self.size))
        return frames

    def put(self, frames: list[np.ndarray] | list[bytes]) -> None:
        """Show frames from :meth:`render` (or what :meth:`encode` made of them)."""
        self._write(frames)
        self.scene = "code"

    def remove(self) -> None:
        """The camera is unplugged: its clip is gone."""
        for p in self.paths:
            p.unlink(missing_ok=True)
        self.scene = "none"


# --------------------------------------------------------------------------- the crowd

@dataclass
class Crowd:
    """Residents arriving one every ``period_s``: a fresh paper code, then a normal forehead."""

    site: Site
    period_s: float = 3.0
    seed: int = 1
    lead_s: float = 0.3              # the code is up this long before the forehead is
    forehead_s: float | None = None  # how long the forehead stays (default: what the period leaves, ≤ 1.6 s)
    residents: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Crowd:
        if self.forehead_s is None:
            self.forehead_s = min(1.6, max(0.8, self.period_s - self.lead_s - 0.3))
        self._thread = threading.Thread(target=self._run, name="standin-crowd", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        rng = random.Random(self.seed)
        site = self.site
        temp = site.cfg.temperature
        try:                             # what the kiosk adds after `kiosk thermometer calibrate`
            calibration_c = offset_c(site.cfg.calibration_path)
        except (KioskError, OSError, ValueError):
            calibration_c = 0.0
        ambient = 22.0
        next_at = time.monotonic()
        while not self._stop.is_set():
            holder = rng.getrandbits(128).to_bytes(16, "big")
            body = round(rng.uniform(36.2, 36.9), 2)
            try:
                site.camera.show(site.drill.code("paper", holder, time.time()))
                self.residents += 1
                if self._stop.wait(self.lead_s):
                    break
                if site.thermometer is not None:
                    site.thermometer.set_target(object_for_body(body, ambient, temp, calibration_c), ambient,
                                                body_c=body - calibration_c)
                if self._stop.wait(self.forehead_s or 1.6):
                    break
                if site.thermometer is not None:
                    site.thermometer.clear_target(ambient)
                site.camera.gate()         # the resident walks through
            except OSError as exc:         # e.g. the disk under the clip is full: try the next resident
                log.error("stand-in crowd: %s", exc)
            next_at += self.period_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic())


# --------------------------------------------------------------------------- the site

class Site:
    """Everything the stand-in config points at, running; a context manager."""

    def __init__(self, cfg: Config, *, crowd: bool = False, seed: int = 1, period_s: float = 3.0) -> None:
        self.cfg = cfg
        self.seed = seed
        self.dir = site_dir(cfg)
        self.crowd: Crowd | None = Crowd(self, period_s=period_s, seed=seed) if crowd else None
        self.thermometer: PtyThermometer | None = None
        self.camera: ClipWriter
        self.street: StreetServer | None = None
        self.drill: Drill
        self.lines: list[str] = []
        self._check()

    def _check(self) -> None:
        cfg = self.cfg
        if cfg.gpio.pin_factory != "mock":
            raise ConfigError("gpio.pin_factory must be 'mock' on the stand-in site (no GPIO here)")
        if cfg.codes.root_key is None:
            raise ConfigError("codes.root_key is not set: the stand-in site puts its root key there")
        if cfg.sync.secret_file is None:
            raise ConfigError("sync.secret_file is not set: the stand-in site writes the kiosk's secret there")
        url = urlsplit(cfg.sync.server_url)
        if url.scheme != "http" or url.hostname not in LOOPBACK or url.port is None:
            raise ConfigError(f"sync.server_url = {cfg.sync.server_url!r}: the stand-in street server listens "
                              "on http://127.0.0.1:PORT")
        if cfg.thermometer.enabled and "://" in cfg.thermometer.port:
            raise ConfigError(f"thermometer.port = {cfg.thermometer.port!r}: the stand-in module needs a path "
                              "for its pseudo-terminal link")
        if not cfg.camera.enabled:
            raise ConfigError("camera.enabled = false: the stand-in site needs a camera to show codes to")
        self.camera = ClipWriter(cfg.camera.source, seed=self.seed, fps=cfg.camera.fps)

    # ---------------------------------------------------------------- start / stop

    def start(self) -> Site:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        cfg = self.cfg
        self.dir.mkdir(parents=True, exist_ok=True)
        cfg.kiosk.state_dir.mkdir(parents=True, exist_ok=True)
        say = self.lines.append
        say(f"stand-in site for kiosk {cfg.kiosk.id} (config {cfg.source})")

        if cfg.thermometer.enabled:
            link = Path(port_of(cfg))
            link.parent.mkdir(parents=True, exist_ok=True)
            self.thermometer = PtyThermometer(cfg.thermometer.protocol, link=link,
                                              baud=cfg.thermometer.baud or None, seed=self.seed).start()
            say(f"  thermometer  {cfg.thermometer.protocol} module on {link} (-> {os.readlink(link)})")
        else:
            say("  thermometer  none ([thermometer] enabled = false)")

        self.camera.clear_stale()
        self.camera.gate()
        say(f"  camera       synthetic clip {cfg.camera.source} ({self.camera.size[0]}x{self.camera.size[1]}, "
            f"{self.camera.frames if self.camera.kind == 'sequence' else 1} file(s)): the empty gate")

        self.drill = Drill(self.dir / "trust", cfg.kiosk.compound, time.time(), gate=cfg.kiosk.gate)
        root_key = cfg.codes.root_key
        assert root_key is not None
        bundle_path = cfg.bundle_path
        raw = self.drill.bundle_path.read_bytes()
        write_atomic(root_key, self.drill.root_key_path.read_bytes(), parents=True)
        write_atomic(bundle_path, raw, parents=True)
        # the kiosk's copy of the last good bundle was signed under the previous (throwaway) root
        cfg.last_good_bundle_path.unlink(missing_ok=True)
        say(f"  trust        new drill keys: root key {root_key}, bundle seq 1 at {bundle_path} "
            f"(compound {cfg.kiosk.compound})")

        url = urlsplit(cfg.sync.server_url)
        assert url.port is not None
        try:
            self.street = StreetServer(self.dir / "street.db", host="127.0.0.1", port=url.port)
        except OSError as exc:
            raise OSError(exc.errno, f"street server cannot listen on 127.0.0.1:{url.port}: "
                                     f"{exc.strerror or exc} (is another stand-in site running?)") from None
        self.street.start()
        registered = self._register()
        self.street.db.publish_bundle(raw)
        say(f"  street       server {self.street.url} (database {self.dir / 'street.db'}); kiosk {cfg.kiosk.id} "
            f"{registered}, secret in {cfg.sync.secret_file}; drill bundle published")
        say(f"  office       {self.street.url}/ — sign in as {OFFICE_USER} / {self._office_account()}")

        if self.crowd is not None:
            self.crowd.start()
            say(f"  crowd        a resident every {self.crowd.period_s:g} s: a fresh paper code, then a "
                "normal forehead")

    def _office_account(self) -> str:
        """A district account for the status page, with a fresh password each start (printed)."""
        assert self.street is not None
        accounts = Accounts(self.street.db, self.street.clock)
        password = secrets.token_urlsafe(12)
        if any(name == OFFICE_USER for name, _, _ in accounts.users()):
            accounts.set_password(OFFICE_USER, password)
        else:
            accounts.add(OFFICE_USER, password, "district")
        return password

    def _register(self) -> str:
        """Register the kiosk (or keep a registration whose secret file still matches)."""
        assert self.street is not None
        db, kiosk_id = self.street.db, self.cfg.kiosk.id
        secret_file = self.cfg.sync.secret_file
        assert secret_file is not None
        entry = db.kiosk(kiosk_id)
        if entry is not None and entry.revoked is None:
            try:
                if parse_secret(secret_file.read_text(encoding="ascii")) == entry.secret:
                    os.chmod(secret_file, 0o600)
                    return "registered (kept)"
            except (OSError, ValueError):
                pass
            db.revoke_kiosk(kiosk_id)
        secret = db.add_kiosk(kiosk_id)
        write_atomic(secret_file, (secret + "\n").encode("ascii"), mode=0o600, parents=True)
        return "registered"

    def close(self) -> None:
        """Residents stop coming, then every part goes away (the camera clip and the pty too)."""
        if self.crowd is not None:
            self.crowd.stop()
        if self.street is not None:
            self.street.stop()
            self.street = None
        if self.thermometer is not None:
            self.thermometer.close()
            self.thermometer = None
        self.camera.remove()

    def __enter__(self) -> Site:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- the volunteers' panel

PANEL_KEYS = {"p": "pass", "pass": "pass", "d": "deny", "deny": "deny", "r": "remeasure",
              "remeasure": "remeasure", "e": "emergency", "emergency": "emergency"}
PANEL_HELP = "panel: type p (pass), d (deny), r (re-measure) or e (emergency, held 3 s), then Enter"


class PanelKeys:
    """The volunteers' button panel for a laptop: a key and Enter in the site's terminal presses
    that button of the running kiosk (its mock pins, through its control socket, with the same
    edges a real button makes: kiosk/service/control.py). One line back says what happened."""

    def __init__(self, cfg: Config) -> None:
        self.socket = control_path(cfg.kiosk.runtime_dir)
        self.config = cfg.source

    def press(self, typed: str) -> str:
        button = PANEL_KEYS.get(typed.strip().lower())
        if button is None:
            return f"panel: {typed.strip()!r}? " + PANEL_HELP.removeprefix("panel: ")
        try:
            answers = list(control.request(self.socket, {"do": "press", "button": button}, timeout_s=15))
        except OSError:
            return f"panel: no kiosk is running for this site (start it: kiosk run --config {self.config})"
        except ValueError as exc:
            return f"panel: the kiosk answered something else: {exc}"
        if answers and answers[0].get("ok"):
            return f"panel: {button} pressed"
        return f"panel: {button} not pressed: {answers[0].get('error') if answers else 'no answer'}"

    def run(self, lines: Iterable[str], out: TextIO) -> None:
        for typed in lines:
            if typed.strip():
                print(self.press(typed), file=out, flush=True)


# --------------------------------------------------------------------------- command line

def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hardware_mocks.standin",
                                description="Bring up the stand-in site a stand-in config points at.")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="stand-in config (default config/standin.toml)")
    p.add_argument("--crowd", action="store_true", help="keep residents coming (a steady stream of passes)")
    p.add_argument("--seed", type=int, default=1, help="seed of the crowd, the camera and the sensor noise")
    p.add_argument("--period", type=float, default=3.0, help="seconds between residents with --crowd (default 3)")
    args = p.parse_args(argv)
    if not 1.0 <= args.period <= 3600:
        p.error("--period must be between 1 and 3600 seconds")
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        cfg = config_mod.load(args.config)
        site = Site(cfg, crowd=args.crowd, seed=args.seed, period_s=args.period).start()
    except (KioskError, OSError, ValueError) as exc:
        print(f"stand-in site: {exc}", file=sys.stderr)
        return 1
    try:
        for line in site.lines:
            print(line, flush=True)
        print(f"now: kiosk selftest --config {args.config}  |  kiosk run --config {args.config}  |  "
              f"kiosk sync --once --config {args.config}", flush=True)
        print(PANEL_HELP, flush=True)
        print("Ctrl-C (or SIGTERM) stops the site.", flush=True)
        threading.Thread(target=PanelKeys(cfg).run, args=(sys.stdin, sys.stdout), name="panel-keys",
                         daemon=True).start()
        done.wait()
    finally:
        site.close()
    if site.crowd is not None:
        print(f"stand-in site stopped ({site.crowd.residents} residents came)", flush=True)
    else:
        print("stand-in site stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
