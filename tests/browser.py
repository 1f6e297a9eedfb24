"""Headless Debian chromium, driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

No WebDriver and no websocket library: Chrome reads NUL-terminated JSON commands on fd 3 and
answers on fd 4. Enough to load a page, read what a person sees (``innerText``, which leaves
out hidden text), measure elements and take a screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Browser:
    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        # move the child's ends out of the way of 3 and 4 before dup2-ing them there
        hi_cmd = os.dup2(cmd_r, 100)
        hi_resp = os.dup2(resp_w, 101)
        os.close(cmd_r)
        os.close(resp_w)

        def fds() -> None:
            os.dup2(hi_cmd, 3)
            os.dup2(hi_resp, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-extensions", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "--window-size=1400,1000",
             "about:blank"],
            preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(hi_cmd)
        os.close(hi_resp)
        self._buf = b""
        self._id = 0
        self.session: str | None = None

    def _send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        return self._id

    def _next(self, deadline: float) -> dict[str, Any]:
        import select
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._resp_r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._resp_r, 1 << 16)
            if not chunk:
                raise ConnectionError("chromium closed its DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        want = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._next(deadline)
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def sign_in(self, base: str, session: Any) -> None:
        """Carry a signed-in requests session's office cookie into the browser."""
        from street.office.auth import COOKIE
        self.call("Storage.setCookies", {"cookies": [{"name": COOKIE, "value": session.cookies[COOKIE],
                                                      "url": base + "/"}]})

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=self.session)
        self.call("Page.navigate", {"url": url}, session=self.session)
        deadline = time.monotonic() + self.timeout
        while self.eval("document.readyState") != "complete" or self.eval("location.href") != url:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load")
            time.sleep(0.05)

    def eval(self, expression: str, await_promise: bool = False) -> Any:
        """The value of ``expression`` in the page (with ``await_promise``, of the promise it returns)."""
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": await_promise}, session=self.session)
        if "exceptionDetails" in res:
            raise RuntimeError(f"page script failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        """The page as PNG: all of it, or (``full_page=False``) what the window shows."""
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full_page},
                         session=self.session)["data"]
        path.write_bytes(base64.b64decode(data))

    def pdf(self, path: Path) -> None:
        """The page printed as Chromium prints it (its @page size and margins), as PDF."""
        data = self.call("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True},
                         session=self.session)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self._send("Browser.close")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._resp_r)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
