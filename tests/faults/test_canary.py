"""T-PRIV-1: a canary ID number and a canary QR payload pushed through 1,000 passes appear nowhere.

The canary resident's ID number becomes a holder reference at issuing (HMAC with the street's
pseudonym key, kiosk.codes.keys.holder_ref); their paper code — the canary payload — is shown
1,000 times (a minute apart, past the reuse window), the first few through the synthetic camera
and the real capture/scan threads, the rest handed to the kiosk as the scan thread does. The
assembled kiosk runs the real verifier and the real pass log on a fake clock. Then the real sync
client uploads everything to the real street server through the fault proxy, which keeps every
HTTP message. Neither canary — as UTF-8 or UTF-16 text, or as unkeyed SHA-256 hex (whole, or
its 128- or 48-bit prefix, upper or lower case) — may appear in any file of the kiosk's state
directory (the pass log, ``-wal``, ``-shm``, sync state …) while it runs or after, in anything
logged or written to stdout/stderr by the kiosk and the sync (DEBUG level), in the HTTP bodies
(gzip undone) or in the street server's files.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import logging
import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware_mocks.camera import DemoCamera
from hardware_mocks.fault_proxy import FaultProxy
from kiosk.clock import FakeClock
from kiosk.codes import keys
from kiosk.codes.drill import Drill
from kiosk.config import Config
from kiosk.core.flow import State
from kiosk.service.assembly import assembled
from kiosk.service.runtime import Kiosk
from street.server import StreetServer
from sync.client import SyncClient
from tests.conftest import ManualTimers

PASSES = int(os.environ.get("KIOSK_CANARY_PASSES", "1000"))
CAMERA_PASSES = 3
CANARY_ID = "11010519491231002X"                 # an 18-character resident ID (birth date 1949-12-31)


def needles(text: str) -> dict[str, bytes]:
    """Every form a leak of ``text`` could take."""
    raw = text.encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest()
    forms = {"utf-8": raw, "utf-16-le": text.encode("utf-16-le"), "utf-16-be": text.encode("utf-16-be"),
             "sha256": digest.encode(), "SHA256": digest.upper().encode(),
             "sha256/128": digest[:32].encode(), "SHA256/128": digest[:32].upper().encode(),
             "sha256/48": digest[:12].encode(), "SHA256/48": digest[:12].upper().encode()}
    return forms


def leaks(haystacks: dict[str, bytes], canaries: dict[str, str]) -> list[str]:
    found = []
    for cname, text in canaries.items():
        for form, needle in needles(text).items():
            found += [f"{cname} as {form} in {where}" for where, data in haystacks.items() if needle in data]
    return found


def files_under(*roots: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


def http_bodies(messages: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """Each captured HTTP message, as sent and with its body un-gzipped."""
    out: dict[str, bytes] = {}
    for i, (what, msg) in enumerate(messages):
        head, _, body = msg.partition(b"\r\n\r\n")
        headers = {line.split(b":", 1)[0].strip().lower(): line.split(b":", 1)[1].strip()
                   for line in head.split(b"\r\n")[1:] if b":" in line}
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = dechunk(body)
        out[f"{what} {i} as sent"] = msg
        if headers.get(b"content-encoding", b"").lower() == b"gzip":
            out[f"{what} {i} body un-gzipped"] = gzip.decompress(body)
    return out


def dechunk(body: bytes) -> bytes:
    out, rest = bytearray(), body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2:]
    return bytes(out)


@pytest.fixture
def log_capture() -> Iterator[io.StringIO]:
    """Everything any logger says, at DEBUG, while the test runs."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield buf
    root.removeHandler(handler)
    root.setLevel(old_level)


def decide(k: Kiosk, clock: FakeClock, timers: ManualTimers) -> None:
    """The resident holds a normal forehead up until the kiosk decides; then walks through."""
    assert k.flow.state is State.MEASURING, k.flow.state
    for _ in range(12):
        clock.advance(1 / 14)
        k.inbox.sample_seen(36.6 - k.cfg.temperature.skin_offset_c, 21.0, None)
        k.pump()
    clock.advance(k.cfg.flow.result_hold_s)
    k.pump()
    timers.fire()


def show_to_camera(k: Kiosk, camera: DemoCamera, payload: str) -> None:
    """Hold the code up to the synthetic camera; handle what the scan thread posts (waiting on the
    kiosk's event queue) until the kiosk measures, then let the clip end."""
    camera.show(payload)
    deadline = time.monotonic() + 30
    while k.flow.state is not State.MEASURING:
        left = deadline - time.monotonic()
        assert left > 0, "the camera did not read the canary code"
        try:
            k.handle(k.events.get(timeout=left))
        except queue.Empty:
            pass
    assert camera.clips_done.wait(30)


def test_canaries_through_1000_passes_leave_no_trace(cfg: Config, tmp_path: Path, timers: ManualTimers,
                                                     log_capture: io.StringIO,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock(wall=time.time())
    pseudonym_key = keys.new_pseudonym_key()
    holder = keys.holder_ref(pseudonym_key, CANARY_ID)               # at issuing, on the street's side
    drill = Drill(tmp_path / "street-keys", cfg.kiosk.compound, clock.wall())
    payload = drill.code("paper", holder, clock.wall())               # the canary QR payload
    canaries = {"ID number": CANARY_ID, "QR payload": payload}
    street = StreetServer(tmp_path / "street" / "street.db", clock=clock).start()
    secret = tmp_path / "kiosk.secret"
    secret.write_text(street.db.add_kiosk(cfg.kiosk.id) + "\n")
    os.chmod(secret, 0o600)
    proxy = FaultProxy((street.host, street.port), capture=True).start()
    cfg = cfg.replace(codes=dataclasses.replace(cfg.codes, root_key=drill.root_key_path, bundle=drill.bundle_path),
                      sync=dataclasses.replace(cfg.sync, server_url=proxy.url, secret_file=secret),
                      camera=dataclasses.replace(cfg.camera, enabled=True, dedupe_s=30.0))
    camera = DemoCamera(seed=5, size=(640, 360))
    try:
        with assembled(cfg, clock, timers, frame_source=camera) as k:
            for i in range(PASSES):
                if i < CAMERA_PASSES:
                    show_to_camera(k, camera, payload)               # the real capture and scan threads
                else:
                    k.payload_seen(payload.encode())                  # as the scan thread hands it over
                    k.pump()
                decide(k, clock, timers)
                clock.advance(61.0)                                   # past the paper code's reuse window
            running = files_under(cfg.kiosk.state_dir, cfg.kiosk.runtime_dir)
            assert any(name.endswith("passes.db-wal") for name in running)
        with SyncClient(cfg, clock) as client:
            report = client.run_once(deadline_s=60)
        assert report.ok and report.sent >= PASSES, report.error
    finally:
        proxy.stop()
        street.stop()
        camera.discard()
    out, err = capfd.readouterr()

    haystacks = {**{f"running: {n}": d for n, d in running.items()},
                 **files_under(cfg.kiosk.state_dir, cfg.kiosk.runtime_dir),
                 "logging": log_capture.getvalue().encode("utf-8"), "stdout": out.encode("utf-8"),
                 "stderr": err.encode("utf-8"),
                 **http_bodies(proxy.captured or []),
                 **files_under(tmp_path / "street")}
    assert leaks(haystacks, canaries) == []

    # the search sees what is there: the canary's pseudonym is in the log and the un-gzipped bodies
    ref = holder.hex().encode()
    log_file = next(d for n, d in haystacks.items() if n.endswith("/passes.db"))
    assert log_file.count(ref) >= 1
    bodies = b"".join(d for n, d in haystacks.items() if n.endswith("un-gzipped"))
    assert bodies.count(ref) >= PASSES and ref not in b"".join(
        d for n, d in haystacks.items() if n.startswith("request") and n.endswith("as sent")
        and b"Content-Encoding: gzip" in d)
    assert "code read" in log_capture.getvalue()                     # the scan thread did log its reads
