"""The local model's tool-calling pieces that need no model: the plan, the prompt, the grammar
text, argument parsing; and the stream validator joining a tool call's input fragments."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from strands.event_loop.streaming import process_stream
from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolChoice, ToolSpec
from temporalio.exceptions import ApplicationError

from activities.providers import local_tools
from activities.providers.local import LocalLlamaModel
from activities.providers.validation import join_text_deltas


def spec(name: str, properties: dict[str, Any], required: list[str]) -> ToolSpec:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"name": name, "description": f"The {name} tool.", "inputSchema": {"json": schema}}


ORDER = spec("lookup_order", {"order_id": {"type": "string"}}, ["order_id"])
TIME = spec("current_time", {"timezone": {"type": "string"}}, [])
PING = spec("ping", {}, [])

CONVERSATION: Messages = [
    {"role": "user", "content": [{"text": "Where is A1234?"}]},
    {
        "role": "assistant",
        "content": [
            {"text": "Checking."},
            {"toolUse": {"toolUseId": "t1", "name": "lookup_order", "input": {"order_id": "A1"}}},
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "toolResult": {
                    "toolUseId": "t1",
                    "status": "success",
                    "content": [{"text": "shipped"}, {"json": {"eta": "2 May"}}],
                }
            }
        ],
    },
]


def test_plan_follows_the_tool_choice_and_the_round_limit() -> None:
    specs = [ORDER, TIME]
    assert local_tools.plan(None, None, 0, 1) == ("text", [])
    assert local_tools.plan(specs, None, 0, 1) == ("choose", specs)
    assert local_tools.plan(specs, cast(ToolChoice, {"auto": {}}), 0, 1) == ("choose", specs)
    # After the allowed rounds, auto answers in text ...
    assert local_tools.plan(specs, None, 1, 1) == ("text", specs)
    # ... but a forced choice still calls.
    assert local_tools.plan(specs, cast(ToolChoice, {"any": {}}), 5, 1) == ("call", specs)
    forced = cast(ToolChoice, {"tool": {"name": "current_time"}})
    assert local_tools.plan(specs, forced, 0, 1) == ("call", [TIME])
    with pytest.raises(ValueError, match="'nope'"):
        local_tools.plan(specs, cast(ToolChoice, {"tool": {"name": "nope"}}), 0, 1)


def test_rounds_count_tool_calls_since_the_users_text() -> None:
    assert local_tools.tool_rounds_since_user(CONVERSATION[:1]) == 0
    assert local_tools.tool_rounds_since_user(CONVERSATION) == 1
    again: Messages = [*CONVERSATION, {"role": "user", "content": [{"text": "And B-42?"}]}]
    assert local_tools.tool_rounds_since_user(again) == 0


def test_chat_lists_the_tools_and_writes_calls_and_results_out() -> None:
    chat = local_tools.tool_chat(CONVERSATION, "Be brief.", [ORDER])
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user"]
    system = chat[0]["content"]
    assert system.startswith("Be brief.\n\n")
    listed = system.split("<tools>\n")[1].split("\n</tools>")[0]
    assert json.loads(listed) == {
        "name": "lookup_order",
        "description": "The lookup_order tool.",
        "parameters": ORDER["inputSchema"]["json"],
    }
    assert chat[2]["content"] == (
        'Checking.<tool_call>{"name": "lookup_order", "arguments": {"order_id": "A1"}}</tool_call>'
    )
    response = chat[3]["content"]
    assert response.startswith("<tool_response>") and response.endswith("</tool_response>")
    assert json.loads(response[len("<tool_response>") : -len("</tool_response>")]) == {
        "name": "lookup_order",
        "status": "success",
        "content": 'shipped\n{"eta": "2 May"}',
    }
    # Without tools: no tool list, the exchanges still shown.
    assert local_tools.tool_chat(CONVERSATION, None, None)[0]["role"] == "user"


def test_grammars_come_from_the_schemas() -> None:
    names = local_tools.names_grammar([ORDER, TIME])
    assert names == 'root ::= "lookup_order" | "current_time"'
    order = local_tools.arguments_grammar(ORDER)
    assert order.startswith('root ::= tool-arguments "}</tool_call>"\n')
    assert 'tool-arguments ::= "{" space order-id-kv "}" space' in order
    # Raw control characters are kept out of strings (JSON forbids them), and a string may
    # not start with the call's end.
    assert 'char ::= [^"\\\\\\x00-\\x1F] |' in order
    assert 'string ::= "\\"" (first-char char*)? "\\"" space' in order
    assert 'first-char ::= [^"\\\\\\x00-\\x1F{}<] |' in order
    # No properties means no arguments, not "any object".
    assert 'tool-arguments ::= "{" space  "}" space' in local_tools.arguments_grammar(PING)
    assert local_tools.call_prefix() == '<tool_call>{"name": "'
    assert local_tools.call_prefix("ping") == '<tool_call>{"name": "ping", "arguments": '


def test_arguments_are_parsed_from_the_generated_call_end() -> None:
    assert local_tools.parse_arguments('{"order_id": "A1"} }</tool_call>') == {"order_id": "A1"}
    assert local_tools.parse_arguments("{ }}</tool_call>") == {}
    with pytest.raises(ValueError):
        local_tools.parse_arguments('["A1"]}</tool_call>')


# Bedrock-style: a text block, then one tool call whose input comes in fragments.
FRAGMENTED: list[dict[str, Any]] = [
    {"messageStart": {"role": "assistant"}},
    {"contentBlockDelta": {"delta": {"text": "Let "}, "contentBlockIndex": 0}},
    {"contentBlockDelta": {"delta": {"text": "me see."}, "contentBlockIndex": 0}},
    {"contentBlockStop": {"contentBlockIndex": 0}},
    {"contentBlockStart": {"start": {"toolUse": {"toolUseId": "t9", "name": "lookup_order"}}}},
    {"contentBlockDelta": {"delta": {"toolUse": {"input": '{"order'}}, "contentBlockIndex": 1}},
    {"contentBlockDelta": {"delta": {"toolUse": {"input": '_id": "A1"}'}}, "contentBlockIndex": 1}},
    {"contentBlockStop": {"contentBlockIndex": 1}},
    {"messageStop": {"stopReason": "tool_use"}},
]


async def _replay(events: list[Any]) -> AsyncIterator[StreamEvent]:
    for event in events:
        yield event


async def _message(events: list[Any]) -> Any:
    final: Any = None
    async for typed in process_stream(_replay(events)):
        final = typed
    return final["stop"][:2]


async def test_joining_keeps_what_strands_builds_and_joins_tool_input() -> None:
    joined = [e async for e in join_text_deltas(_replay(FRAGMENTED))]
    assert joined == [
        FRAGMENTED[0],
        {"contentBlockDelta": {"delta": {"text": "Let me see."}, "contentBlockIndex": 0}},
        FRAGMENTED[3],
        FRAGMENTED[4],
        {
            "contentBlockDelta": {
                "delta": {"toolUse": {"input": '{"order_id": "A1"}'}},
                "contentBlockIndex": 1,
            }
        },
        *FRAGMENTED[7:],
    ]
    assert await _message(joined) == await _message(FRAGMENTED)
    stop_reason, message = await _message(joined)
    assert stop_reason == "tool_use"
    assert message["content"][1] == {
        "toolUse": {"toolUseId": "t9", "name": "lookup_order", "input": {"order_id": "A1"}}
    }


async def test_two_tool_calls_are_not_joined_together() -> None:
    second = [
        {"contentBlockStart": {"start": {"toolUse": {"toolUseId": "t10", "name": "lookup_order"}}}},
        {"contentBlockDelta": {"delta": {"toolUse": {"input": '{"order_id": "B2"}'}}}},
        {"contentBlockStop": {}},
    ]
    events = [*FRAGMENTED[4:8], *second, FRAGMENTED[-1]]
    joined = [e async for e in join_text_deltas(_replay(events))]
    assert len([e for e in joined if "contentBlockDelta" in e]) == 2
    assert await _message(joined) == await _message(events)


async def test_forcing_an_unknown_tool_ends_the_turn_at_once(tmp_path: Path) -> None:
    """Checked before the model file is even needed: no retry would help."""
    model = LocalLlamaModel(tmp_path / "never-loaded.gguf")
    forced = cast(ToolChoice, {"tool": {"name": "nope"}})
    with pytest.raises(ApplicationError) as caught:
        _ = [e async for e in model.stream(CONVERSATION[:1], [ORDER], None, tool_choice=forced)]
    assert caught.value.non_retryable
    assert caught.value.type == "UnknownTool"
