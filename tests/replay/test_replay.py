"""Recorded histories (tests/histories/, from scripts/record_histories.py) replay on this code."""

from pathlib import Path

from worker.replay import load_history, replay_histories

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def test_recorded_histories_replay() -> None:
    paths = sorted(HISTORIES.glob("*.json"))
    assert len(paths) >= 7, "expected the recorded histories to be present"
    outcomes = await replay_histories([(path.name, load_history(path)) for path in paths])
    failures = {o.source: o.error for o in outcomes if not o.ok}
    assert failures == {}
    assert len(outcomes) == len(paths)
