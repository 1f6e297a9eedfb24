"""The upload client behind `kiosk sync`: drains the pass log to the street server exactly once.

At-least-once delivery made exactly-once by the server (docs/reliability.md §2): the
client sends records in ``seq`` order, one batch in flight, and moves its watermark only after
the server answered 200 for the whole batch (stored, already held, or quarantined); a lost or
cut answer means the batch is sent again and the server's unique key absorbs it. Every HTTP
call has a connect and a read timeout and an overall deadline; failures back off with full
jitter and honour ``Retry-After``. The server's time in every answer estimates the clock
offset (Cristian's algorithm), which also corrects the signing time of a kiosk whose clock is
wrong. Every answer must carry the server's signature over its status, time, body and this
request's nonce (sync/signing.py): an answer that does not is believed in nothing, and an
``acked_through`` is believed only up to the highest seq this kiosk has sent in that epoch.
One cycle: upload the backlog, then every log recovered from a damaged one
(``<state_dir>/recovered/<db_epoch>.db``, with the seqs it lost reported as such), refresh the
trust bundle, send a heartbeat.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from kiosk.clock import Clock, SystemClock
from kiosk.config import Config
from kiosk.durable import write_atomic
from kiosk.statefiles import recovered_root
from sync import backoff, protocol, signing
from sync.errors import (
    ClockSkew,
    LogReadError,
    ProtocolError,
    ServerBusy,
    ServerRefused,
    StateError,
    SyncError,
    TransportError,
)
from sync.heartbeat import heartbeat_payload
from sync.logreader import Batch, LogReader
from sync.secret import load_secret
from sync.signing import KioskCredential
from sync.state import EpochState, SyncState
from sync.state import load as load_state
from sync.state import save as save_state

log = logging.getLogger("kiosk.sync")

MAX_ANSWER_BYTES = 1024 * 1024


@dataclass
class CycleReport:
    """What one sync cycle did; ``error`` is None when everything succeeded."""

    db_epoch: str | None = None
    batches: int = 0
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    acked_through: int = 0
    server_acked_through: int = 0
    gaps: list[list[int]] = field(default_factory=list)
    backlog: int | None = None
    bundle: str = "skipped"
    heartbeat: bool = False
    clock_offset_s: float | None = None
    recovered: list[dict[str, Any]] = field(default_factory=list)   # one entry per recovered log drained
    error: str | None = None
    permanent: bool = False
    retry_in: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class Answer:
    status: int
    headers: requests.structures.CaseInsensitiveDict[str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise ProtocolError(f"server answered {self.status} with a body that is not JSON") from None


class SyncClient:
    """One kiosk's uploader. Not thread-safe: one batch in flight by construction."""

    def __init__(self, cfg: Config, clock: Clock | None = None, *, secret: bytes | KioskCredential | None = None,
                 db_path: Path | None = None, session: requests.Session | None = None,
                 rng: random.Random | None = None, sleep: Callable[[float], None] = time.sleep,
                 server_url: str | None = None, state_path: Path | None = None,
                 bundle_path: Path | None = None) -> None:
        self.cfg = cfg
        self.clock: Clock = clock or SystemClock()
        if secret is None:
            secret = load_secret(cfg)
        self.credential = signing.hmac_credential(secret) if isinstance(secret, bytes) else secret
        self.kiosk_id = cfg.kiosk.id
        self.db_path = Path(db_path) if db_path else cfg.db_path
        self.state_path = state_path or cfg.sync_state_path
        self.bundle_path = bundle_path or cfg.bundle_path
        self.base = (server_url or cfg.sync.server_url).rstrip("/")
        self.timeout = (cfg.sync.connect_timeout_s, cfg.sync.read_timeout_s)
        self.max_records = min(cfg.sync.batch_max_records, protocol.MAX_BATCH_RECORDS)
        self.session = session or requests.Session()
        # the street's own CA, pinned (street-server tls init); given with every request, because
        # requests lets $REQUESTS_CA_BUNDLE override a session's verify
        self.verify: str | bool = str(cfg.sync.ca_file) if cfg.sync.ca_file is not None else True
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.state: SyncState = load_state(self.state_path, self.kiosk_id)
        self.progress: Callable[[int, int], None] | None = None   # (sent, backlog at the start) per batch

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ HTTP

    def _now(self) -> float:
        """Our best estimate of the server's clock: the wall clock plus the measured offset."""
        return self.clock.wall() + self.state.clock.get("offset_s", 0.0)

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                max_answer: int = MAX_ANSWER_BYTES) -> Answer:
        """One signed request with connect/read timeouts and an overall deadline."""
        hdrs = dict(headers or {})
        signed = self.credential.sign_headers(self.kiosk_id, method, path, body, self._now())
        hdrs.update(signed)
        connect_s, read_s = self.timeout
        t0 = time.monotonic()
        deadline = t0 + connect_s + read_s
        try:
            resp = self.session.request(method, self.base + path, data=body or None, headers=hdrs,
                                        timeout=(connect_s, read_s), stream=True, allow_redirects=False,
                                        verify=self.verify)
            try:
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > max_answer:
                        raise ProtocolError(f"server answer to {method} {path} exceeds {max_answer} bytes")
                    if time.monotonic() > deadline:
                        raise TransportError(f"{method} {path}: answer took longer than {connect_s + read_s:.0f} s")
                    chunks.append(chunk)
                answer = Answer(resp.status_code, resp.headers, b"".join(chunks))
            finally:
                resp.close()
        except requests.Timeout as exc:
            raise TransportError(f"{method} {path}: timed out ({type(exc).__name__})") from None
        except (requests.RequestException, http.client.HTTPException, OSError) as exc:
            if isinstance(exc, SyncError):
                raise
            raise TransportError(f"{method} {path}: {why_unreachable(exc, self.base)}") from None
        authentic = self.credential.answer_ok(
            signing.answer_to_sign(self.kiosk_id, signed[protocol.H_NONCE], answer.status,
                                   answer.headers.get("X-Server-Time", ""), answer.body),
            answer.headers.get(signing.H_ANSWER_SIG))
        if not authentic:
            # nothing in it is believed: no clock offset, no acks, no bundle; an error stays an error
            if answer.status < 400:
                raise ProtocolError(f"{method} {path}: the answer ({answer.status}) is not signed by the street "
                                    "server this kiosk was enrolled with: ignored (a forged or tampered answer, "
                                    "or the wrong server_url)")
            self._raise_for_status(method, path, answer, authentic=False)
        self._learn_offset(answer, t0, time.monotonic())
        self._raise_for_status(method, path, answer)
        return answer

    def _learn_offset(self, answer: Answer, t0: float, t1: float) -> None:
        """Cristian's algorithm: the server stamped its time somewhere within our round trip."""
        raw = answer.headers.get("X-Server-Time")
        try:
            server_time = float(raw) if raw is not None else None
        except ValueError:
            server_time = None
        if server_time is None or server_time != server_time:
            return
        rtt = max(0.0, t1 - t0)
        offset = server_time + rtt / 2 - self.clock.wall()
        self.state.clock = {"offset_s": round(offset, 3), "rtt_s": round(rtt, 4), "at": self.clock.wall()}

    def _raise_for_status(self, method: str, path: str, answer: Answer, authentic: bool = True) -> None:
        status = answer.status
        if status < 400 and status not in (301, 302, 303, 307, 308):
            return
        reason, code = _reason(answer)
        where = f"{method} {path}: server answered {status}" + ("" if authentic else " (unsigned)")
        if status == 401 and code == "clock_skew" and authentic:
            raise ClockSkew(f"{where}: {reason}", _float(answer.headers.get("X-Server-Time")))
        if status == 429 or status >= 500:
            retry_after = backoff.parse_retry_after(answer.headers.get("Retry-After"), time.time())
            raise ServerBusy(f"{where}: {reason}", retry_after)
        raise ServerRefused(f"{where}: {reason}", status)

    def _signed(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                max_answer: int = MAX_ANSWER_BYTES) -> Answer:
        """A request that, if refused for clock skew, is re-signed once with the corrected time."""
        try:
            return self.request(method, path, body, headers, max_answer)
        except ClockSkew as exc:
            log.warning("clock offset corrected to %+.1f s after: %s", self.state.clock.get("offset_s", 0.0), exc)
            return self.request(method, path, body, headers, max_answer)

    # ------------------------------------------------------------------ the three jobs

    def upload(self, reader: LogReader, report: CycleReport) -> None:
        """Send every record after the watermark, one batch at a time, in seq order."""
        report.db_epoch = reader.db_epoch
        self._upload(reader, report)

    def _upload(self, reader: LogReader, report: CycleReport) -> None:
        ep = self.state.epoch(reader.db_epoch)
        total = reader.backlog(ep.acked_through) if self.progress is not None else 0
        sent = 0
        while True:
            batch = reader.batch(ep.acked_through, self.max_records)
            if batch is None:
                break
            answer = self._post_batch(batch)
            self._apply(batch, answer, report)
            sent += len(batch.records)
            if self.progress is not None:
                self.progress(sent, max(total, sent))

    def _post_batch(self, batch: Batch) -> dict[str, Any]:
        clock = self.clock
        head = protocol.encode_json({
            "kiosk_id": self.kiosk_id, "db_epoch": batch.db_epoch, "boot_id": clock.boot_id(),
            "sent_wall": clock.wall(), "sent_mono_ns": int(clock.monotonic() * 1e9),
            "clock_synced": int(clock.synced()),
        })
        raw = head[:-1] + b',"records":[' + b",".join(batch.encoded) + b"]}"
        body = protocol.gzip_body(raw)
        answer = self._signed("POST", protocol.RECORDS_PATH, body,
                              {"Content-Type": "application/json", "Content-Encoding": "gzip"})
        data = answer.json()
        if (not isinstance(data, dict) or data.get("db_epoch") != batch.db_epoch
                or data.get("batch_through") != batch.last or not isinstance(data.get("acked_through"), int)):
            # not an answer to this batch: treat like a lost answer and send it again
            raise TransportError(f"server answer does not acknowledge batch {batch.first}..{batch.last}")
        return data

    def _apply(self, batch: Batch, data: dict[str, Any], report: CycleReport) -> None:
        ep = self.state.epoch(batch.db_epoch)
        # batch_through: every record of this batch is durable on the server. The server's own
        # contiguous mark counts only as far as we have sent: a mark beyond is not believed
        # (a server that lost or never had the rest, docs/security.md), and the purge trusts ours.
        ep.sent_through = max(ep.sent_through, batch.last)
        ep.acked_through = max(ep.acked_through, batch.last, min(int(data["acked_through"]), ep.sent_through))
        ep.server_acked_through = int(data["acked_through"])
        ep.gaps = [[int(a), int(b)] for a, b in data.get("gaps", [])]
        ep.updated = self.clock.wall()
        save_state(self.state_path, self.state)
        report.batches += 1
        report.sent += len(batch.records)
        report.stored += int(data.get("stored", 0))
        report.duplicates += int(data.get("duplicates", 0))
        report.quarantined += list(data.get("quarantined", []))
        report.acked_through = ep.acked_through
        report.server_acked_through = ep.server_acked_through
        report.gaps = ep.gaps
        if data.get("quarantined"):
            log.warning("server quarantined %s", data["quarantined"])

    def recovered_logs(self) -> list[Path]:
        """The complete recovered logs the kiosk salvaged from damaged ones (kiosk/passlog/quarantine.py)."""
        root = recovered_root(self.db_path)
        return sorted(root.glob("*.db")) if root.is_dir() else []

    def drain_recovered(self, report: CycleReport) -> None:
        """Upload every recovered log (original kiosk_id, db_epoch, seq: the server drops what it
        already holds), then tell the server which seqs of it are lost for good (POST /v1/lost)."""
        for path in self.recovered_logs():
            try:
                with LogReader(path, self.kiosk_id) as reader:
                    sent_before = report.sent
                    self._upload(reader, report)
                    ep = self.state.epoch(reader.db_epoch)
                    done: dict[str, Any] = {"db_epoch": reader.db_epoch, "log": path.name,
                                            "sent": report.sent - sent_before, "acked_through": ep.acked_through,
                                            "last_seq": reader.last_seq()}
                    lost = lost_ranges(reader)
            except (ServerRefused, LogReadError) as exc:
                report.error, report.permanent = report.error or str(exc), True
                report.recovered.append({"log": path.name, "error": str(exc)})
                continue
            if lost and lost != ep.lost_reported:
                self._report_lost(reader.db_epoch, lost, ep)
            done["lost"] = ep.lost_reported
            report.recovered.append(done)

    def _report_lost(self, db_epoch: str, lost: list[list[int]], ep: EpochState) -> None:
        newly = 0
        for i in range(0, len(lost), protocol.MAX_LOST_RANGES):
            body = protocol.encode_json({"kiosk_id": self.kiosk_id, "db_epoch": db_epoch,
                                         "ranges": lost[i:i + protocol.MAX_LOST_RANGES],
                                         "reason": "missing from the log recovered after corruption"})
            answer = self._signed("POST", protocol.LOST_PATH, body, {"Content-Type": "application/json"})
            data = answer.json()
            if (not isinstance(data, dict) or data.get("db_epoch") != db_epoch
                    or not isinstance(data.get("acked_through"), int)):
                raise TransportError("server answer does not acknowledge the lost-seqs report")
            newly += int(data.get("newly_lost", 0))
            ep.server_acked_through = int(data["acked_through"])
            ep.gaps = [[int(a), int(b)] for a, b in data.get("gaps", [])]
        ep.lost_reported = lost
        ep.updated = self.clock.wall()
        save_state(self.state_path, self.state)
        log.warning("epoch %s: told the server which seqs the recovered log lacks (%s); %d of them it did "
                    "not hold and has marked lost", db_epoch, lost if len(lost) <= 10 else f"{len(lost)} ranges",
                    newly)

    def refresh_bundle(self) -> str:
        """Fetch the trust bundle if it changed; write it atomically. Returns updated/unchanged/none."""
        headers = {}
        etag = self.state.bundle_etag
        if etag and _file_etag(self.bundle_path) == etag:
            headers["If-None-Match"] = etag
        answer = self._signed("GET", protocol.BUNDLE_PATH, b"", headers, max_answer=protocol.MAX_BUNDLE_BYTES)
        if answer.status == 304:
            return "unchanged"
        if answer.status == 204:
            return "none"
        got = answer.headers.get("ETag")
        if got != etag_of(answer.body):
            raise TransportError(f"bundle body does not match its ETag {got!r}")
        write_atomic(self.bundle_path, answer.body, mode=0o644, parents=True)
        self.state.bundle_etag = got
        save_state(self.state_path, self.state)
        log.info("trust bundle updated (%d bytes, %s)", len(answer.body), got)
        return "updated"

    def send_heartbeat(self, reader: LogReader | None, report: CycleReport) -> None:
        payload = heartbeat_payload(self.cfg, self.clock, self.state, reader, report.error)
        answer = self._signed("POST", protocol.HEARTBEAT_PATH, protocol.encode_json(payload),
                              {"Content-Type": "application/json"})
        data = answer.json()
        if reader is not None and isinstance(data, dict) and isinstance(data.get("acked_through"), int):
            ep = self.state.epoch(reader.db_epoch)
            acked = min(data["acked_through"], ep.sent_through)    # never beyond what we sent
            if acked > ep.acked_through:
                ep.acked_through = acked
                save_state(self.state_path, self.state)

    # ------------------------------------------------------------------ cycles

    def cycle(self) -> CycleReport:
        """Upload, bundle, heartbeat. Stops at the first transport failure (one timeout per cycle)."""
        report = CycleReport()
        reader: LogReader | None = None
        try:
            try:
                reader = LogReader(self.db_path, self.kiosk_id)
                self.upload(reader, report)
            except (ServerRefused, LogReadError) as exc:
                report.error, report.permanent = str(exc), True
            self.drain_recovered(report)
            try:
                report.bundle = self.refresh_bundle()
            except ServerRefused as exc:
                report.error = report.error or str(exc)
                report.permanent = True
            if reader is not None:
                ep = self.state.epoch(reader.db_epoch)
                report.backlog = reader.backlog(ep.acked_through)
                report.acked_through = ep.acked_through
                report.server_acked_through, report.gaps = ep.server_acked_through, ep.gaps
            self.send_heartbeat(reader, report)
            report.heartbeat = True
        except (TransportError, ServerBusy, ProtocolError) as exc:
            report.error = str(exc)
            report.permanent = False
            if isinstance(exc, ServerBusy):
                report.retry_in = exc.retry_after
        except ServerRefused as exc:
            report.error, report.permanent = str(exc), True
        finally:
            if reader is not None:
                if report.backlog is None:
                    try:
                        report.backlog = reader.backlog(self.state.epoch(reader.db_epoch).acked_through)
                    except LogReadError:
                        pass
                reader.close()
        report.clock_offset_s = self.state.clock.get("offset_s")
        self._after(report)
        return report

    def _after(self, report: CycleReport) -> None:
        if report.ok:
            self.state.failures, self.state.not_before = 0, 0.0
            self.state.last_ok = self.clock.wall()
        else:
            self.state.failures += 1
            if report.retry_in is None:
                report.retry_in = backoff.full_jitter(self.state.failures, self.rng)
            self.state.not_before = self.clock.wall() + report.retry_in
        try:
            save_state(self.state_path, self.state)
        except StateError as exc:
            report.error = report.error or str(exc)

    def pending_wait(self) -> float:
        """How long a new process should still back off after earlier failures (0 if not)."""
        left = self.state.not_before - self.clock.wall()
        if left <= 0 or left > backoff.MAX_RETRY_AFTER_S:    # past, or the wall clock jumped
            return 0.0
        return left

    def run_once(self, deadline_s: float | None = None) -> CycleReport:
        """Cycles with backoff until one succeeds, a permanent error, or ``deadline_s`` runs out."""
        deadline_s = self.cfg.sync.interval_s if deadline_s is None else deadline_s
        start = self.clock.monotonic()
        wait = self.pending_wait()
        if wait > 0:
            log.info("backing off %.1f s after %d failures", wait, self.state.failures)
            self.sleep(wait)
        while True:
            report = self.cycle()
            if report.ok or report.permanent:
                return report
            assert report.retry_in is not None
            if self.clock.monotonic() + report.retry_in - start > deadline_s:
                return report
            self.sleep(report.retry_in)

    def run_forever(self, stop: threading.Event) -> None:
        """`kiosk sync` without --once: a cycle every interval, backing off on failures."""
        wait = self.pending_wait()
        while not stop.wait(wait):
            report = self.cycle()
            wait = self.cfg.sync.interval_s if report.ok else (report.retry_in or 0.0)
            if not report.ok:
                log.warning("sync failed (%d in a row), next try in %.1f s: %s",
                            self.state.failures, wait, report.error)


def lost_ranges(reader: LogReader) -> list[list[int]]:
    """The seqs a recovered log can never deliver: the ranges salvage found missing between its
    records (``meta.recovered_missing``), and any below its first record (purged after upload,
    or lost: the server keeps as they are the ones it holds, so only lost ones count)."""
    try:
        missing = [[int(a), int(b)] for a, b in json.loads(reader.meta.get("recovered_missing", "[]"))]
    except (ValueError, TypeError):
        raise LogReadError(f"{reader.path}: meta recovered_missing is not a list of seq ranges") from None
    first = reader.first_seq()
    return ([[1, first - 1]] if first > 1 else []) + missing


def etag_of(body: bytes) -> str:
    return f'"sha256:{hashlib.sha256(body).hexdigest()}"'


def _file_etag(path: Path) -> str | None:
    try:
        return etag_of(path.read_bytes())
    except OSError:
        return None


def _reason(answer: Answer) -> tuple[str, str]:
    try:
        data = json.loads(answer.body)
        return str(data.get("error", ""))[:300], str(data.get("code", ""))
    except (ValueError, AttributeError):
        return answer.body[:120].decode("utf-8", "replace"), ""


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


def why_unreachable(exc: BaseException, base_url: str) -> str:
    """One short line for a failed request: the OS's own reason (refused, no such host, reset,
    timed out) found under requests' and urllib3's wrappers, not their 200-character reprs."""
    host = urlsplit(base_url).netloc or base_url
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return f"cannot connect to {host}: connection refused (is the street server running there?)"
        if isinstance(e, socket.gaierror):
            return f"cannot connect to {host}: host name not found ({e.strerror or e})"
        if isinstance(e, ConnectionResetError):
            return f"connection to {host} reset"
        if isinstance(e, OSError) and e.strerror:       # urllib3's wrappers carry none: look beneath
            return f"cannot connect to {host}: {e.strerror.lower()}"
        todo += [x for x in (getattr(e, "reason", None), e.__cause__, e.__context__, *e.args)
                 if isinstance(x, BaseException)]
    return f"cannot reach {host}: {_short(exc)}"


def _short(exc: BaseException, limit: int = 120) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[:limit] + "…"
