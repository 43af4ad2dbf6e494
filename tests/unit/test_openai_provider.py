"""The ``openai`` provider against a loopback server speaking OpenAI chat completions.

The provider is built through the registry, exactly as the worker builds it, and talks real
HTTP to a server of this test's own on 127.0.0.1: ``POST /v1/chat/completions`` with
``stream: true``, answered with Server-Sent Events (``data: {chunk}`` lines, a final chunk with
``finish_reason``, a usage chunk, ``data: [DONE]``) or with an error status and OpenAI's error
body.
"""

import json
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import openai
import pytest
from strands import Agent, tool
from strands.event_loop.streaming import process_stream
from strands.models.openai import OpenAIModel
from strands.types.content import Message, Messages
from strands.types.exceptions import ContextWindowOverflowException, ModelThrottledException
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolChoice, ToolSpec
from temporalio.exceptions import ApplicationError

from activities.providers import ClassifiedModel, is_retryable, model_factories
from activities.providers.budget import BudgetedModel
from activities.providers.openai import PLACEHOLDER_API_KEY
from activities.providers.validation import ValidatedStreamModel
from models.settings import Settings

MODEL_ID = "smollm2-135m-instruct"
MAX_TOKENS = 77
SYSTEM = "You are terse."
MESSAGES: Messages = [
    {"role": "user", "content": [{"text": "Hi, I am Ann."}]},
    {"role": "assistant", "content": [{"text": "Hello Ann!"}]},
    {"role": "user", "content": [{"text": "What is my name?"}]},
]
USAGE = {"prompt_tokens": 27, "completion_tokens": 5, "total_tokens": 32}


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    """One ``chat.completion.chunk``."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


REPLY_CHUNKS: list[dict[str, Any]] = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Your name"}),
    chunk({"content": " is Ann."}),
    chunk({}, "stop"),
    {**chunk({}), "choices": [], "usage": USAGE},
]


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any]


class FakeOpenAI(ThreadingHTTPServer):
    """Answers each POST with the next scripted :class:`Reply` and records the request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ChatHandler)
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def sse(self, chunks: list[dict[str, Any]]) -> None:
        events = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        self.replies.append(Reply(200, events.encode(), "text/event-stream"))

    def error(self, status: int, message: str, type_: str, code: str | None = None) -> None:
        body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
        self.replies.append(Reply(status, json.dumps(body).encode(), "application/json"))


class _ChatHandler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append(
            Received(
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                json.loads(body or b"{}"),
            )
        )
        if self.path != "/v1/chat/completions":
            reply = Reply(404, b'{"error": {"message": "unknown path"}}', "application/json")
        elif self.server.replies:
            reply = self.server.replies.popleft()
        else:
            reply = Reply(500, b'{"error": {"message": "no reply scripted"}}', "application/json")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("x-request-id", f"req-{len(self.server.received)}")
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """The loopback endpoint, shut down after the test; no OpenAI settings from the shell."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeOpenAI()
    thread = threading.Thread(target=fake.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.shutdown()
        fake.server_close()
        thread.join(timeout=5)


def build_provider(base_url: str | None, api_key: str | None = "sk-test") -> ClassifiedModel:
    """The registered ``openai`` provider, built the way the worker builds it."""
    settings = Settings(
        openai_base_url=base_url,
        openai_api_key=api_key,
        openai_model_id=MODEL_ID,
        openai_max_tokens=MAX_TOKENS,
    )
    validated = model_factories(settings)["openai"]()
    # Every provider comes wrapped in the stream validator and the context budget check;
    # the classifier is inside them.
    assert isinstance(validated, ValidatedStreamModel)
    assert isinstance(validated.inner, BudgetedModel)
    model = validated.inner.inner
    assert isinstance(model, ClassifiedModel)
    assert isinstance(model.inner, OpenAIModel)
    return model


async def run(model: ClassifiedModel) -> list[StreamEvent]:
    return [event async for event in model.stream(MESSAGES, None, SYSTEM)]


async def test_streams_a_reply_over_sse(server: FakeOpenAI) -> None:
    server.sse(REPLY_CHUNKS)
    events = await run(build_provider(server.base_url))

    assert events == [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockStart": {"start": {}}},
        {"contentBlockDelta": {"delta": {"text": "Your name"}}},
        {"contentBlockDelta": {"delta": {"text": " is Ann."}}},
        {"contentBlockStop": {}},
        {"messageStop": {"stopReason": "end_turn"}},
        {
            "metadata": {
                "usage": {"inputTokens": 27, "outputTokens": 5, "totalTokens": 32},
                "metrics": {"latencyMs": 0},
            }
        },
    ]
    (request,) = server.received
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == MODEL_ID
    assert request.body["max_tokens"] == MAX_TOKENS
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": [{"type": "text", "text": "Hi, I am Ann."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello Ann!"}]},
        {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
    ]


async def test_local_server_without_a_key_gets_a_placeholder(server: FakeOpenAI) -> None:
    server.sse(REPLY_CHUNKS)
    await run(build_provider(server.base_url, api_key=None))
    assert server.received[0].headers["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"


async def test_api_key_falls_back_to_openai_api_key(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    server.sse(REPLY_CHUNKS)
    await run(build_provider(server.base_url, api_key=None))
    assert server.received[0].headers["authorization"] == "Bearer sk-from-env"


async def test_openai_without_a_key_is_refused_up_front(server: FakeOpenAI) -> None:
    with pytest.raises(ApplicationError) as caught:
        build_provider(None, api_key=None)
    assert caught.value.non_retryable
    assert caught.value.type == "MissingAPIKey"
    assert "CONVOFLOW_OPENAI_API_KEY" in caught.value.message


async def test_rate_limit_stays_retryable_and_is_sent_once(server: FakeOpenAI) -> None:
    for _ in range(3):
        server.error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded")
    with pytest.raises(ModelThrottledException) as caught:
        await run(build_provider(server.base_url))
    assert not isinstance(caught.value, ApplicationError)
    assert is_retryable(caught.value)
    # The openai client would retry a 429 twice by itself; Temporal retries instead.
    assert len(server.received) == 1


async def test_server_error_stays_retryable_and_is_sent_once(server: FakeOpenAI) -> None:
    for _ in range(3):
        server.error(500, "The server had an error processing your request.", "server_error")
    with pytest.raises(openai.InternalServerError) as caught:
        await run(build_provider(server.base_url))
    assert is_retryable(caught.value)
    assert len(server.received) == 1


async def test_connection_refused_stays_retryable(server: FakeOpenAI) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(openai.APIConnectionError) as caught:
        await run(build_provider(f"http://127.0.0.1:{port}/v1"))
    assert is_retryable(caught.value)


@pytest.mark.parametrize(
    ("status", "name", "provider_says", "we_say"),
    [
        (
            401,
            "AuthenticationError",
            "Incorrect API key provided: sk-test.",
            "The OpenAI-compatible endpoint rejected the API key (401 AuthenticationError): "
            "Incorrect API key provided: sk-test [model smollm2-135m-instruct at http://127.0.0.1",
        ),
        (
            400,
            "BadRequestError",
            "Invalid value for 'temperature': must be between 0 and 2.",
            "The OpenAI-compatible endpoint rejected the request as invalid (400 BadRequestError)",
        ),
        (
            403,
            "PermissionDeniedError",
            "You are not allowed to sample from this model.",
            "The OpenAI-compatible endpoint denied access to the model (403 PermissionDenied",
        ),
        (
            404,
            "NotFoundError",
            "The model `smollm2-135m-instruct` does not exist.",
            "The OpenAI-compatible endpoint could not find the model or the API path",
        ),
        (
            422,
            "UnprocessableEntityError",
            "messages: field required",
            "The OpenAI-compatible endpoint could not process the request (422 Unprocessable",
        ),
    ],
)
async def test_request_errors_end_the_turn(
    server: FakeOpenAI, status: int, name: str, provider_says: str, we_say: str
) -> None:
    server.error(status, provider_says, "invalid_request_error", "some_code")
    with pytest.raises(ApplicationError) as caught:
        await run(build_provider(server.base_url))
    error = caught.value
    assert error.non_retryable
    assert error.type == name
    assert error.message.startswith(we_say)
    assert provider_says.rstrip(".") in error.message
    assert error.__cause__ is None
    assert error.details[0]["status"] == status
    assert error.details[0]["request_id"] == "req-1"
    assert len(server.received) == 1


async def test_context_overflow_is_left_to_the_strands_plugin(server: FakeOpenAI) -> None:
    """Strands turns it into ContextWindowOverflowException, which the plugin's failure
    converter already makes non-retryable: the classifier leaves it alone."""
    server.error(
        400,
        "This model's maximum context length is 8192 tokens.",
        "invalid_request_error",
        "context_length_exceeded",
    )
    with pytest.raises(ContextWindowOverflowException):
        await run(build_provider(server.base_url))


# --- tools: tool specs out, tool_calls back, the tool result in the next request --------------

ORDER_TOOL: ToolSpec = {
    "name": "lookup_order",
    "description": "Look up an order by its id.",
    "inputSchema": {
        "json": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        }
    },
}
WIRE_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up an order by its id.",
            "parameters": ORDER_TOOL["inputSchema"]["json"],
        },
    }
]


def tool_call_chunk(index: int, arguments: str, call_id: str | None = None) -> dict[str, Any]:
    """A ``tool_calls`` delta as OpenAI streams it: id, type and name in the first one only."""
    call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if call_id is not None:
        call.update(id=call_id, type="function")
        call["function"]["name"] = "lookup_order"
    return chunk({"tool_calls": [call]})


# Two parallel calls, their arguments streamed in fragments, finish_reason tool_calls.
TOOL_CALL_CHUNKS: list[dict[str, Any]] = [
    chunk({"role": "assistant", "content": None}),
    tool_call_chunk(0, "", "call_A"),
    tool_call_chunk(0, '{"order_id"'),
    tool_call_chunk(0, ': "A1234"}'),
    tool_call_chunk(1, "", "call_B"),
    tool_call_chunk(1, '{"order_id": "B-42"}'),
    chunk({}, "tool_calls"),
    {**chunk({}), "choices": [], "usage": USAGE},
]


def build_validated(base_url: str) -> ValidatedStreamModel:
    """The ``openai`` provider exactly as the worker's plugin gets it (validator outermost)."""
    settings = Settings(
        openai_base_url=base_url,
        openai_api_key="sk-test",
        openai_model_id=MODEL_ID,
        openai_max_tokens=MAX_TOKENS,
    )
    model = model_factories(settings)["openai"]()
    assert isinstance(model, ValidatedStreamModel)
    return model


async def assistant_message(events: list[StreamEvent]) -> tuple[str, Message]:
    """The stop reason and assistant message Strands' event loop builds from ``events``."""

    async def replay() -> AsyncIterator[StreamEvent]:
        for event in events:
            yield event

    final: Any = None
    async for typed in process_stream(replay()):
        final = typed
    stop_reason, message, _usage, _metrics = final["stop"]
    return str(stop_reason), cast(Message, message)


async def test_tool_calls_stream_back_as_tool_use(server: FakeOpenAI) -> None:
    server.sse(TOOL_CALL_CHUNKS)
    events = [
        e async for e in build_validated(server.base_url).stream(MESSAGES, [ORDER_TOOL], SYSTEM)
    ]

    starts = [e["contentBlockStart"]["start"] for e in events if "contentBlockStart" in e]
    assert starts == [
        {"toolUse": {"name": "lookup_order", "toolUseId": "call_A"}},
        {"toolUse": {"name": "lookup_order", "toolUseId": "call_B"}},
    ]
    assert {"messageStop": {"stopReason": "tool_use"}} in events
    stop_reason, message = await assistant_message(events)
    assert stop_reason == "tool_use"
    assert message["content"] == [
        {
            "toolUse": {
                "toolUseId": "call_A",
                "name": "lookup_order",
                "input": {"order_id": "A1234"},
            }
        },
        {"toolUse": {"toolUseId": "call_B", "name": "lookup_order", "input": {"order_id": "B-42"}}},
    ]
    (request,) = server.received
    assert request.body["tools"] == WIRE_TOOLS
    # No tool choice given: none sent, which OpenAI reads as "auto".
    assert "tool_choice" not in request.body


async def test_tool_choice_is_sent(server: FakeOpenAI) -> None:
    server.sse(TOOL_CALL_CHUNKS)
    forced = cast(ToolChoice, {"tool": {"name": "lookup_order"}})
    model = build_validated(server.base_url)
    _ = [e async for e in model.stream(MESSAGES, [ORDER_TOOL], SYSTEM, tool_choice=forced)]
    assert server.received[0].body["tool_choice"] == {
        "type": "function",
        "function": {"name": "lookup_order"},
    }


async def test_the_tool_result_goes_back_in_the_next_request(server: FakeOpenAI) -> None:
    """Strands' own agent loop over the provider: the model calls the tool twice, the tools
    run, and the second request carries the assistant's tool_calls and one tool message per
    call."""
    server.sse(TOOL_CALL_CHUNKS)
    server.sse(REPLY_CHUNKS)
    calls: list[str] = []

    @tool
    def lookup_order(order_id: str) -> str:
        """Look up an order by its id.

        Args:
            order_id: The order's id.
        """
        calls.append(order_id)
        return f"Order {order_id}: shipped."

    agent = Agent(
        model=build_validated(server.base_url),
        tools=[lookup_order],
        system_prompt=SYSTEM,
        callback_handler=None,
    )
    result = await agent.invoke_async("Where are my orders A1234 and B-42?")

    assert sorted(calls) == ["A1234", "B-42"]
    assert str(result).strip() == "Your name is Ann."
    first, second = (r.body for r in server.received)
    assert first["tools"] == second["tools"]
    assert [t["function"]["name"] for t in first["tools"]] == ["lookup_order"]
    assert second["messages"][2:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "function": {"arguments": '{"order_id": "A1234"}', "name": "lookup_order"},
                    "id": "call_A",
                    "type": "function",
                },
                {
                    "function": {"arguments": '{"order_id": "B-42"}', "name": "lookup_order"},
                    "id": "call_B",
                    "type": "function",
                },
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_A",
            "content": "Order A1234: shipped.",
        },
        {
            "role": "tool",
            "tool_call_id": "call_B",
            "content": "Order B-42: shipped.",
        },
    ]
