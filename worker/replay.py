"""Replaying recorded session histories against the current workflow code."""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from agents import ToolContextInterceptor, load_agents
from models.settings import Settings
from worker.client import client_plugins
from workflows.session import SessionWorkflow


@dataclass(frozen=True)
class ReplayOutcome:
    """Whether one history replayed, and why not."""

    workflow_id: str
    source: str
    ok: bool
    error: str | None = None


def replayer(settings: Settings | None = None) -> Replayer:
    """A Replayer for the session workflow (with the Strands plugin, which it needs).

    With codec keys in ``settings`` it also decrypts encrypted histories (plaintext ones
    still replay: unencrypted payloads pass through the codec). The agents of
    ``settings.worker.agents`` are loaded: a session replays with the agent it was recorded with.
    """
    settings = settings or Settings()
    load_agents(settings.worker.agent_modules)
    return Replayer(
        workflows=[SessionWorkflow],
        plugins=client_plugins(settings),
        interceptors=[ToolContextInterceptor()],
    )


def load_history(path: Path) -> WorkflowHistory:
    """Load a history saved as JSON (``temporal workflow show -o json`` or ``to_json()``)."""
    text = path.read_text()
    return WorkflowHistory.from_json(path.stem, text)


async def replay_histories(
    histories: Iterable[tuple[str, WorkflowHistory]], settings: Settings | None = None
) -> list[ReplayOutcome]:
    """Replay each ``(source, history)``; report every one, failures included."""
    outcomes = []
    runner = replayer(settings)
    for source, history in histories:
        result = await runner.replay_workflow(history, raise_on_replay_failure=False)
        error = None if result.replay_failure is None else str(result.replay_failure)
        outcomes.append(ReplayOutcome(history.workflow_id, source, error is None, error))
    return outcomes
