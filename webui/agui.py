"""AG-UI for Convoflow sessions: a ``RunAgentInput`` in, AG-UI events out.

One AG-UI run is one turn of a session:

- ``threadId`` is the session id and ``runId`` the message id (the idempotency key: sending
  the same run again answers it once, which is how a dropped stream is picked up again);
- the new user message is the last message of ``messages`` (the session keeps its own
  history, so earlier messages in the input are not re-sent);
- the answer is ``RUN_STARTED``, ``TEXT_MESSAGE_START``/``CONTENT``/``END`` as the reply is
  produced, a ``STATE_SNAPSHOT`` of the session status, then ``RUN_FINISHED`` (its
  ``result`` is the ``ChatReply``) or ``RUN_ERROR``. If a retried model attempt starts its
  reply over, a ``CUSTOM`` event named :data:`TEXT_RESTART` says to drop the text so far.

The session's agent is chosen when the session opens: ``forwardedProps.agent`` (one of the
gateway's ``CONVOFLOW_GATEWAY_AGENTS``). Each tool call of the agent is
``TOOL_CALL_START``/``ARGS``/``END`` then ``TOOL_CALL_RESULT`` (role ``tool``).

A tool call waiting for a person's approval ends the run with an ``interrupt`` outcome; the
next run's ``resume`` answers it and streams the rest of the turn (:mod:`webui.interrupts`).
Stopping a run is ``POST /sessions/{id}/cancel`` (the run then finishes with the partial
reply, ``stop_reason: "cancelled"``).
"""

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunStartedEvent,
    StateSnapshotEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TextPart,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
    UserMessage,
)
from pydantic import ValidationError

from gateway import Gateway, GatewayError, Invocation
from gateway.auth import Principal
from models import InvalidIdError, validate_id
from webui.interrupts import call_events, interrupt_of, parse_resume

log = logging.getLogger("convoflow.webui")

TEXT_RESTART = "convoflow.text_restart"
PROTOCOL_VERSION = "1.0"


def reply_message_id(message_id: str) -> str:
    """The AG-UI message id of the streamed reply to user message ``message_id``.

    Known before the reply is (the stored assistant message gets its own id, reported in
    ``RUN_FINISHED.result.reply_message_id``), and the same when a run is sent again.
    """
    return f"{message_id}.reply"


def _user_text(run: RunAgentInput) -> str:
    """The text of the run's new user message (the last message)."""
    if not run.messages:
        raise GatewayError(400, "InvalidRunInput", "messages must end with the new user message")
    last = run.messages[-1]
    if not isinstance(last, UserMessage):
        raise GatewayError(400, "InvalidRunInput", "the last message must be the user's message")
    if isinstance(last.content, str):
        return last.content
    parts: list[str] = []
    for part in last.content:
        if not isinstance(part, TextPart):
            raise GatewayError(400, "InvalidRunInput", "only text content is supported")
        parts.append(part.text)
    return "\n".join(parts)


def parse_run_input(
    payload: Any, header_session_id: str | None, max_prompt_chars: int
) -> Invocation:
    """Validate a ``RunAgentInput`` body into a streamed :class:`Invocation` (400/413 if not).

    Used by the gateway's guard for ``POST /ag-ui`` and by the WebSocket transport.
    """
    if not isinstance(payload, dict):
        raise GatewayError(400, "InvalidRunInput", "body must be an AG-UI RunAgentInput object")
    try:
        run = RunAgentInput.model_validate(payload)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()[:5]
        )
        raise GatewayError(400, "InvalidRunInput", f"not a RunAgentInput: {problems}") from None
    if header_session_id and header_session_id != run.thread_id:
        raise GatewayError(400, "InvalidRequest", "session header and threadId differ")
    resume = parse_resume(run.resume) if run.resume else ()
    prompt = "" if resume else _user_text(run)
    if not prompt.strip() and not resume:
        raise GatewayError(400, "InvalidRunInput", "the user message is empty")
    if len(prompt) > max_prompt_chars:
        raise GatewayError(
            413, "PromptTooLong", f"prompt has {len(prompt)} characters; at most {max_prompt_chars}"
        )
    try:
        session_id = validate_id("session id (threadId)", run.thread_id)
        message_id = validate_id("message id (runId)", run.run_id)
    except InvalidIdError as err:
        raise GatewayError(400, "InvalidId", str(err)) from None
    agent = (
        (run.forwarded_props or {}).get("agent") if isinstance(run.forwarded_props, dict) else None
    )
    if agent is not None and not isinstance(agent, str):
        raise GatewayError(400, "InvalidRunInput", "forwardedProps.agent must be a string")
    return Invocation(
        session_id=session_id,
        prompt=prompt,
        message_id=message_id,
        stream=True,
        agent=agent,
        resume=resume,
    )


async def run_events(
    gateway: Gateway,
    principal: Principal,
    invocation: Invocation,
    items: AsyncIterator[dict[str, Any]],
) -> AsyncIterator[BaseEvent]:
    """The AG-UI events of an accepted turn, from the gateway's stream payloads.

    ``items`` are the payloads of a streamed ``/invocations`` turn (``delta``, ``restart``,
    then ``done`` or ``error``).
    """
    thread_id = invocation.session_id
    assert invocation.message_id is not None
    run_id = invocation.message_id
    text_id = reply_message_id(run_id)
    parent = invocation.resume[0].message_id if invocation.resume else None
    yield RunStartedEvent(
        thread_id=thread_id,
        run_id=run_id,
        parent_run_id=parent,
        protocol_version=PROTOCOL_VERSION,
    )
    open_text = False
    async for item in items:
        kind = item.get("type")
        if kind == "approval_required":
            if open_text:
                yield TextMessageEndEvent(message_id=text_id)
            async for event in interrupted(gateway, principal, invocation, text_id):
                yield event
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()  # the turn waits in the session; this run ends here
            return
        if kind in ("tool_start", "tool_end"):
            if open_text:  # words before a tool call: that message ends, the reply is new
                yield TextMessageEndEvent(message_id=text_id)
                open_text, text_id = False, f"{text_id}.{item.get('tool_use_id')}"
            for event in tool_events(item, reply_message_id(run_id)):
                yield event
        elif kind == "delta" and item.get("text"):
            if not open_text:
                open_text = True
                yield TextMessageStartEvent(message_id=text_id, role="assistant")
            yield TextMessageContentEvent(message_id=text_id, delta=str(item["text"]))
        elif kind == "restart":
            yield CustomEvent(name=TEXT_RESTART, value={"messageId": text_id})
        elif kind == "done":
            if not open_text:
                yield TextMessageStartEvent(message_id=text_id, role="assistant")
            yield TextMessageEndEvent(message_id=text_id)
            snapshot = await status_snapshot(gateway, principal, thread_id)
            if snapshot is not None:
                yield snapshot
            result = {key: value for key, value in item.items() if key != "type"}
            yield RunFinishedEvent(thread_id=thread_id, run_id=run_id, result=result)
            return
        elif kind == "error":
            # A failed turn keeps no partial reply (the session stores an error message).
            yield RunErrorEvent(message=str(item.get("message")), code=str(item.get("code")))
            return
    yield RunErrorEvent(message="the reply stream ended early; send the run again", code="Ended")


async def interrupted(
    gateway: Gateway, principal: Principal, invocation: Invocation, parent_id: str
) -> AsyncIterator[BaseEvent]:
    """The end of a run paused for approval: the waiting calls, the state, the interrupts."""
    assert invocation.message_id is not None
    requests = await gateway.client.approvals(
        invocation.session_id, tenant_id=principal.tenant_id, user_id=principal.user_id
    )
    waiting = [r for r in requests if r.state == "pending"]
    for request in waiting:
        for event in call_events(request, parent_id):
            yield event
    snapshot = await status_snapshot(gateway, principal, invocation.session_id)
    if snapshot is not None:
        yield snapshot
    yield RunFinishedEvent(
        thread_id=invocation.session_id,
        run_id=invocation.message_id,
        outcome=RunFinishedInterruptOutcome(interrupts=[interrupt_of(r) for r in waiting]),
    )


def tool_events(item: dict[str, Any], parent_id: str) -> list[BaseEvent]:
    """The AG-UI events of a ``tool_start`` or ``tool_end`` stream payload."""
    call_id = str(item.get("tool_use_id") or "tool")
    if item.get("type") == "tool_start":
        return [
            ToolCallStartEvent(
                tool_call_id=call_id,
                tool_call_name=str(item.get("name")),
                parent_message_id=parent_id,
            ),
            ToolCallArgsEvent(tool_call_id=call_id, delta=json.dumps(item.get("input") or {})),
            ToolCallEndEvent(tool_call_id=call_id),
        ]
    return [
        ToolCallResultEvent(
            message_id=f"{call_id}.result",
            tool_call_id=call_id,
            content=str(item.get("result") or ""),
            role="tool",
        )
    ]


async def status_snapshot(
    gateway: Gateway, principal: Principal, session_id: str
) -> StateSnapshotEvent | None:
    """A ``STATE_SNAPSHOT`` of the session status (``{"session": SessionStatus}``), if known."""
    try:
        status = await gateway.client.status(
            session_id, tenant_id=principal.tenant_id, user_id=principal.user_id
        )
    except Exception as err:
        log.warning("no status snapshot for %s: %s", session_id, err)
        return None
    return StateSnapshotEvent(snapshot={"session": status.model_dump(mode="json")})


def error_event(err: GatewayError) -> RunErrorEvent:
    """A refusal before the run started, as a ``RUN_ERROR`` (for the WebSocket transport)."""
    return RunErrorEvent(message=err.message, code=err.code)


def encode_sse(event: BaseEvent) -> str:
    """One event as a Server-Sent Event (camelCase JSON, unset fields left out)."""
    return f"data: {encode_json(event)}\n\n"


def encode_json(event: BaseEvent) -> str:
    """One event as JSON, as AG-UI sends it."""
    return event.model_dump_json(by_alias=True, exclude_none=True)
