"""Approvals over AG-UI through a real gateway, dev server and worker: a run that meets a
tool call waiting for approval finishes with an ``interrupt`` outcome; a run whose
``resume`` answers it streams the rest of the turn. Both runs pass ``ag-ui-validate``."""

import uuid
from typing import Any

from ag_ui_validate.pytest_plugin import assert_valid_agui

from client import SessionClient
from models import SessionConfig
from tests.helpers import new_session_id
from tests.integration.test_agui import EVENT, ag_ui, gateway, run_input  # noqa: F401
from tests.integration.test_gateway import Gateway, auth

GUARDED = SessionConfig(agent="guarded", model="echo")


def resume_input(session_id: str, answers: list[tuple[str, Any]]) -> dict[str, Any]:
    """A RunAgentInput that answers interrupts (``(id, payload)``; None payload: cancelled)."""
    body = run_input(session_id, "unused")
    body["messages"] = []
    body["resume"] = [
        {"interruptId": interrupt_id, "status": "resolved", "payload": payload}
        if payload is not None
        else {"interruptId": interrupt_id, "status": "cancelled"}
        for interrupt_id, payload in answers
    ]
    return body


async def interrupted_run(
    gateway: Gateway,  # noqa: F811
    session_id: str,
    text: str,
) -> tuple[str, list[dict[str, Any]]]:
    body = run_input(session_id, text)
    status, events, _ = await ag_ui(gateway, body, auth("ann"))
    assert status == 200
    for event in events:
        EVENT.validate_python(event)
    assert_valid_agui(events, max_warnings=0)
    finished = events[-1]
    assert finished["type"] == "RUN_FINISHED", events
    assert finished["outcome"]["type"] == "interrupt"
    return body["runId"], finished["outcome"]["interrupts"]


async def test_an_interrupt_resumed_with_an_approval(
    gateway: Gateway,  # noqa: F811
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("agui-approve")
    await sessions.send(session_id, "hi", config=GUARDED, user_id="ann", tenant_id="acme")
    run_id, (interrupt,) = await interrupted_run(
        gateway, session_id, '/tool echo_args {"text": "yes"}'
    )
    request_id = interrupt["metadata"]["request_id"]
    assert interrupt["id"] == f"{run_id}:{request_id}"
    assert interrupt["reason"] == "tool_approval" and interrupt["toolCallId"]
    assert interrupt["metadata"]["tool"] == "echo_args"
    assert interrupt["responseSchema"]["required"] == ["approved"]
    assert (await sessions.status(session_id, tenant_id="acme")).status == "waiting_for_approval"

    stranger = resume_input(session_id, [(interrupt["id"], {"approved": True})])
    status, _, body = await ag_ui(gateway, stranger, auth("mallory"))
    assert status == 404 and body["error"]["code"] == "SessionNotFound"
    bad = resume_input(session_id, [(interrupt["id"], {"approved": "sure"})])
    status, _, body = await ag_ui(gateway, bad, auth("ann"))
    assert status == 400 and body["error"]["code"] == "InvalidRunInput"

    resume = resume_input(session_id, [(interrupt["id"], {"approved": True})])
    status, events, _ = await ag_ui(gateway, resume, auth("ann"))
    assert status == 200
    for event in events:
        EVENT.validate_python(event)
    assert_valid_agui(events, max_warnings=0)
    assert events[0]["parentRunId"] == run_id
    kinds = [event["type"] for event in events]
    assert "TOOL_CALL_RESULT" in kinds and kinds[-1] == "RUN_FINISHED", kinds
    assert events[-1]["result"]["reply"] == "echo: yes"
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "echo: yes"
    # The same resume again (a dropped stream): the same reply, nothing run twice.
    status, again, _ = await ag_ui(gateway, resume, auth("ann"))
    assert status == 200 and again[-1]["result"]["reply"] == "echo: yes"
    history = await sessions.history(session_id, tenant_id="acme")
    assert [m.message for m in history if m.role == "assistant"] == ["echo: hi", "echo: yes"]


async def test_interrupts_denied_and_cancelled(
    gateway: Gateway,  # noqa: F811
    sessions: SessionClient,
) -> None:
    session_id = new_session_id("agui-deny")
    config = GUARDED.model_copy(update={"require_approval": ["whoami"]})
    await sessions.send(session_id, "hi", config=config, user_id="ann", tenant_id="acme")
    _, interrupts = await interrupted_run(
        gateway, session_id, '/tool echo_args {"text": "a"} &\n/tool whoami'
    )
    assert [i["metadata"]["tool"] for i in interrupts] == ["echo_args", "whoami"]
    answers = [
        (interrupts[0]["id"], {"approved": False, "message": "no"}),
        (interrupts[1]["id"], None),
    ]
    status, events, _ = await ag_ui(gateway, resume_input(session_id, answers), auth("ann"))
    assert status == 200
    assert_valid_agui(events, max_warnings=0)
    reply = events[-1]["result"]["reply"]
    assert "denied" in reply and ": no" in reply and "cancelled by the user" in reply, reply


async def test_resume_of_an_unknown_interrupt(gateway: Gateway) -> None:  # noqa: F811
    session_id = new_session_id("agui-unknown")
    body = resume_input(session_id, [(f"{uuid.uuid4().hex}:nope", {"approved": True})])
    status, _, error = await ag_ui(gateway, body, auth("ann"))
    assert status == 404, error
    malformed = resume_input(session_id, [("no-colon", {"approved": True})])
    status, _, error = await ag_ui(gateway, malformed, auth("ann"))
    assert status == 400 and "interrupt id" in error["error"]["message"]
