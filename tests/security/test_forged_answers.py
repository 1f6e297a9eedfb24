"""Issue 14, attack 1: one forged answer silenced a kiosk and lost its records.

A fake server on 127.0.0.1 answered a huge ``acked_through``; the kiosk believed all 200 records
delivered (the real server had 100) and the retention purge deleted them. Now every answer must
be signed for this kiosk's request, and no ack counts beyond the highest seq the kiosk sent.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.clock import FakeClock
from kiosk.statefiles import read_sync_progress
from street.server import StreetServer
from sync import signing
from sync.client import SyncClient
from sync.logreader import LogReader
from tests.security.fakes import fake_server
from tests.synckit import fast_fill, kiosk_config, log_digests, open_log, server_digests


def _client(cfg_root: Path, url: str, secret: str | None) -> SyncClient:
    cfg = kiosk_config(cfg_root, "k1", url, secret)
    return SyncClient(cfg, FakeClock(wall=time.time()), rng=random.Random(1), sleep=lambda s: None)


def _purge_everything_acked(client: SyncClient) -> int:
    log = open_log(client.cfg)
    acked = read_sync_progress(client.cfg.kiosk.state_dir).acked_through
    return log.purge(time.time() + 86400 * 365, acked)


def test_a_forged_ack_loses_nothing_and_the_kiosk_says_so(street: StreetServer, server_key: Ed25519PrivateKey,
                                                           tmp_path: Path) -> None:
    credential = street.db.add_kiosk("k1", server_public=signing.public_bytes(server_key))
    real = _client(tmp_path / "k1", street.url, credential)
    log = open_log(real.cfg)
    fast_fill(log, 100, random.Random(1))
    assert real.cycle().ok
    fast_fill(log, 100, random.Random(2))
    written = log_digests(real.cfg.db_path)
    assert len(written) == 200

    impostor_key = Ed25519PrivateKey.generate()
    signers = {
        "unsigned": None,
        "signed by another key": lambda k, n, s, t, b: signing.sign_answer(
            signing.ED25519, b"", impostor_key, signing.answer_to_sign(k, n, s, t, b)),
        "signed for another request": lambda k, n, s, t, b: signing.sign_answer(
            signing.ED25519, b"", server_key, signing.answer_to_sign(k, "x" * 32, s, t, b)),
    }
    for what, sign in signers.items():
        with fake_server(sign) as (url, seen):
            fooled = _client(tmp_path / "k1", url, None)
            report = fooled.cycle()
            assert seen, what
            assert not report.ok and "not signed by the street server" in (report.error or ""), what
            assert report.backlog == 100, what
            assert read_sync_progress(fooled.cfg.kiosk.state_dir).acked_through == {log.db_epoch: 100}, what
        assert _purge_everything_acked(fooled) == 100 - 100 * (what != "unsigned"), what   # the first 100 only once
    report = real.cycle()
    assert report.ok and report.sent == 100 and report.backlog == 0 and report.acked_through == 200
    assert server_digests(street, "k1") == written                       # lost: none
    assert _purge_everything_acked(real) == 100


def test_a_correctly_signed_ack_counts_only_as_far_as_the_kiosk_sent(tmp_path: Path) -> None:
    """Even a server holding the kiosk's (release-1 HMAC) secret cannot acknowledge seqs the
    kiosk never sent: the watermark stops at the highest seq sent, batch and heartbeat alike."""
    secret = "ab" * 32
    key = bytes.fromhex(secret)

    def sign(k: str, n: str, s: int, t: str, b: bytes) -> str | None:
        return signing.sign_answer(signing.HMAC, key, None, signing.answer_to_sign(k, n, s, t, b))

    with fake_server(sign) as (url, _):
        c = _client(tmp_path / "k1", url, secret)
        log = open_log(c.cfg)
        fast_fill(log, 30, random.Random(3))
        report = c.cycle()
        assert report.ok and report.sent == 30 and report.acked_through == 30
        assert read_sync_progress(c.cfg.kiosk.state_dir).acked_through == {log.db_epoch: 30}
        fast_fill(log, 5, random.Random(4))
        with LogReader(c.db_path, "k1") as reader:
            c.send_heartbeat(reader, report)             # the fake answers acked_through 10**12
        assert read_sync_progress(c.cfg.kiosk.state_dir).acked_through == {log.db_epoch: 30}
