"""Three worker processes share one task queue; one is SIGKILLed mid-run; nothing is lost."""

import pytest

from bench.scaleout import run
from tests.faults.figures import record

SESSIONS, TURNS = 40, 5


@pytest.mark.timeout(300)
async def test_three_workers_share_sessions_and_survive_a_kill() -> None:
    result = await run(
        3,
        SESSIONS,
        TURNS,
        kill_at=0.2,
        echo_delay_ms=5,
        # A killed worker's sessions come back after this instead of 10 s.
        tuning={"CONVOFLOW_STICKY_SCHEDULE_TO_START_SECONDS": "3"},
    )
    per_worker = result["turns_per_worker"]
    record(
        "scale-out: 3 workers, worker-0 killed",
        sessions=SESSIONS,
        turns=SESSIONS * TURNS,
        turns_per_worker=per_worker,
        retried_model_calls=result["model_calls_retried"],
        sessions_taken_over=result["sessions_continued_elsewhere"],
        p99_after_kill_ms=result["latency_after_kill"]["p99"],
    )
    # Every worker served turns; the killed one only before its death.
    assert set(per_worker) == {"worker-0", "worker-1", "worker-2"}, per_worker
    assert all(count > 0 for count in per_worker.values()), per_worker
    assert per_worker["worker-0"] < SESSIONS * TURNS / 2
    # Each turn answered exactly once: one model call each, no message lost or doubled.
    assert result["model_calls"] == SESSIONS * TURNS
    assert (result["lost"], result["duplicated"]) == (0, 0)
    # Each session the killed worker had went on elsewhere.
    assert result["sessions_on_worker_0_at_kill"] > 0
    assert result["sessions_continued_elsewhere"] == result["sessions_on_worker_0_at_kill"]
