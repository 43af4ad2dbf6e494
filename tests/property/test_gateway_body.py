"""The HTTP gateway's ``POST /invocations`` body, with hostile bodies and session headers.

Two levels: the pure body check (``parse_invocation``) with thousands of examples, and the
real app (uvicorn on loopback, real dev server and worker) with raw bodies: bytes that are
not JSON, JSON that is not an invocation, wrong types, missing and unknown fields, huge
prompts and bodies, ids with separators. What must hold: a refusal is a 4xx with
``{"error": {"code", "message"}}``; a body the gateway refuses never reaches Temporal; a
prompt the session refuses is a 400 ``InvalidMessage`` and enters no history; a good one is
answered.
"""

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from temporalio.service import RPCError, RPCStatusCode

from client import SessionClient
from gateway import GatewayError, Invocation, build_gateway, parse_invocation
from gateway.auth import make_token
from models import InvalidIdError, SessionConfig, session_workflow_id, validate_id
from tests.faults import figures
from tests.property import strategies as s
from worker.lifecycle import serving
from workflows.inbound import InvalidMessageError, parse_inbound

SECRET = "property-test-secret-0123456789abcdef"
TENANT, USER = "acme", "prop-user"
SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
MAX_PROMPT = 32_000
MAX_BODY = 256 * 1024
MAX_ERROR_CHARS = 4_000
FIGURES = "hypothesis: gateway POST /invocations body (uvicorn, dev server)"

header_safe = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=140)
wrong = st.one_of(st.integers(), st.booleans(), st.lists(s.json_scalars, max_size=3), st.none())
invocations = st.fixed_dictionaries(
    {},
    optional={
        "prompt": st.one_of(s.texts, wrong),
        "message_id": st.one_of(s.any_ids, wrong),
        "stream": st.one_of(st.booleans(), wrong, st.just("true")),
        "session_id": st.one_of(s.any_ids, wrong),
        "tenant": s.short_ids,
        "user_id": s.short_ids,
        "extra": s.json_values,
    },
)
good_invocations = st.fixed_dictionaries(
    {"prompt": st.text(min_size=1, max_size=200).filter(lambda p: bool(p.strip()))},
    optional={"message_id": s.valid_ids, "stream": st.booleans()},
)
bodies = st.one_of(
    st.binary(max_size=300),
    s.json_values.map(lambda value: json.dumps(value).encode()),
    invocations,
    invocations,
    good_invocations,
    st.builds(
        lambda n: b'{"prompt": "' + b"x" * n + b'"}', st.integers(MAX_BODY - 20, MAX_BODY + 50)
    ),
)
headers = st.one_of(st.none(), st.just("unique"), header_safe)


def _unique(value: Any) -> Any:
    """A valid session id made unique to this example (so examples never share a session)."""
    if not isinstance(value, str):
        return value
    try:
        validate_id("id", value)
    except InvalidIdError:
        return value
    return f"{value[:100]}-{uuid.uuid4().hex[:8]}"


def _expected(body: bytes, header: str | None) -> Invocation | GatewayError:
    if len(body) > MAX_BODY:
        return GatewayError(413, "PayloadTooLarge", "")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return GatewayError(400, "InvalidJson", "")
    try:
        return parse_invocation(payload, header, MAX_PROMPT)
    except GatewayError as err:
        return err


@settings(max_examples=1_500, deadline=None, database=None)
@given(
    payload=st.one_of(s.json_values, invocations, good_invocations),
    header=st.one_of(st.none(), s.any_ids),
)
def test_parse_invocation_accepts_only_valid_bodies(payload: Any, header: str | None) -> None:
    figures.count("hypothesis: gateway parse_invocation (pure)", "examples")
    try:
        invocation = parse_invocation(payload, header, MAX_PROMPT)
    except GatewayError as err:
        assert err.status in (400, 413) and err.code and err.message
        assert len(err.message) <= MAX_ERROR_CHARS
        return
    validate_id("session id", invocation.session_id)
    if invocation.message_id is not None:
        validate_id("message id", invocation.message_id)
    assert isinstance(invocation.prompt, str) and invocation.prompt.strip()
    assert len(invocation.prompt) <= MAX_PROMPT
    assert isinstance(invocation.stream, bool)
    assert isinstance(payload, dict) and not set(payload) - {
        "prompt",
        "message_id",
        "stream",
        "session_id",
        "agent",
    }
    assert invocation.agent is None or isinstance(invocation.agent, str)


@pytest.fixture(scope="module")
async def gateway_http(sessions: SessionClient) -> AsyncIterator[httpx.AsyncClient]:
    """A real gateway (uvicorn on loopback) for the shared dev-server worker."""
    gateway_settings = sessions.settings.updated(
        **{
            "jwt_secret": SecretStr(SECRET),
            "gateway_rate_per_user": 1_000_000.0,
            "gateway_burst": 1_000_000,
            "gateway_max_body_bytes": MAX_BODY,
            "gateway_max_prompt_chars": MAX_PROMPT,
        }
    )
    app = build_gateway(
        gateway_settings, sessions=SessionClient(sessions.temporal, gateway_settings)
    )
    async with (
        serving(app, "127.0.0.1", 0) as url,
        httpx.AsyncClient(base_url=url, trust_env=False, timeout=120) as http,
    ):
        yield http


async def _session_exists(sessions: SessionClient, session_id: str) -> bool:
    try:
        handle = sessions.temporal.get_workflow_handle(session_workflow_id(TENANT, session_id))
        await handle.describe()
    except RPCError as err:
        assert err.status == RPCStatusCode.NOT_FOUND, err
        return False
    return True


def _session_accepts(prompt: str) -> bool:
    try:
        parse_inbound({"message": prompt}, SessionConfig(), "s", USER)
    except InvalidMessageError:
        return False
    return True


async def _reply_of(response: httpx.Response) -> dict[str, Any]:
    """The reply of a 200 answer: the JSON body, or the SSE stream's ``done`` event."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        events = [
            json.loads(line[len("data: ") :])
            for line in response.text.splitlines()
            if line.startswith("data: ")
        ]
        assert events and events[-1]["type"] == "done", events
        assert "".join(e["text"] for e in events if e["type"] == "delta") == events[-1]["reply"]
        return dict(events[-1])
    return dict(response.json())


@settings(
    max_examples=1_000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=bodies, header=headers)
async def test_gateway_answers_every_body_clearly(
    sessions: SessionClient, gateway_http: httpx.AsyncClient, body: Any, header: str | None
) -> None:
    started = time.monotonic()
    header = f"gw-{uuid.uuid4().hex[:10]}" if header == "unique" else _unique(header)
    if isinstance(body, dict):
        if "session_id" in body:
            body = {**body, "session_id": _unique(body["session_id"])}
        raw = json.dumps(body, ensure_ascii=False).encode()
    else:
        raw = body
    request_headers = {
        "Authorization": f"Bearer {make_token(SECRET, user=USER, tenant=TENANT)}",
        "Content-Type": "application/json",
    }
    if header is not None:
        request_headers[SESSION_HEADER] = header
    response = await gateway_http.post("/invocations", content=raw, headers=request_headers)
    expected = _expected(raw, header)
    figures.count(FIGURES, "examples")

    if isinstance(expected, GatewayError):
        assert response.status_code == expected.status, (response.status_code, response.text)
        error = response.json()["error"]
        assert error["code"] == expected.code and error["message"], error
        assert len(error["message"]) <= MAX_ERROR_CHARS
        session = header or (body.get("session_id") if isinstance(body, dict) else None)
        if isinstance(session, str) and session:
            try:
                validate_id("session id", session)
            except InvalidIdError:
                pass
            else:
                assert not await _session_exists(sessions, session)  # never reached Temporal
        figures.count(FIGURES, "refused_by_gateway")
    elif not _session_accepts(expected.prompt):
        assert response.status_code == 400, (response.status_code, response.text)
        assert response.json()["error"]["code"] == "InvalidMessage"
        if await _session_exists(sessions, expected.session_id):
            history = await sessions.history(expected.session_id, tenant_id=TENANT, user_id=USER)
            assert history == []  # nothing entered the conversation
        figures.count(FIGURES, "refused_by_session")
    else:
        assert response.status_code == 200, (response.status_code, response.text)
        reply = await _reply_of(response)
        assert reply["reply"] == f"echo: {expected.prompt}"
        assert reply["session_id"] == expected.session_id and reply["tenant_id"] == TENANT
        if expected.message_id is not None:
            assert reply["message_id"] == expected.message_id
        figures.count(FIGURES, "answered")
    figures.count(FIGURES, "ms", int((time.monotonic() - started) * 1000))
