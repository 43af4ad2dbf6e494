"""The echo provider speaks Strands' stream protocol and works in a plain Strands Agent."""

from typing import Any

from strands import Agent

from activities.providers import EchoModel
from activities.providers.echo import echo_tokens


async def test_echo_streams_bedrock_shaped_events() -> None:
    model = EchoModel()
    events = [
        event async for event in model.stream([{"role": "user", "content": [{"text": "hi there"}]}])
    ]
    assert events[0] == {"messageStart": {"role": "assistant"}}
    deltas = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert "".join(deltas) == "echo: hi there"
    assert {"messageStop": {"stopReason": "end_turn"}} in events
    usage = events[-1]["metadata"]["usage"]
    assert usage["outputTokens"] == len(deltas)
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


def test_echo_tokens_are_words() -> None:
    assert echo_tokens("a b") == ["echo: ", "a ", "b"]


async def test_echo_in_a_strands_agent() -> None:
    agent = Agent(model=EchoModel(), callback_handler=None)
    result = await agent.invoke_async("ping")
    assert str(result).strip() == "echo: ping"
    assert result.stop_reason == "end_turn"


async def test_echo_tool_mode_calls_each_tool_then_echoes_the_results() -> None:
    from strands import tool

    from activities.providers.echo import tool_commands

    seen: list[int] = []

    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        seen.append(a + b)
        return a + b

    agent = Agent(model=EchoModel(), tools=[add], callback_handler=None)
    result = await agent.invoke_async('/tool add {"a": 2, "b": 3}\n/tool add {"a": 1, "b": 1}')
    assert str(result).strip() == "echo: 5 | 2" and seen == [5, 2]
    uses = [b["toolUse"] for m in agent.messages for b in m["content"] if "toolUse" in b]
    assert [u["input"] for u in uses] == [{"a": 2, "b": 3}, {"a": 1, "b": 1}]
    assert len({u["toolUseId"] for u in uses}) == 2
    # Not a tool command: as always; bad JSON or an unknown tool: said in the reply.
    assert str(await agent.invoke_async("hello /tool")).strip() == "echo: hello /tool"
    assert "not JSON" in str(await agent.invoke_async("/tool add {oops"))
    assert "Unknown tool" in str(await agent.invoke_async("/tool missing"))
    assert tool_commands("/tool a\n/tool b {}") == [("a", {}), ("b", {})]


async def test_echo_tool_use_ids_are_deterministic() -> None:
    messages: Any = [{"role": "user", "content": [{"text": '/tool t {"x": 1}'}]}]
    first: list[Any] = [e async for e in EchoModel().stream(messages)]
    again = [e async for e in EchoModel().stream(messages)]
    assert first == again
    start = first[1]["contentBlockStart"]["start"]["toolUse"]
    assert start["name"] == "t" and start["toolUseId"].startswith("tooluse_")
    assert {"messageStop": {"stopReason": "tool_use"}} in first
