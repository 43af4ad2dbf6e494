"""Approvals as AG-UI interrupts: a run that meets a tool call waiting for approval finishes
with an ``interrupt`` outcome, and the client answers with a run whose ``resume`` entries
approve or deny; that run goes on streaming the same turn.

- Each pending :class:`ApprovalRequest` is one AG-UI ``Interrupt``: ``id`` is
  ``"<message id>:<request id>"`` (so a resume names its turn), ``reason``
  :data:`INTERRUPT_REASON`, ``toolCallId`` the model's call id, ``expiresAt`` the deadline,
  ``responseSchema`` :data:`RESPONSE_SCHEMA`, ``metadata`` the tool and its input. The call
  itself is shown first as ``TOOL_CALL_START``/``ARGS``/``END``.
- A resume entry ``{"interruptId", "status": "resolved", "payload": {"approved": BOOL,
  "message"?: "..."}}`` answers the request (``"cancelled"`` denies it). A request answered
  already (the same resume sent again after a dropped stream) is not an error: the run goes on
  with the turn as it is.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

from ag_ui.core import (
    BaseEvent,
    Interrupt,
    ResumeEntry,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
)

from client.errors import MessageRejectedError
from gateway import Gateway, GatewayError, error_for
from gateway.auth import Principal
from gateway.requests import ResumeAnswer
from gateway.streaming import turn_payload
from models import InvalidIdError, Refusal, validate_id
from models.approvals import MAX_DENY_MESSAGE_CHARS, ApprovalRequest

INTERRUPT_REASON = "tool_approval"
RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "message": {"type": "string", "maxLength": MAX_DENY_MESSAGE_CHARS},
    },
    "required": ["approved"],
    "additionalProperties": False,
}
MAX_RESUME_ENTRIES = 100


def interrupt_id(request: ApprovalRequest) -> str:
    """The AG-UI interrupt id of ``request``."""
    return f"{request.message_id}:{request.id}"


def interrupt_of(request: ApprovalRequest) -> Interrupt:
    """``request`` as an AG-UI ``Interrupt``."""
    return Interrupt(
        id=interrupt_id(request),
        reason=INTERRUPT_REASON,
        message=f"Approve {request.tool}? {request.reason}",
        tool_call_id=request.tool_use_id,
        response_schema=RESPONSE_SCHEMA,
        expires_at=request.deadline.isoformat(),
        metadata={"tool": request.tool, "input": request.input, "request_id": request.id},
    )


def call_events(request: ApprovalRequest, parent_id: str) -> list[BaseEvent]:
    """The tool call waiting for approval, as the AG-UI tool call it is."""
    call_id = request.tool_use_id
    return [
        ToolCallStartEvent(
            tool_call_id=call_id, tool_call_name=request.tool, parent_message_id=parent_id
        ),
        ToolCallArgsEvent(tool_call_id=call_id, delta=json.dumps(request.input)),
        ToolCallEndEvent(tool_call_id=call_id),
    ]


def parse_resume(entries: list[ResumeEntry]) -> tuple[ResumeAnswer, ...]:
    """The answers in a ``resume``, all for one turn; a 400 saying what is wrong if not."""
    if len(entries) > MAX_RESUME_ENTRIES:
        raise GatewayError(400, "InvalidRunInput", f"at most {MAX_RESUME_ENTRIES} resume entries")
    answers: list[ResumeAnswer] = []
    for entry in entries:
        message_id, _, request_id = entry.interrupt_id.rpartition(":")
        try:
            validate_id("interrupt id", message_id)
            validate_id("interrupt id", request_id)
        except InvalidIdError:
            raise GatewayError(
                400, "InvalidRunInput", f"unknown interrupt id {entry.interrupt_id[:100]!r}"
            ) from None
        if entry.status == "cancelled":
            answers.append(ResumeAnswer(message_id, request_id, False, "cancelled by the user"))
            continue
        payload = entry.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("approved"), bool):
            raise GatewayError(
                400, "InvalidRunInput", 'a resolved interrupt needs payload {"approved": BOOL}'
            )
        if set(payload) - {"approved", "message"}:
            raise GatewayError(400, "InvalidRunInput", "payload takes approved and message only")
        message = payload.get("message")
        if message is not None and (
            not isinstance(message, str) or len(message) > MAX_DENY_MESSAGE_CHARS
        ):
            raise GatewayError(400, "InvalidRunInput", "payload message must be short text")
        answers.append(ResumeAnswer(message_id, request_id, payload["approved"], message))
    if not answers or len({a.message_id for a in answers}) != 1:
        raise GatewayError(400, "InvalidRunInput", "resume answers the interrupts of one run")
    return tuple(answers)


async def answer_interrupts(
    gateway: Gateway, principal: Principal, session_id: str, answers: tuple[ResumeAnswer, ...]
) -> None:
    """Approve or deny each answered request (one answered before is skipped, not refused)."""
    client, tenant, user = gateway.client, principal.tenant_id, principal.user_id
    for answer in answers:
        try:
            if answer.approved:
                await client.approve(session_id, answer.request_id, tenant_id=tenant, user_id=user)
            else:
                await client.deny(
                    session_id,
                    answer.request_id,
                    message=answer.message,
                    tenant_id=tenant,
                    user_id=user,
                )
        except MessageRejectedError as err:
            if err.kind != Refusal.UNKNOWN_APPROVAL:
                raise  # answered before (a resume sent again): go on with the turn


async def resumed_payloads(
    gateway: Gateway, principal: Principal, session_id: str, answers: tuple[ResumeAnswer, ...]
) -> AsyncIterator[dict[str, Any]]:
    """The stream payloads of the answered turn from where the interrupted run stopped."""
    client = gateway.client
    waiting = {answer.request_id for answer in answers}
    turn = client.resume(
        session_id,
        answers[0].message_id,
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
    )
    try:
        async for item in turn:
            payload = turn_payload(item)
            if waiting and payload["type"] not in ("done", "error"):
                # Shown by the interrupted run already: up to the answer of its last request.
                request = payload.get("request") or {}
                if payload["type"] == "approval_answered":
                    waiting.discard(str(request.get("id")))
                continue
            yield payload
    except Exception as err:
        yield error_for(err).event()
