"""The ``bedrock`` provider against Bedrock's real API model and wire protocol.

The provider is built through the registry, exactly as the worker builds it. Two ways in:

- ``botocore.stub.Stubber`` on the real ``bedrock-runtime`` client it created: botocore
  validates our ConverseStream request against the service model and the Stubber checks it
  equals what we expect; ``add_client_error`` answers with Bedrock's error codes.
- A loopback HTTP server speaking ConverseStream (``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` points
  the real client at it): signed HTTP requests in, ``application/vnd.amazon.eventstream``
  binary frames out, decoded by botocore itself. Stubber cannot do this part: it validates a
  response's ``stream`` member as a structure, so it refuses any iterable of events.
"""

import json
import struct
import threading
import zlib
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]
from botocore.stub import Stubber  # type: ignore[import-untyped, unused-ignore]
from strands import Agent, tool
from strands.event_loop.streaming import process_stream
from strands.models import BedrockModel
from strands.types.content import Message, Messages
from strands.types.exceptions import ModelThrottledException
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolChoice, ToolSpec
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.strands_agents._failure_converter import StrandsFailureConverter

from activities.providers import ClassifiedModel, is_retryable, model_factories
from activities.providers.budget import BudgetedModel
from activities.providers.validation import ValidatedStreamModel
from models.settings import Settings

MODEL_ID = "us.anthropic.claude-test-v1:0"
REGION = "eu-west-1"
MAX_TOKENS = 321
SYSTEM = "You are terse."
MESSAGES: Messages = [
    {"role": "user", "content": [{"text": "Hi, I am Ann."}]},
    {"role": "assistant", "content": [{"text": "Hello Ann!"}]},
    {"role": "user", "content": [{"text": "What is my name?"}]},
]
# The ConverseStream request these must become, as botocore parameters.
EXPECTED_REQUEST: dict[str, Any] = {
    "modelId": MODEL_ID,
    "messages": [
        {"role": "user", "content": [{"text": "Hi, I am Ann."}]},
        {"role": "assistant", "content": [{"text": "Hello Ann!"}]},
        {"role": "user", "content": [{"text": "What is my name?"}]},
    ],
    "system": [{"text": SYSTEM}],
    "inferenceConfig": {"maxTokens": MAX_TOKENS},
}
# A ConverseStream reply, event by event, as Bedrock streams it.
REPLY_EVENTS: list[dict[str, Any]] = [
    {"messageStart": {"role": "assistant"}},
    {"contentBlockDelta": {"delta": {"text": "Your name"}, "contentBlockIndex": 0}},
    {"contentBlockDelta": {"delta": {"text": " is Ann."}, "contentBlockIndex": 0}},
    {"contentBlockStop": {"contentBlockIndex": 0}},
    {"messageStop": {"stopReason": "end_turn"}},
    {
        "metadata": {
            "usage": {"inputTokens": 27, "outputTokens": 5, "totalTokens": 32},
            "metrics": {"latencyMs": 212},
        }
    },
]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials, no instance metadata, no user AWS config: nothing leaves the box."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_BEARER_TOKEN_BEDROCK",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


def build_provider() -> ClassifiedModel:
    """The registered ``bedrock`` provider, built the way the worker builds it."""
    settings = Settings(
        bedrock_model_id=MODEL_ID, bedrock_region=REGION, bedrock_max_tokens=MAX_TOKENS
    )
    validated = model_factories(settings)["bedrock"]()
    # Every provider comes wrapped in the stream validator and the context budget check;
    # the classifier is inside them.
    assert isinstance(validated, ValidatedStreamModel)
    assert isinstance(validated.inner, BudgetedModel)
    model = validated.inner.inner
    assert isinstance(model, ClassifiedModel)
    assert isinstance(model.inner, BedrockModel)
    return model


def bedrock_client(model: ClassifiedModel) -> Any:
    """The real ``bedrock-runtime`` botocore client the provider created."""
    assert isinstance(model.inner, BedrockModel)
    return model.inner.client


async def run(model: ClassifiedModel) -> list[StreamEvent]:
    return [event async for event in model.stream(MESSAGES, None, SYSTEM)]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(
        str(e["contentBlockDelta"]["delta"].get("text", ""))
        for e in events
        if "contentBlockDelta" in e
    )


# --- the client ------------------------------------------------------------------------------


def test_registry_builds_bedrock_with_botocore_retries_off(aws_env: None) -> None:
    model = build_provider()
    client = bedrock_client(model)
    config = client.meta.config
    # One attempt per activity attempt: Temporal does the retrying.
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert config.connect_timeout == 10.0
    assert config.read_timeout == 120.0
    assert client.meta.service_model.service_name == "bedrock-runtime"
    assert client.meta.region_name == REGION
    assert model.get_config()["model_id"] == MODEL_ID
    assert model.get_config()["max_tokens"] == MAX_TOKENS
    assert model.target == f"model {MODEL_ID} in {REGION}"


# --- Stubber: the request against the API model, and Bedrock's error codes ---------------------


async def test_throttling_stays_retryable(aws_env: None) -> None:
    model = build_provider()
    with Stubber(bedrock_client(model)) as stub:
        stub.add_client_error(
            "converse_stream",
            service_error_code="ThrottlingException",
            service_message="Too many requests, please wait before trying again.",
            http_status_code=429,
            expected_params=EXPECTED_REQUEST,
        )
        with pytest.raises(ModelThrottledException) as caught:
            await run(model)
        stub.assert_no_pending_responses()
    assert not isinstance(caught.value, ApplicationError)
    assert is_retryable(caught.value)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ServiceUnavailableException", 503),
        ("InternalServerException", 500),
        ("ModelNotReadyException", 429),
        ("ModelTimeoutException", 408),
        ("ModelErrorException", 424),
    ],
)
async def test_server_side_errors_stay_retryable(aws_env: None, code: str, status: int) -> None:
    model = build_provider()
    with Stubber(bedrock_client(model)) as stub:
        stub.add_client_error(
            "converse_stream",
            service_error_code=code,
            service_message="Try again later.",
            http_status_code=status,
            expected_params=EXPECTED_REQUEST,
        )
        with pytest.raises(ClientError) as caught:
            await run(model)
        stub.assert_no_pending_responses()
    assert caught.value.response["Error"]["Code"] == code
    assert is_retryable(caught.value)


@pytest.mark.parametrize(
    ("code", "status", "provider_says", "we_say"),
    [
        (
            "ValidationException",
            400,
            "The provided model identifier is invalid.",
            "Amazon Bedrock rejected the request as invalid (ValidationException): "
            f"The provided model identifier is invalid [model {MODEL_ID} in {REGION}].",
        ),
        (
            "AccessDeniedException",
            403,
            "You don't have access to the model with the specified model ID.",
            "Amazon Bedrock denied access: check the worker's IAM permissions",
        ),
        (
            "ResourceNotFoundException",
            404,
            "Model not found.",
            "Amazon Bedrock could not find the model: check the model id and the region",
        ),
        (
            "UnrecognizedClientException",
            403,
            "The security token included in the request is invalid.",
            "Amazon Bedrock did not recognise the worker's AWS credentials",
        ),
    ],
)
async def test_request_errors_end_the_turn(
    aws_env: None, code: str, status: int, provider_says: str, we_say: str
) -> None:
    model = build_provider()
    with Stubber(bedrock_client(model)) as stub:
        stub.add_client_error(
            "converse_stream",
            service_error_code=code,
            service_message=provider_says,
            http_status_code=status,
            expected_params=EXPECTED_REQUEST,
        )
        with pytest.raises(ApplicationError) as caught:
            await run(model)
        stub.assert_no_pending_responses()
    error = caught.value
    assert error.non_retryable
    assert error.type == code
    assert error.message.startswith(we_say)
    assert provider_says.rstrip(".") in error.message
    assert f"[model {MODEL_ID} in {REGION}]" in error.message
    # Not chained: the session shows the innermost cause's message, which must be this one.
    assert error.__cause__ is None
    assert error.details[0]["code"] == code
    assert error.details[0]["status"] == status


async def test_terminal_error_crosses_the_activity_boundary_non_retryable(aws_env: None) -> None:
    """What Temporal records for the activity: our message, non-retryable, no raw cause."""
    model = build_provider()
    with Stubber(bedrock_client(model)) as stub:
        stub.add_client_error(
            "converse_stream",
            service_error_code="AccessDeniedException",
            service_message="You don't have access to the model with the specified model ID.",
            http_status_code=403,
        )
        with pytest.raises(ApplicationError) as caught:
            await run(model)
    failure = Failure()
    StrandsFailureConverter().to_failure(
        caught.value, DataConverter.default.payload_converter, failure
    )
    assert failure.application_failure_info.non_retryable
    assert failure.application_failure_info.type == "AccessDeniedException"
    assert failure.message == caught.value.message
    assert not failure.HasField("cause")


async def test_missing_credentials_end_the_turn(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    model = build_provider()
    with pytest.raises(ApplicationError) as caught:
        await run(model)
    assert caught.value.non_retryable
    assert caught.value.type == "NoCredentialsError"
    assert caught.value.message.startswith(
        "The model client for Amazon Bedrock found no AWS credentials on the worker"
    )


# --- the wire: a loopback ConverseStream endpoint -------------------------------------------


def _header(name: str, value: str) -> bytes:
    """One event-stream header of type string (7)."""
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", 7, len(raw_value))
    ) + raw_value


def frame(headers: dict[str, str], payload: dict[str, Any]) -> bytes:
    """One ``application/vnd.amazon.eventstream`` message: prelude, headers, payload, CRCs."""
    raw_headers = b"".join(_header(k, v) for k, v in headers.items())
    body = json.dumps(payload).encode()
    prelude = struct.pack("!II", 12 + len(raw_headers) + len(body) + 4, len(raw_headers))
    message = prelude + struct.pack("!I", zlib.crc32(prelude)) + raw_headers + body
    return message + struct.pack("!I", zlib.crc32(message))


def event_frame(event: dict[str, Any]) -> bytes:
    ((name, payload),) = event.items()
    return frame(
        {":message-type": "event", ":event-type": name, ":content-type": "application/json"},
        payload,
    )


def exception_frame(code: str, message: str) -> bytes:
    return frame(
        {
            ":message-type": "exception",
            ":exception-type": code,
            ":content-type": "application/json",
        },
        {"message": message},
    )


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeBedrock(ThreadingHTTPServer):
    """Answers each POST with the next scripted :class:`Reply` and records the request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _BedrockHandler)
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stream(self, *frames: bytes) -> None:
        self.replies.append(
            Reply(
                200,
                b"".join(frames),
                {"Content-Type": "application/vnd.amazon.eventstream"},
            )
        )

    def error(self, status: int, code: str, message: str) -> None:
        self.replies.append(
            Reply(
                status,
                json.dumps({"message": message}).encode(),
                {"Content-Type": "application/json", "x-amzn-ErrorType": code},
            )
        )


class _BedrockHandler(BaseHTTPRequestHandler):
    server: FakeBedrock

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append(
            Received(self.path, dict(self.headers.items()), json.loads(body or b"{}"))
        )
        replies = self.server.replies
        reply = replies.popleft() if replies else Reply(500, b'{"message": "no reply scripted"}')
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", f"req-{len(self.server.received)}")
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def fake_bedrock(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBedrock]:
    """A loopback Bedrock runtime endpoint the provider's real client is pointed at."""
    server = FakeBedrock()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_converse_stream_over_the_wire(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.stream(*(event_frame(e) for e in REPLY_EVENTS))
    events = await run(build_provider())

    assert events == REPLY_EVENTS
    assert text_of(events) == "Your name is Ann."
    assert events[-1]["metadata"]["usage"] == {
        "inputTokens": 27,
        "outputTokens": 5,
        "totalTokens": 32,
    }
    (request,) = fake_bedrock.received
    assert request.path == f"/model/{MODEL_ID.replace(':', '%3A')}/converse-stream"
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDTEST")
    assert f"/{REGION}/bedrock/aws4_request" in request.headers["Authorization"]
    assert request.body == {k: v for k, v in EXPECTED_REQUEST.items() if k != "modelId"}


async def test_botocore_makes_one_attempt_only(fake_bedrock: FakeBedrock) -> None:
    """A 503 would be retried twice by botocore's default (standard) mode; ours sends once."""
    for _ in range(3):
        fake_bedrock.error(503, "ServiceUnavailableException", "Service is unavailable.")
    with pytest.raises(ClientError) as caught:
        await run(build_provider())
    assert caught.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert is_retryable(caught.value)
    assert len(fake_bedrock.received) == 1


async def test_validation_error_over_the_wire_ends_the_turn(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.error(400, "ValidationException", "The provided model identifier is invalid.")
    with pytest.raises(ApplicationError) as caught:
        await run(build_provider())
    assert caught.value.non_retryable
    assert caught.value.type == "ValidationException"
    assert caught.value.details[0]["request_id"] == "req-1"
    assert len(fake_bedrock.received) == 1


async def test_error_inside_the_stream_is_classified(fake_bedrock: FakeBedrock) -> None:
    """Bedrock reports some failures as exception frames mid-stream, with lower-case codes."""
    start = [event_frame(e) for e in REPLY_EVENTS[:2]]
    fake_bedrock.stream(*start, exception_frame("validationException", "Malformed input."))
    fake_bedrock.stream(*start, exception_frame("throttlingException", "Slow down."))
    fake_bedrock.stream(*start, exception_frame("modelStreamErrorException", "Stream broke."))
    model = build_provider()

    with pytest.raises(ApplicationError) as invalid:
        await run(model)
    assert invalid.value.non_retryable
    assert invalid.value.type == "ValidationException"
    assert "Malformed input" in invalid.value.message

    with pytest.raises(ModelThrottledException) as throttled:
        await run(model)
    assert is_retryable(throttled.value)

    with pytest.raises(ClientError) as broken:
        await run(model)
    assert broken.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert is_retryable(broken.value)


# --- tools: tool specs out, toolUse back, the tool result in the next request -----------------

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
TOOL_USE_ID = "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"
# ConverseStream's answer when the model calls a tool: a text block, then a toolUse block
# whose input arrives as JSON fragments, and stop reason tool_use.
TOOL_USE_EVENTS: list[dict[str, Any]] = [
    {"messageStart": {"role": "assistant"}},
    {"contentBlockDelta": {"delta": {"text": "Let me check."}, "contentBlockIndex": 0}},
    {"contentBlockStop": {"contentBlockIndex": 0}},
    {
        "contentBlockStart": {
            "start": {"toolUse": {"toolUseId": TOOL_USE_ID, "name": "lookup_order"}},
            "contentBlockIndex": 1,
        }
    },
    {"contentBlockDelta": {"delta": {"toolUse": {"input": '{"order_'}}, "contentBlockIndex": 1}},
    {
        "contentBlockDelta": {
            "delta": {"toolUse": {"input": 'id": "A1234"}'}},
            "contentBlockIndex": 1,
        }
    },
    {"contentBlockStop": {"contentBlockIndex": 1}},
    {"messageStop": {"stopReason": "tool_use"}},
    {
        "metadata": {
            "usage": {"inputTokens": 402, "outputTokens": 58, "totalTokens": 460},
            "metrics": {"latencyMs": 731},
        }
    },
]
WIRE_TOOL_CONFIG = {
    "tools": [
        {
            "toolSpec": {
                "name": "lookup_order",
                "description": "Look up an order by its id.",
                "inputSchema": ORDER_TOOL["inputSchema"],
            }
        }
    ],
    "toolChoice": {"auto": {}},
}


def build_validated() -> ValidatedStreamModel:
    """The ``bedrock`` provider exactly as the worker's plugin gets it (validator outermost)."""
    settings = Settings(
        bedrock_model_id=MODEL_ID, bedrock_region=REGION, bedrock_max_tokens=MAX_TOKENS
    )
    model = model_factories(settings)["bedrock"]()
    assert isinstance(model, ValidatedStreamModel)
    return model


async def test_tool_specs_go_out_and_tool_use_streams_back(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.stream(*(event_frame(e) for e in TOOL_USE_EVENTS))
    model = build_validated()
    events = [e async for e in model.stream(MESSAGES, [ORDER_TOOL], SYSTEM)]

    # Every event passes the validator unchanged: Strands' own toolUse events.
    assert events == TOOL_USE_EVENTS
    (request,) = fake_bedrock.received
    assert request.body["toolConfig"] == WIRE_TOOL_CONFIG
    # What Strands' event loop makes of the stream: one text block and one tool use.
    message = await stop_message(events)
    assert message["content"] == [
        {"text": "Let me check."},
        {
            "toolUse": {
                "toolUseId": TOOL_USE_ID,
                "name": "lookup_order",
                "input": {"order_id": "A1234"},
            }
        },
    ]


async def test_tool_choice_is_sent(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.stream(*(event_frame(e) for e in TOOL_USE_EVENTS))
    forced = cast(ToolChoice, {"tool": {"name": "lookup_order"}})
    _ = [
        e
        async for e in build_validated().stream(MESSAGES, [ORDER_TOOL], SYSTEM, tool_choice=forced)
    ]
    assert fake_bedrock.received[0].body["toolConfig"]["toolChoice"] == forced


async def test_the_tool_result_goes_back_in_the_next_request(fake_bedrock: FakeBedrock) -> None:
    """Strands' own agent loop over the provider: the model asks for the tool, the tool runs,
    and the second ConverseStream request carries the toolUse and its toolResult."""
    fake_bedrock.stream(*(event_frame(e) for e in TOOL_USE_EVENTS))
    fake_bedrock.stream(*(event_frame(e) for e in REPLY_EVENTS))
    calls: list[str] = []

    @tool
    def lookup_order(order_id: str) -> str:
        """Look up an order by its id.

        Args:
            order_id: The order's id.
        """
        calls.append(order_id)
        return f"Order {order_id}: shipped on 2 May."

    agent = Agent(
        model=build_validated(), tools=[lookup_order], system_prompt=SYSTEM, callback_handler=None
    )
    result = await agent.invoke_async("Where is my order A1234?")

    assert calls == ["A1234"]
    assert str(result).strip() == "Your name is Ann."
    first, second = (r.body for r in fake_bedrock.received)
    assert [t["toolSpec"]["name"] for t in first["toolConfig"]["tools"]] == ["lookup_order"]
    assert second["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"text": "Let me check."},
                {
                    "toolUse": {
                        "input": {"order_id": "A1234"},
                        "name": "lookup_order",
                        "toolUseId": TOOL_USE_ID,
                    }
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "content": [{"text": "Order A1234: shipped on 2 May."}],
                        "toolUseId": TOOL_USE_ID,
                        "status": "success",
                    }
                }
            ],
        },
    ]
    assert second["toolConfig"]["tools"] == first["toolConfig"]["tools"]


async def test_non_streaming_converse_tool_use_through_stubber(aws_env: None) -> None:
    """Stubber checks the request (toolConfig, a toolUse and its toolResult in the history)
    against the service model and answers with Converse's toolUse response shape."""
    model = build_validated()
    model.update_config(streaming=False)
    history: Messages = [
        {"role": "user", "content": [{"text": "Where is my order A1234?"}]},
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
                        "status": "error",
                        "content": [{"text": "order database unavailable"}],
                    }
                }
            ],
        },
    ]
    assert isinstance(model.inner, BudgetedModel)
    inner = model.inner.inner
    assert isinstance(inner, ClassifiedModel)
    with Stubber(bedrock_client(inner)) as stub:
        stub.add_response(
            "converse",
            {
                "output": {
                    "message": {
                        "role": "assistant",
                        "content": [
                            {
                                "toolUse": {
                                    "toolUseId": "tooluse_2",
                                    "name": "lookup_order",
                                    "input": {"order_id": "A1234"},
                                }
                            }
                        ],
                    }
                },
                "stopReason": "tool_use",
                "usage": {"inputTokens": 50, "outputTokens": 9, "totalTokens": 59},
                "metrics": {"latencyMs": 300},
            },
            expected_params={
                "modelId": MODEL_ID,
                "messages": [
                    history[0],
                    {
                        "role": "assistant",
                        "content": [
                            {
                                "toolUse": {
                                    "input": {"order_id": "A1234"},
                                    "name": "lookup_order",
                                    "toolUseId": "tooluse_1",
                                }
                            }
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {
                                "toolResult": {
                                    "content": [{"text": "order database unavailable"}],
                                    "toolUseId": "tooluse_1",
                                    "status": "error",
                                }
                            }
                        ],
                    },
                ],
                "system": [{"text": SYSTEM}],
                "inferenceConfig": {"maxTokens": MAX_TOKENS},
                "toolConfig": WIRE_TOOL_CONFIG,
            },
        )
        events = [e async for e in model.stream(history, [ORDER_TOOL], SYSTEM)]
        stub.assert_no_pending_responses()
    message = await stop_message(events)
    assert message["content"] == [
        {
            "toolUse": {
                "toolUseId": "tooluse_2",
                "name": "lookup_order",
                "input": {"order_id": "A1234"},
            }
        }
    ]


async def stop_message(events: list[StreamEvent]) -> Message:
    """The assistant message Strands' event loop builds from ``events``."""

    async def replay() -> AsyncIterator[StreamEvent]:
        for event in events:
            yield event

    final: Any = None
    async for typed in process_stream(replay()):
        final = typed
    stop_reason, message, _usage, _metrics = final["stop"]
    assert stop_reason == "tool_use"
    return cast(Message, message)
