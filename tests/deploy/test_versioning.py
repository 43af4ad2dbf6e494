"""A v1 -> v2 deploy under Worker Versioning moves every open session, at a safe point.

Real ``convoflow worker`` processes join one Worker Deployment as ``v1`` and then ``v2``;
the operator's step is the documented ``temporal worker deployment set-current-version``.
Pinned sessions stay on v1 until their next turn; after it they continue-as-new onto v2
with all their state. Nothing is lost, no workflow task fails, and v1 drains.
"""

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, TimeoutType, VersioningBehavior

from client import SessionClient
from models import SessionConfig
from tests.conftest import make_settings
from tests.faults.figures import record
from tests.faults.procs import WorkerProcess
from tests.helpers import assert_well_formed, eventually, new_session_id, temporal
from worker.client import connect_client

SESSIONS = 8


async def set_current(address: str, deployment: str, build_id: str) -> None:
    """The operator's step: make ``build_id`` the deployment's current version."""
    await temporal(
        address,
        "worker",
        "deployment",
        "set-current-version",
        "--deployment-name",
        deployment,
        "--build-id",
        build_id,
        "--yes",
    )


async def version_info(address: str, deployment: str, build_id: str) -> dict[str, Any] | None:
    """``describe-version`` as JSON, or None while the version is not registered yet."""
    try:
        result = await temporal(
            address,
            "worker",
            "deployment",
            "describe-version",
            "--deployment-name",
            deployment,
            "--build-id",
            build_id,
        )
    except AssertionError:
        return None
    return dict(result)


async def pinned_to(sessions: SessionClient, session_id: str) -> tuple[str, int]:
    """(build id, behaviour) of the session's latest run."""
    description = await sessions.handle(session_id).describe()
    info = description.raw_description.workflow_execution_info.versioning_info
    return info.deployment_version.build_id, info.behavior


async def failed_tasks(sessions: SessionClient, session_id: str) -> tuple[list[str], int]:
    """(the workflow tasks that failed or ran out of time, runs) over every run of the session.

    A sticky task that waited past its schedule-to-start timeout is left out: under load the
    server hands it to the normal queue, which is how stickiness is meant to fail over, not a
    fault of the session's code (a non-determinism error is a failed task; a worker stuck in
    a task is a start-to-close timeout).
    """
    client = sessions.temporal
    failed: list[str] = []
    runs = 0
    handle = sessions.handle(session_id)
    run_id = (await handle.describe()).run_id
    while run_id:  # walk back the chain of runs through each run's first event
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                cause = event.workflow_task_failed_event_attributes
                failed.append(f"run {runs}: failed: {cause.cause} {cause.failure.message}")
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                kind = event.workflow_task_timed_out_event_attributes.timeout_type
                if kind != TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START:
                    failed.append(f"run {runs}: timed out: {TimeoutType.Name(kind)}")
        runs += 1
        run_id = history.events[
            0
        ].workflow_execution_started_event_attributes.continued_execution_run_id
    return failed, runs


@pytest.mark.timeout(300)
async def test_deploy_moves_every_session_to_v2(versioned_address: str, tmp_path: Path) -> None:
    address = versioned_address
    deployment = f"convoflow-{uuid.uuid4().hex[:6]}"
    queue = f"deploy-{uuid.uuid4().hex[:6]}"
    settings = make_settings(address, tmp_path, task_queue=queue)
    sessions = SessionClient(await connect_client(settings), settings)

    def worker(build_id: str) -> WorkerProcess:
        return WorkerProcess(
            address,
            queue,
            tmp_path,
            tmp_path / build_id,
            echo_delay_ms=0,
            extra_env={
                "CONVOFLOW_DEPLOYMENT_NAME": deployment,
                "CONVOFLOW_BUILD_ID": build_id,
            },
        )

    v1, v2 = worker("v1"), worker("v2")
    for process in (v1, v2):
        process.log_dir.mkdir()
    await v1.start()
    try:
        await eventually(
            lambda: version_info(address, deployment, "v1"), lambda i: i is not None, timeout=30
        )
        await set_current(address, deployment, "v1")

        # v1 serves the sessions; each is pinned to v1.
        ids = [new_session_id("deploy") for _ in range(SESSIONS)]
        config = SessionConfig(model="echo")
        await asyncio.gather(
            *(sessions.send(s, "hello v1", user_id="u", config=config) for s in ids)
        )
        for session_id in ids:
            assert await pinned_to(sessions, session_id) == (
                "v1",
                VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
            )

        # v2 starts and becomes current; v1 keeps serving until each session moves.
        await v2.start()
        await eventually(
            lambda: version_info(address, deployment, "v2"), lambda i: i is not None, timeout=30
        )
        switched = time.monotonic()
        await set_current(address, deployment, "v2")

        # One turn per session: answered at the safe point, then the session moves.
        await asyncio.gather(*(sessions.send(s, "during the deploy", user_id="u") for s in ids))

        async def all_on_v2() -> list[str]:
            return [(await pinned_to(sessions, s))[0] for s in ids]

        await eventually(all_on_v2, lambda builds: set(builds) == {"v2"}, timeout=60)
        moved_seconds = time.monotonic() - switched
        record("deploy v1 -> v2", sessions=SESSIONS, seconds_to_all_on_v2=round(moved_seconds, 2))

        # v1 drains and can stop; v2 answers the next turns with the carried state.
        drained = await eventually(
            lambda: version_info(address, deployment, "v1"),
            lambda i: i is not None and "drained" in str(i).lower(),
            timeout=90,
            interval=1,
        )
        assert drained is not None
        await v1.stop()
        await asyncio.gather(*(sessions.send(s, "after the deploy", user_id="u") for s in ids))
        for session_id in ids:
            assert await pinned_to(sessions, session_id) == (
                "v2",
                VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
            )
            history = await sessions.history(session_id)
            assert [m.message for m in history if m.role == "user"] == [
                "hello v1",
                "during the deploy",
                "after the deploy",
            ]
            assert_well_formed(history)
            assert (await sessions.status(session_id)).turns == 3
            failed, runs = await failed_tasks(sessions, session_id)
            assert (failed, runs) == ([], 2)  # one continue-as-new: the move to v2
    finally:
        await v1.stop()
        await v2.stop()


@pytest.mark.timeout(300)
async def test_a_turn_in_progress_finishes_on_v1_then_moves(
    versioned_address: str, tmp_path: Path
) -> None:
    """The switch lands mid-turn: the turn is answered by v1 (never cut), and the session
    moves right after it, without waiting for another message."""
    address = versioned_address
    deployment = f"convoflow-{uuid.uuid4().hex[:6]}"
    queue = f"deploy-{uuid.uuid4().hex[:6]}"
    settings = make_settings(address, tmp_path, task_queue=queue)
    sessions = SessionClient(await connect_client(settings), settings)
    workers = {
        build_id: WorkerProcess(
            address,
            queue,
            tmp_path,
            tmp_path,
            echo_delay_ms=150,  # a 20-word echo takes ~3 s
            extra_env={"CONVOFLOW_DEPLOYMENT_NAME": deployment, "CONVOFLOW_BUILD_ID": build_id},
        )
        for build_id in ("v1", "v2")
    }
    try:
        for build_id, process in workers.items():
            await process.start()
            await eventually(
                lambda b=build_id: version_info(address, deployment, b),  # type: ignore[misc]
                lambda i: i is not None,
                timeout=30,
            )
            if build_id == "v1":
                await set_current(address, deployment, "v1")
                session_id = new_session_id("midturn")
                await sessions.send(session_id, "hi", user_id="u", config=SessionConfig())
        long_text = " ".join(f"word{n}" for n in range(20))
        turn = asyncio.create_task(sessions.send(session_id, long_text, user_id="u"))
        await asyncio.sleep(1.0)  # the model call is streaming on v1
        assert not turn.done()
        await set_current(address, deployment, "v2")
        reply = await turn
        assert reply.reply == f"echo: {long_text}"
        await eventually(
            lambda: pinned_to(sessions, session_id),
            lambda pinned: pinned[0] == "v2",
            timeout=30,
        )
        assert await failed_tasks(sessions, session_id) == ([], 2)
        history = await sessions.history(session_id)
        assert [m.message for m in history if m.role == "user"] == ["hi", long_text]
        assert_well_formed(history)
    finally:
        for process in workers.values():
            await process.stop()
