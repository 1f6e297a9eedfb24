"""The door node killed (SIGKILL) at random instants loses no committed event; the sync then
delivers every record to the street server exactly once."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

from kiosk.clock import SystemClock
from street.server import StreetServer
from sync.client import SyncClient
from tests.kiosk.door.support import door_config
from tests.paths import REPO
from tests.synckit import log_digests, server_digests

ROUNDS = 4


def test_killed_at_random_instants_nothing_committed_is_lost_and_it_reaches_the_server_once(tmp_path: Path) -> None:
    rng = random.Random(16)
    promised: dict[int, tuple[str, str]] = {}
    for round_ in range(ROUNDS):
        child = subprocess.Popen([sys.executable, "-m", "tests.kiosk.door.node_child", str(tmp_path), str(round_)],
                                 cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        want = rng.randrange(2, 12)          # kill after this many commits, wherever the node then is
        for _ in range(want):
            line = child.stdout.readline()
            assert line, f"the node stopped by itself in round {round_}"
            seq, kind, cause = line.split()
            promised[int(seq)] = (kind, cause)
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()
    cfg = door_config(tmp_path, buzzer=False)
    with sqlite3.connect(cfg.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        held = {s: (k, c) for s, k, c in conn.execute("SELECT seq, kind, cause FROM records")}
        starts = [d for (d,) in conn.execute("SELECT detail FROM records WHERE kind = 'door_watch' ORDER BY seq")]
    assert {s: held.get(s) for s in promised} == promised            # every committed event is there
    assert sorted(held) == list(range(1, max(held) + 1))              # gap-free
    assert len(starts) == ROUNDS and all(d.endswith("after=unclean_stop") for d in starts[1:])

    with StreetServer(tmp_path / "street.db") as server:
        secret = tmp_path / "node.secret"
        secret.write_text(server.db.add_kiosk(cfg.kiosk.id) + "\n")
        secret.chmod(0o600)
        cfg = cfg.replace(sync=dataclasses.replace(cfg.sync, server_url=server.url, secret_file=secret))
        for state in ("a.json", "b.json"):          # the second client has forgotten everything: a full redelivery
            client = SyncClient(cfg, SystemClock(assume_synced=True), sleep=lambda s: None,
                                state_path=tmp_path / state)
            assert client.run_once(deadline_s=60).ok
            client.close()
        assert server_digests(server, cfg.kiosk.id) == log_digests(cfg.db_path)
        assert server.db.duplicate_keys(cfg.kiosk.id) == 0
        households = server.db.rows("SELECT household_ref FROM households")
        assert [h[0] for h in households] == [cfg.door.household]
