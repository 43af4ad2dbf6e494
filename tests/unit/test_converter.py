"""The shared-adapter payload converter converts exactly like the pydantic one."""

from datetime import UTC, datetime
from typing import Any

from strands.types.streaming import StreamEvent
from temporalio.contrib.pydantic import PydanticPayloadConverter

from models import ChatMessage, ChatReply
from worker.converter import SharedAdapterPydanticPayloadConverter, shared_type_adapter

VALUES: list[tuple[object, Any]] = [
    (
        ChatReply(message_id="m", reply_message_id="r", session_id="s", tenant_id="t", reply="hi"),
        ChatReply,
    ),
    ([ChatMessage(message="x", timestamp=datetime(2026, 1, 1, tzinfo=UTC))], list[ChatMessage]),
    (
        [
            {"contentBlockDelta": {"delta": {"text": "a"}}},
            {"messageStop": {"stopReason": "end_turn"}},
        ],
        list[StreamEvent],
    ),
    ({"plain": [1, 2.5, None, "x"]}, dict),
    (None, type(None)),
]


def test_same_payloads_and_values_as_the_pydantic_converter() -> None:
    ours, theirs = SharedAdapterPydanticPayloadConverter(), PydanticPayloadConverter()
    for value, hint in VALUES:
        payload = ours.to_payloads([value])[0]
        assert payload == theirs.to_payloads([value])[0]
        assert ours.from_payloads([payload], [hint]) == theirs.from_payloads([payload], [hint])


def test_adapters_are_built_once_per_type() -> None:
    before = shared_type_adapter.cache_info().hits
    for _ in range(3):
        SharedAdapterPydanticPayloadConverter().from_payloads(
            PydanticPayloadConverter().to_payloads([[{"messageStart": {"role": "assistant"}}]]),
            [list[StreamEvent]],
        )
    assert shared_type_adapter.cache_info().hits >= before + 2
