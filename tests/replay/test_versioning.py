"""Replay catches a workflow change that would break running sessions; ``patched`` fixes it."""

from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.worker import Replayer

from models import ChatMessage, SessionInput, SessionSummary
from models.settings import Settings
from worker.client import client_plugins
from worker.replay import load_history
from workflows.session import SessionWorkflow

HISTORY = Path(__file__).resolve().parent.parent / "histories" / "basic_turns.json"


@workflow.defn(name="SessionWorkflow", sandboxed=False)
class UnpatchedChange(SessionWorkflow):
    """Adds a timer before every model turn, with no version guard."""

    @workflow.run
    async def run(self, input: SessionInput) -> SessionSummary:
        return await super().run(input)

    async def _take_turn(self, message: ChatMessage) -> None:
        await workflow.sleep(timedelta(milliseconds=1))
        await super()._take_turn(message)


@workflow.defn(name="SessionWorkflow", sandboxed=False)
class PatchedChange(SessionWorkflow):
    """The same change behind ``workflow.patched``: old histories take the old path."""

    @workflow.run
    async def run(self, input: SessionInput) -> SessionSummary:
        return await super().run(input)

    async def _take_turn(self, message: ChatMessage) -> None:
        if workflow.patched("pause-before-turn"):
            await workflow.sleep(timedelta(milliseconds=1))
        await super()._take_turn(message)


async def replay_with(workflow_class: type) -> str | None:
    replayer = Replayer(workflows=[workflow_class], plugins=client_plugins(Settings()))
    result = await replayer.replay_workflow(load_history(HISTORY), raise_on_replay_failure=False)
    return None if result.replay_failure is None else str(result.replay_failure)


async def test_current_code_replays() -> None:
    assert await replay_with(SessionWorkflow) is None


async def test_unpatched_change_to_turn_order_is_caught() -> None:
    failure = await replay_with(UnpatchedChange)
    assert failure is not None and "nondetermin" in failure.lower()


async def test_patched_change_replays() -> None:
    assert await replay_with(PatchedChange) is None
