"""What the attacker review broke through the gateway: deep JSON, odd numbers, repeated keys,
dot ids, loose claims and ownerless sessions. Each answer is a 4xx that changes nothing."""

import json
import time
from collections.abc import AsyncIterator

import jwt
import pytest
from pydantic import SecretStr

from client import SessionClient
from tests.helpers import new_session_id
from tests.integration.test_gateway import (
    SECRET,
    SESSION_HEADER,
    Gateway,
    _running,
    assert_no_session,
    auth,
)


@pytest.fixture(scope="module")
async def gateway(sessions: SessionClient) -> AsyncIterator[Gateway]:
    """A gateway whose rate limit these quick tests never hit."""
    settings = sessions.settings.updated(
        jwt_secret=SecretStr(SECRET), gateway_rate_per_user=1000.0, gateway_burst=1000
    )
    async for running in _running(settings, sessions.temporal):
        yield running


def _code(response: object) -> str:
    return str(json.loads(getattr(response, "text", "{}"))["error"]["code"])


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 1000 + b"]" * 1000,  # 2 KB that used to be a 500 (RecursionError)
        b'{"prompt": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"prompt": "a", "prompt": "b"}',
        b'{"prompt": "hi", "session_id": "x1", "session_id": "x2"}',
        b'{"prompt": NaN}',
    ],
)
async def test_hostile_bodies_get_400_invalid_json(
    gateway: Gateway, sessions: SessionClient, body: bytes
) -> None:
    session_id = new_session_id("json")
    for path in ("/invocations", "/ag-ui"):
        response = await gateway.http.post(
            path,
            content=body,
            headers={**auth(), SESSION_HEADER: session_id, "Content-Type": "application/json"},
        )
        assert response.status_code == 400, (path, response.text)
        assert "InvalidJson" in response.text, response.text
    await assert_no_session(sessions, "acme", session_id)


@pytest.mark.parametrize("limit", ["²", "\u0661", "1e2", "-1", "0x10"])
async def test_numbers_in_queries_are_parsed_strictly(gateway: Gateway, limit: str) -> None:
    session_id = new_session_id("limit")
    opened = await gateway.invoke(session_id, {"prompt": "hi"}, auth())
    assert opened.status_code == 200, opened.text
    read = await gateway.http.get(
        f"/sessions/{session_id}/history", params={"limit": limit}, headers=auth()
    )
    assert read.status_code == 400 and "limit must be" in read.text
    listed = await gateway.http.get("/sessions", params={"limit": limit}, headers=auth())
    assert listed.status_code == 400


@pytest.mark.parametrize("session_id", [".", "..", "..."])
async def test_session_ids_of_only_dots_are_refused(gateway: Gateway, session_id: str) -> None:
    response = await gateway.invoke(session_id, {"prompt": "hi"}, auth())
    assert response.status_code == 400, response.text
    assert "not only dots" in response.text


async def test_tokens_with_loosely_typed_claims_are_refused(gateway: Gateway) -> None:
    now = int(time.time())
    good = {"sub": "alice", "tenant": "acme", "exp": now + 600, "iss": "convoflow"}
    good["aud"] = "convoflow"
    for bad in ({"tenant": 123}, {"tenant": True}, {"exp": str(now + 600)}):
        token = jwt.encode({**good, **bad}, SECRET, algorithm="HS256")
        response = await gateway.invoke(
            new_session_id("claims"), {"prompt": "hi"}, {"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, bad
    token = jwt.encode(good, SECRET, algorithm="HS256")
    ok = await gateway.invoke(
        new_session_id("claims"), {"prompt": "hi"}, {"Authorization": f"Bearer {token}"}
    )
    assert ok.status_code == 200


async def test_ownerless_sessions_are_never_reachable_through_the_gateway(
    gateway: Gateway, sessions: SessionClient
) -> None:
    # The CLI's default: a session opened without a user.
    session_id = new_session_id("ownerless")
    await sessions.send(session_id, "team notes", tenant_id="acme", user_id=None)
    before = await sessions.history(session_id, tenant_id="acme")

    never = await gateway.http.get(f"/sessions/{new_session_id('x')}/history", headers=auth())
    for path in ("history", "status"):
        read = await gateway.http.get(f"/sessions/{session_id}/{path}", headers=auth("alice"))
        assert read.status_code == 404 and read.json() == never.json(), path
    write = await gateway.invoke(session_id, {"prompt": "mine now"}, auth("alice"))
    assert write.status_code == 404, write.text

    assert await sessions.history(session_id, tenant_id="acme") == before
    status = await sessions.status(session_id, tenant_id="acme")
    assert status.user_id is None  # nobody became its owner
    # An operator (no user named) still reaches it.
    reply = await sessions.send(session_id, "still here", tenant_id="acme")
    assert reply.reply
