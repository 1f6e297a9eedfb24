"""kiosk.demo.passes: the quick resident the long memory runs use is a code the kiosk's decoder
reads from the JPEG the clip writes, on the gate the clip shows, without drawing on the gate."""

from __future__ import annotations

from pathlib import Path

from drivers.camera.encoded import Encoded
from drivers.camera.qr import QrDecoder
from kiosk.demo.passes import flat_code
from kiosk.demo.site import ClipWriter

PAYLOAD = "GK1:FLAT-CODE-OF-A-QUICK-RESIDENT-0123456789"


def test_a_quick_resident_is_read_from_the_written_frames(tmp_path: Path) -> None:
    clip = ClipWriter(str(tmp_path / "frame_%04d.jpg"), size=(1280, 720), seed=3, frames=2)
    gate = clip.render_gate(0).copy()
    frames = flat_code(clip, PAYLOAD)
    assert (clip.render_gate(0) == gate).all()               # the gate's frames are not drawn on
    clip.put(frames)
    with QrDecoder() as decoder:
        for path in clip.paths:
            assert decoder.decode(Encoded.of(path.read_bytes(), (1280, 720))).payloads == [PAYLOAD.encode()]
