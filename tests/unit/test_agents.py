"""Agent definitions, the registry and its loader, built-in tools, argument checks and the
history's record of tool calls, without a server."""

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError

from agents import (
    ASSISTANT_AGENT,
    AgentDefinition,
    AgentDefinitionError,
    AgentRegistry,
    ToolContext,
    ToolContextError,
    calculator,
    current_time,
    load_agents,
    recall_memory,
    tool_context,
)
from agents.calculator import CalculatorError, evaluate, format_number
from agents.context import HEADER, decode_context, running
from models import ActorRef, ChatMessage, MemoryRecord
from workflows.session.agent import check_arguments
from workflows.tool_calls import (
    TOOL_CALLS,
    bounded_input,
    kept_tool_calls,
    reply_model_messages,
    tool_calls_of,
)
from workflows.window import model_messages


@activity.defn
async def lookup(order_id: str, verbose: bool = False) -> str:
    """Look an order up."""
    return order_id


@activity.defn(name="lookup")
async def other_lookup(order_id: str) -> str:
    """Another activity with the same name."""
    return order_id


@activity.defn
def blocking(x: int) -> int:
    """Not async."""
    return x


async def not_an_activity(x: int) -> int:
    """No decorator."""
    return x


# ------------------------------------------------------------------ definitions


def test_a_bare_activity_becomes_a_tool_with_default_options() -> None:
    agent = AgentDefinition(name="a", tools=[lookup])
    (tool,) = agent.tool_definitions
    assert tool.name == "lookup" and tool.start_to_close_timeout.total_seconds() == 30
    assert agent.uses_tools and not AgentDefinition(name="b").uses_tools


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: AgentDefinition(name="bad name"), "invalid agent name"),
        (lambda: AgentDefinition(name="a", tools=[not_an_activity]), "not a Temporal activity"),
        (lambda: AgentDefinition(name="a", tools=[blocking]), "must be an async function"),
        (lambda: AgentDefinition(name="a", tools=[lookup, other_lookup]), "two tools named"),
        (lambda: AgentDefinition(name="a", max_tool_calls=-1), "max_tool_calls"),
    ],
)
def test_bad_definitions_say_what_to_fix(build: Any, words: str) -> None:
    with pytest.raises(AgentDefinitionError, match=words):
        build()


def test_the_registry_refuses_conflicts_and_unknown_providers() -> None:
    registry = AgentRegistry()
    assert registry.names() == ["assistant", "default"]
    first = AgentDefinition(name="support", tools=[lookup])
    registry.register(first)
    registry.register(first)  # the same definition again: nothing happens
    with pytest.raises(AgentDefinitionError, match="two different agents"):
        registry.register(AgentDefinition(name="support"))
    with pytest.raises(AgentDefinitionError, match="already used by another activity"):
        registry.register(AgentDefinition(name="other", tools=[other_lookup]))
    registry.register(AgentDefinition(name="remote", model="bedrock"))
    registry.check_providers(["bedrock", "echo"])
    registry.register(AgentDefinition(name="typo", model="bedrok"))
    with pytest.raises(AgentDefinitionError, match="'bedrok', which is not registered"):
        registry.check_providers(["bedrock", "echo"])
    assert [a.__name__ for a in registry.tool_activities()] == [
        "recall_memory",
        "current_time",
        "calculator",
        "lookup",
    ]
    assert "agents: assistant, default" in registry.unknown_agent_message("nope")


def _module(tmp_path: Path, body: str) -> str:
    name = f"agents_mod_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(body)
    return name


def test_load_agents_registers_module_level_definitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = _module(
        tmp_path,
        "from agents import AgentDefinition\n"
        "one = AgentDefinition(name='one')\n"
        "AGENTS = [AgentDefinition(name='two')]\n",
    )
    registry = AgentRegistry()
    loaded = load_agents([name], registry)
    assert sorted(a.name for a in loaded) == ["one", "two"]
    assert registry.names() == ["assistant", "default", "one", "two"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("x = 1\n", "defines no AgentDefinition"),
        ("import nothing_here_at_all\n", "cannot import agents module"),
        (
            "from agents import AgentDefinition\nasync def f(): ...\n"
            "a = AgentDefinition(name='a', tools=[f])\n",
            "is not a Temporal activity",
        ),
        (
            "from agents import AgentDefinition\nd = AgentDefinition(name='default')\n",
            "two different agents are named 'default'",
        ),
    ],
)
def test_a_bad_agents_module_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, words: str
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = _module(tmp_path, body)
    with pytest.raises(AgentDefinitionError, match=words) as raised:
        load_agents([name], AgentRegistry())
    assert "\n" not in str(raised.value)
    assert name in str(raised.value) or "missing" in str(raised.value)


# -------------------------------------------------------------- built-in tools


@pytest.mark.parametrize(
    ("expression", "value"),
    [("2+3*4", "14"), ("(2+3)*4", "20"), ("2^10", "1024"), ("7/2", "3.5"), ("-3 % 5", "2")],
)
def test_calculator(expression: str, value: str) -> None:
    assert format_number(evaluate(expression)) == value


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "().__class__.__bases__",
        "open('/etc/passwd')",
        "x + 1",
        "9**9**9",
        "1/0",
        "lambda: 1",
        "[1, 2]",
        "'a' * 3",
        "",
        "(" * 300 + "1" + ")" * 300,
    ],
)
def test_calculator_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(CalculatorError):
        evaluate(expression)


def _context(user: str | None = "alice") -> ToolContext:
    return ToolContext(
        tenant_id="acme",
        session_id="s1",
        user_id=user,
        message_id="m1",
        tool_use_id="t1",
        tool_name="x",
        agent="assistant",
    )


async def test_builtin_tools_as_activities_would_run_them() -> None:
    with running(_context()):
        assert await calculator("2+3*4") == "14"
        assert (await current_time()).endswith("+00:00")
        assert (await current_time("Asia/Tokyo")).endswith("+09:00")
        with pytest.raises(ApplicationError, match="unknown time zone"):
            await current_time("Mars/Olympus")
        with pytest.raises(ApplicationError, match="division by zero"):
            await calculator("1/0")


class _Store:
    def __init__(self) -> None:
        self.asked: list[ActorRef] = []

    async def search_memories(self, actor: ActorRef, query: str, **_: Any) -> list[MemoryRecord]:
        self.asked.append(actor)
        return [MemoryRecord(record_id="r", namespace="n", kind="fact", text=f"{actor.actor_id}")]


async def test_recall_memory_reads_only_the_sessions_user() -> None:
    store = _Store()
    with running(_context("alice"), store):
        answer = await recall_memory("what does bob like? user_id=bob tenant=other")
    assert store.asked == [ActorRef(tenant_id="acme", actor_id="alice")]
    assert answer == "- (fact) alice"
    with running(_context(None), store):
        assert "no user" in await recall_memory("anything")
    assert len(store.asked) == 1
    assert [t.name for t in ASSISTANT_AGENT.tool_definitions] == [
        "recall_memory",
        "current_time",
        "calculator",
    ]


def test_tool_context_outside_a_tool_call_is_an_error() -> None:
    with pytest.raises(ToolContextError):
        tool_context()


def test_the_context_header_round_trips() -> None:
    from temporalio.converter import PayloadConverter

    context = _context()
    payload = PayloadConverter.default.to_payload(context.model_dump(mode="json"))
    assert decode_context(payload) == context
    assert context.idempotency_key == "acme:s1:m1:t1"
    assert HEADER == "convoflow-tool-context"


# ---------------------------------------------------------------- arguments


def test_arguments_are_checked_against_the_schema() -> None:
    from strands.tools.decorator import FunctionToolMetadata

    model = FunctionToolMetadata(lookup).input_model
    assert check_arguments("lookup", model, {"order_id": "A-1"}) == (
        {"order_id": "A-1", "verbose": False},
        None,
    )
    for given, words in [
        ({}, "order_id: Field required"),
        ({"order_id": "A", "user_id": "bob"}, "unknown ['user_id']"),
        ({"order_id": {"nested": 1}}, "order_id"),
        ("A-1", "expected a JSON object"),
    ]:
        arguments, problem = check_arguments("lookup", model, given)
        assert arguments is None and problem is not None and words in problem, problem


# ------------------------------------------------------------- history record


def _use(use_id: str, name: str, given: dict[str, Any]) -> dict[str, Any]:
    return {"toolUse": {"toolUseId": use_id, "name": name, "input": given}}


def _result(use_id: str, status: str, block: dict[str, Any]) -> dict[str, Any]:
    return {"toolResult": {"toolUseId": use_id, "status": status, "content": [block]}}


def _turn_messages() -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": [{"text": "/tool a {}\n/tool b {}"}]},
        {"role": "assistant", "content": [_use("1", "a", {})]},
        {"role": "user", "content": [_result("1", "success", {"text": "A" * 5000})]},
        {
            "role": "assistant",
            "content": [
                {"text": "checking"},
                _use("2", "b", {"q": "x" * 3000}),
                _use("3", "c", {}),
            ],
        },
        {"role": "user", "content": [_result("2", "error", {"json": {"e": 1}})]},
        {"role": "assistant", "content": [{"text": "done"}]},
    ]


def test_tool_calls_are_recorded_bounded_and_complete() -> None:
    calls = tool_calls_of(_turn_messages())
    assert [(c.tool_use_id, c.name, c.status, c.round) for c in calls] == [
        ("1", "a", "success", 0),
        ("2", "b", "error", 1),
    ]  # "3" never got a result: left out, so no toolUse is ever without its toolResult
    assert len(calls[0].result) <= 2000 and calls[0].result_chars == 5000
    assert calls[1].result == '{"e": 1}'
    assert "truncated" in calls[1].input
    assert bounded_input({"k": 1}) == {"k": 1}


def test_a_reply_with_tool_calls_goes_back_to_the_model_as_pairs() -> None:
    calls = [c.model_dump(mode="json") for c in tool_calls_of(_turn_messages())]
    user = ChatMessage(message_id="u", message="question")
    reply = ChatMessage(
        message_id="r", role="assistant", message="done", reply_to="u", metadata={TOOL_CALLS: calls}
    )
    assert [c.name for c in kept_tool_calls(reply)] == ["a", "b"]
    messages = model_messages([user, reply], 10)
    assert [m["role"] for m in messages] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    uses = [b["toolUse"]["toolUseId"] for m in messages for b in m["content"] if "toolUse" in b]
    results = [
        b["toolResult"]["toolUseId"] for m in messages for b in m["content"] if "toolResult" in b
    ]
    assert uses == results == ["1", "2"]
    assert messages[-1] == {"role": "assistant", "content": [{"text": "done"}]}
    plain = ChatMessage(message_id="p", role="assistant", message="hi", reply_to="u")
    assert reply_model_messages(plain) == [{"role": "assistant", "content": [{"text": "hi"}]}]
    broken = reply.model_copy(update={"metadata": {TOOL_CALLS: [{"nope": 1}, "x"]}})
    assert reply_model_messages(broken) == [{"role": "assistant", "content": [{"text": "done"}]}]
    json.dumps(messages)
