"""The embedded local LLM (SmolLM2-135M via llama-cpp-python) answering through the workflow."""

from typing import Any, cast

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest
from strands import Agent, tool
from strands.event_loop.streaming import process_stream
from strands.models import Model
from strands.types.content import Message, Messages
from strands.types.tools import ToolChoice, ToolSpec

from activities.providers import model_factories
from activities.providers.local import LocalLlamaModel, chat_messages
from activities.providers.validation import ValidatedStreamModel
from client import Delta, SessionClient
from models import ChatReply, SessionConfig
from models.settings import Settings
from tests.helpers import new_session_id

pytestmark = pytest.mark.local_model

LOCAL = SessionConfig(model="local", system_prompt="You are a concise assistant.")


async def test_local_model_answers_a_question(sessions: SessionClient) -> None:
    session_id = new_session_id("local")
    reply = await sessions.send(session_id, "What is the capital of France?", config=LOCAL)
    assert reply.reply.strip(), "the model gave no text"
    assert reply.stop_reason in ("end_turn", "max_tokens")
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens

    follow_up = await sessions.send(session_id, "Say that again in one word.")
    assert follow_up.reply.strip()
    # The second prompt carries the first turn as context, so the model read more tokens.
    assert follow_up.usage.input_tokens > reply.usage.input_tokens
    status = await sessions.status(session_id)
    assert status.usage.output_tokens == reply.usage.output_tokens + follow_up.usage.output_tokens


async def test_local_model_streams_tokens(sessions: SessionClient) -> None:
    session_id = new_session_id("local-stream")
    deltas: list[str] = []
    final: ChatReply | None = None
    async for item in sessions.stream(session_id, "Name three colours.", config=LOCAL):
        if isinstance(item, Delta):
            deltas.append(str(item))
        elif isinstance(item, ChatReply):
            final = item
    assert final is not None and final.reply.strip()
    assert len(deltas) > 1 and "".join(deltas) == final.reply


async def test_local_model_directly_uses_the_gguf_chat_template() -> None:
    model = LocalLlamaModel(max_tokens=16)
    assert "<|im_start|>" in model.llama().metadata["tokenizer.chat_template"]


def test_chat_messages_put_system_prompt_first() -> None:
    chat = chat_messages(
        [
            {"role": "user", "content": [{"text": "hi"}]},
            {"role": "assistant", "content": [{"text": "hello"}, {"text": "!"}]},
        ],
        "Be brief.",
    )
    assert chat == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello!"},
    ]


# --- tool calling: grammar-constrained calls from the real model ------------------------------

ORDER_TOOL: ToolSpec = {
    "name": "lookup_order",
    "description": "Look up an order by its id.",
    "inputSchema": {
        "json": {
            "type": "object",
            "properties": {"order_id": {"type": "string", "description": "the order's id"}},
            "required": ["order_id"],
        }
    },
}
TIME_TOOL: ToolSpec = {
    "name": "current_time",
    "description": "Get the current date and time, optionally in a timezone.",
    "inputSchema": {
        "json": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": []}
    },
}
PING_TOOL: ToolSpec = {
    "name": "ping",
    "description": "Check that the service is up.",
    "inputSchema": {"json": {"type": "object", "properties": {}}},
}
TOOLS = [TIME_TOOL, ORDER_TOOL, PING_TOOL]


def local_provider() -> Model:
    """The registered ``local`` provider, wrapped in the stream validator as the worker has it."""
    model = model_factories(Settings())["local"]()
    assert isinstance(model, ValidatedStreamModel)
    return model


async def turn(
    messages: Messages, tools: list[ToolSpec], choice: ToolChoice | None = None
) -> tuple[str, Message]:
    """One model call: Strands' stop reason and the assistant message it builds."""
    events = local_provider().stream(messages, tools, "You are helpful.", tool_choice=choice)
    final: Any = None
    async for typed in process_stream(events):
        final = typed
    stop_reason, message, _usage, _metrics = final["stop"]
    return str(stop_reason), cast(Message, message)


def tool_uses(message: Message) -> list[dict[str, Any]]:
    return [dict(block["toolUse"]) for block in message["content"] if "toolUse" in block]


def ask(text: str) -> Messages:
    return [{"role": "user", "content": [{"text": text}]}]


async def test_local_model_calls_one_of_the_tools_with_valid_arguments() -> None:
    stop_reason, message = await turn(ask("Where is my order A1234?"), TOOLS)
    assert stop_reason == "tool_use"
    (use,) = tool_uses(message)
    specs = {spec["name"]: spec for spec in TOOLS}
    assert use["name"] in specs
    jsonschema.validate(use["input"], specs[use["name"]]["inputSchema"]["json"])
    assert use["toolUseId"].startswith("tooluse_")


@pytest.mark.parametrize(
    ("tool", "prompt"),
    [(ORDER_TOOL, "Where is my order A1234?"), (PING_TOOL, "Is the service up?")],
)
async def test_local_model_calls_the_tool_it_is_told_to(tool: ToolSpec, prompt: str) -> None:
    choice = cast(ToolChoice, {"tool": {"name": tool["name"]}})
    stop_reason, message = await turn(ask(prompt), TOOLS, choice)
    assert stop_reason == "tool_use"
    (use,) = tool_uses(message)
    assert use["name"] == tool["name"]
    jsonschema.validate(use["input"], tool["inputSchema"]["json"])
    if tool is PING_TOOL:
        assert use["input"] == {}
    else:
        assert isinstance(use["input"]["order_id"], str) and use["input"]["order_id"]


async def test_local_model_answers_in_text_once_the_tool_result_is_back() -> None:
    history: Messages = [
        *ask("Where is my order A1234?"),
        {
            "role": "assistant",
            "content": [
                {
                    "toolUse": {
                        "toolUseId": "tooluse_1",
                        "name": "lookup_order",
                        "input": {"order_id": "A1234"},
                    }
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "tooluse_1",
                        "status": "success",
                        "content": [{"text": "Order A1234 shipped on 2 May."}],
                    }
                }
            ],
        },
    ]
    stop_reason, message = await turn(history, TOOLS)
    assert stop_reason in ("end_turn", "max_tokens")
    assert not tool_uses(message)
    assert "".join(str(b.get("text", "")) for b in message["content"]).strip()


async def test_strands_agent_loop_runs_a_tool_with_the_local_model() -> None:
    """Strands' own agent loop: the local model calls the tool, the tool runs, the model reads
    the result and answers in text."""
    calls: list[str] = []

    @tool
    def lookup_order(order_id: str) -> str:
        """Look up an order by its id.

        Args:
            order_id: The order's id.
        """
        calls.append(order_id)
        return f"Order {order_id} shipped on 2 May."

    agent = Agent(model=local_provider(), tools=[lookup_order], callback_handler=None)
    result = await agent.invoke_async("Where is my order A1234?")
    assert len(calls) == 1
    assert result.stop_reason in ("end_turn", "max_tokens")
    roles = [(m["role"], [next(iter(b)) for b in m["content"]]) for m in agent.messages]
    assert roles[:3] == [("user", ["text"]), ("assistant", ["toolUse"]), ("user", ["toolResult"])]
    assert roles[3][0] == "assistant" and "toolUse" not in roles[3][1]
