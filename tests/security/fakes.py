"""A fake street server on 127.0.0.1 for the attack tests: it answers every kiosk request as
told (a forged ack, with or without a signature) and stores nothing."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sync import protocol, signing

Sign = Callable[[str, str, int, str, bytes], str | None]   # (kiosk_id, nonce, status, time, body) -> header


def forged_ack(body: dict[str, Any]) -> dict[str, Any]:
    """What issue 14's attacker answered: the batch acknowledged, and everything far beyond it."""
    last = body["records"][-1]["seq"] if body.get("records") else 0
    return {"db_epoch": body.get("db_epoch"), "batch_through": last, "acked_through": 10**12, "gaps": [],
            "stored": len(body.get("records", [])), "duplicates": 0, "quarantined": []}


@contextmanager
def fake_server(sign: Sign | None = None) -> Iterator[tuple[str, list[str]]]:
    """Yields (base URL, the paths it was asked for)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, obj: Any) -> None:
            data = b"" if obj is None else json.dumps(obj).encode()
            now = "1.000"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Server-Time", now)
            if sign is not None:
                sig = sign(self.headers.get(protocol.H_KIOSK, ""), self.headers.get(protocol.H_NONCE, ""),
                           status, now, data)
                if sig:
                    self.send_header(signing.H_ANSWER_SIG, sig)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            seen.append(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            body = json.loads(raw)
            if self.path == protocol.RECORDS_PATH:
                self._answer(200, forged_ack(body))
            else:
                self._answer(200, {"db_epoch": body.get("db_epoch"), "acked_through": 10**12, "gaps": []})

        def do_GET(self) -> None:
            seen.append(self.path)
            self._answer(204, None)                  # no trust bundle

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()
