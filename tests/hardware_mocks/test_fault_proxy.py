"""The fault proxy does to real HTTP traffic what each fault says (against a counting upstream)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from hardware_mocks.fault_proxy import Fault, FaultProxy


class Upstream(ThreadingHTTPServer):
    """Counts complete requests it received; answers each with 'ok <n>'."""

    daemon_threads = True

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        pass      # the proxy resets connections on purpose


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.count += 1
            n = self.server.count
        body = f"ok {n}".encode() + b" " * 200
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    srv = Upstream()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def address(server: Upstream) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return str(host), int(port)


def post(proxy: FaultProxy, session: requests.Session | None = None, timeout: float = 5) -> requests.Response:
    return (session or requests).post(proxy.url + "/x", data=b"payload" * 100, timeout=(2, timeout))


def test_pass_and_keepalive_get_one_fault_per_request(upstream: Upstream) -> None:
    with FaultProxy(address(upstream), [Fault("pass"), Fault("status", status=503, retry_after=9)]) as p:
        s = requests.Session()
        assert post(p, s).text.startswith("ok 1")
        r = post(p, s)
        assert r.status_code == 503 and r.headers["Retry-After"] == "9"
        assert post(p, s).text.startswith("ok 2")       # the queue is empty: pass
        assert upstream.count == 2 and p.history == ["pass", "status", "pass"]


def test_drop_and_reset_never_reach_the_server(upstream: Upstream) -> None:
    with FaultProxy(address(upstream), [Fault("drop"), Fault("reset_request", keep_bytes=100)]) as p:
        for _ in range(2):
            with pytest.raises(requests.ConnectionError):
                post(p)
        assert upstream.count == 0


def test_cut_response_happens_after_the_server_handled_it(upstream: Upstream) -> None:
    with FaultProxy(address(upstream), [Fault("cut_response", keep_bytes=30)]) as p:
        with pytest.raises(requests.RequestException):
            post(p)
        assert upstream.count == 1


def test_duplicate_delivers_twice(upstream: Upstream) -> None:
    with FaultProxy(address(upstream), [Fault("duplicate")]) as p:
        assert post(p).text.startswith("ok 1")
        assert upstream.count == 2


def test_delay_and_blackhole(upstream: Upstream) -> None:
    with FaultProxy(address(upstream), [Fault("delay", delay_s=0.3), Fault("blackhole")]) as p:
        t0 = time.monotonic()
        assert post(p).ok
        assert time.monotonic() - t0 >= 0.3
        with pytest.raises(requests.ReadTimeout):
            post(p, timeout=0.5)
        assert upstream.count == 1


def test_random_faults_are_reproducible_with_a_seed(upstream: Upstream) -> None:
    histories = []
    for _ in range(2):
        with FaultProxy(address(upstream), seed=42, weights={"pass": 1, "drop": 1, "status": 1}) as p:
            for _ in range(12):
                try:
                    post(p)
                except requests.RequestException:
                    pass
            histories.append(p.history)
    assert histories[0] == histories[1] and len(set(histories[0])) == 3


def test_upstream_down_resets_the_client() -> None:
    with FaultProxy(("127.0.0.1", 9)) as p:
        with pytest.raises(requests.ConnectionError):
            post(p)


def test_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        Fault("teleport")
