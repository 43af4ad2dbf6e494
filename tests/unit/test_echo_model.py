"""The echo provider speaks Strands' stream protocol and works in a plain Strands Agent."""

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
