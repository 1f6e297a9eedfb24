"""The in-memory hold as a model: any interleaving of decisions, a log that fills and empties,
and loop retries keeps every record, in order, gap-free, reported exactly when committed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.clock import FakeClock
from kiosk.core.records import Record
from kiosk.passlog.holding import HoldingWriter
from kiosk.passlog.store import PassLog
from tests.faults.support import check_log, fill_to_cap, space_returns

STEPS = st.lists(st.sampled_from(["record", "record", "record", "fill", "space", "wait", "flush"]),
                 min_size=1, max_size=60)


@settings(max_examples=40, deadline=None)
@given(steps=STEPS)
def test_records_survive_any_sequence_of_full_and_free(steps: list[str]) -> None:
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as d:
        log = PassLog(Path(d) / "p.db", kiosk_id="k", gate="g", direction="in", clock=clock)
        writer = HoldingWriter(log, clock, max_held=10_000)
        submitted: list[str] = []
        reported: list[int] = []
        fillers = 0
        for step in steps:
            if step == "record":
                tag = f"r{len(submitted)}"
                out = writer.submit(Record(kind="alarm", t=clock.monotonic(), device="model", detail=tag))
                submitted.append(tag)
            elif step == "fill":
                fillers += fill_to_cap(log, clock)
                continue
            elif step == "space":
                space_returns(log)
                continue
            elif step == "wait":
                clock.advance(0.6)
                continue
            else:
                out = writer.flush()
            reported += [seq for seq, _rec in out.committed]
            assert reported == sorted(reported) and log.last_seq >= (reported[-1] if reported else 0)
        space_returns(log)
        clock.advance(1.0)
        reported += [seq for seq, _rec in writer.flush().committed]
        assert not writer.held and writer.lost_total == 0
        log.close()
        result = check_log(Path(d) / "p.db")
    model = [r for r in result.rows if r["device"] == "model"]
    assert [r["detail"] for r in model] == submitted              # every record once, in order
    assert reported == [r["seq"] for r in model]                  # reported exactly the committed
    assert result.gap_free and result.integrity == "ok"
    assert len(result.rows) == len(submitted) + fillers
