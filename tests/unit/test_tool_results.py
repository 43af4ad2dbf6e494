"""The worker's rule for long tool results (agents/results.py), in a real activity context:
what text the model gets, what is kept, and a store that cannot keep it failing the attempt."""

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.memory import MemoryRejectedError, SqliteMemoryStore
from agents.results import keep_full_result, model_text
from models import SessionRef
from models.tools import ToolContext
from workflows.tool_calls import tool_calls_of

CONTEXT = ToolContext(
    tenant_id="t1",
    session_id="s1",
    user_id="ann",
    message_id="m-1",
    tool_use_id="tu-1",
    tool_name="lookup",
    agent="support",
)
OWNER = SessionRef(tenant_id="t1", session_id="s1", user_id="ann")


def env(activity_type: str = "lookup") -> ActivityEnvironment:
    environment = ActivityEnvironment()
    environment.info = replace(environment.info, activity_type=activity_type)
    return environment


@dataclass
class Order:
    """A non-string result: the workflow gets it back as a JSON object."""

    order_id: str
    lines: list[str]


def test_the_text_is_what_the_workflow_gives_the_model() -> None:
    order = Order("A-1", ["item"] * 3)
    assert env().run(model_text, "plain", "lookup") == ("plain", True)
    # As the workflow decodes it: a JSON object (the converter writes its keys sorted).
    text, success = env().run(model_text, order, "lookup")
    assert (text, success) == ('{"lines": ["item", "item", "item"], "order_id": "A-1"}', True)
    mcp = {"toolUseId": "x", "status": "error", "content": [{"text": "a"}, {"text": "b"}]}
    assert env("files-call-tool").run(model_text, mcp, "files-call-tool") == ("a\nb", False)


async def test_long_successes_are_kept_and_the_workflow_marks_the_same(tmp_path: Path) -> None:
    store = SqliteMemoryStore(tmp_path / "memory.db")
    try:
        await env().run(keep_full_result, store, CONTEXT, "z" * 2001)
        await env().run(
            keep_full_result, store, CONTEXT.model_copy(update={"tool_use_id": "s"}), "z" * 2000
        )
        assert await store.tool_result(OWNER, "m-1", "tu-1") == "z" * 2001
        assert await store.tool_result(OWNER, "m-1", "s") is None
    finally:
        await store.close()
    # The workflow's side of the same rule: only a success over the bound is marked.
    messages: list[dict[str, Any]] = []
    for use_id, status, text in (
        ("a", "success", "z" * 2001),
        ("b", "success", "z" * 2000),
        ("c", "error", "z" * 5000),
    ):
        messages.append(
            {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": use_id, "name": "lookup", "input": {}}}],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "toolResult": {
                            "toolUseId": use_id,
                            "status": status,
                            "content": [{"text": text}],
                        }
                    }
                ],
            }
        )
    assert [c.full_result_stored for c in tool_calls_of(messages)] == [True, False, False]


class BrokenStore:
    """A store whose save fails the way a backend fails."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def save_tool_result(self, *args: object) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("store", "retryable"),
    [
        (None, True),
        (BrokenStore(OSError("disk full")), True),
        (
            BrokenStore(
                MemoryRejectedError("too big", memory_id="m", operation="CreateEvent", code="V")
            ),
            False,
        ),
    ],
)
async def test_a_result_that_cannot_be_kept_fails_the_attempt(
    store: object, retryable: bool
) -> None:
    with pytest.raises(ApplicationError) as raised:
        await env().run(keep_full_result, store, CONTEXT, "z" * 5000)
    assert raised.value.type == "ToolResultNotStored"
    assert raised.value.non_retryable is not retryable
    assert "5000-character result of lookup" in str(raised.value)
    await env().run(keep_full_result, None, CONTEXT, "short")  # nothing to keep: no store needed
