"""Worker side of long tool results: the whole text goes to the memory store, not the history.

The history keeps at most ``MAX_TOOL_RESULT_CHARS`` of a result (``workflows/tool_calls.py``).
The rest is kept where the tool ran: :class:`agents.context.ToolContextInterceptor` hands
every tool activity's result to :func:`keep_full_result`, which saves a result longer than
the bound in the worker's memory store, for the session's owner, keyed by the turn's message
id and the call's tool-use id. Nothing more goes into the workflow's history (no activity
carries the text again); the workflow marks the call ``full_result_stored`` by the same rule
(a success longer than the bound), so the mark and the save always agree: a save that fails
fails the activity attempt, and a call that ends in an error is never marked.
"""

import json
from collections.abc import Mapping
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.memory import SessionRef
from models.tools import MAX_TOOL_RESULT_CHARS, ToolContext
from workflows.tool_calls import result_text

MCP_CALL_SUFFIX = "-call-tool"
"""The activity type of an MCP server's tool calls ends so (``{server}-call-tool``)."""


def model_text(result: Any, activity_type: str) -> tuple[str, bool]:
    """``(text, success)``: the result text the model gets from this activity's ``result``.

    The workflow receives the result decoded from its payload without a type, so it is first
    taken through the same round trip; then the text is made as the workflow makes it: an MCP
    call's ``toolResult`` content blocks (``result_text``), a string as it is, anything else
    as JSON (``activity_as_tool`` and local tools both do so for JSON values).
    """
    if not isinstance(result, str):
        converter = activity.payload_converter()
        result = converter.from_payloads(converter.to_payloads([result]))[0]
    if activity_type.endswith(MCP_CALL_SUFFIX) and isinstance(result, Mapping):
        return result_text(result), result.get("status") == "success"
    if isinstance(result, str):
        return result, True
    try:
        return json.dumps(result), True
    except (TypeError, ValueError):
        return str(result), True


async def keep_full_result(store: Any, context: ToolContext, result: Any) -> None:
    """Save ``result``'s whole text when it is a success longer than the history's bound.

    Raises an ``ApplicationError`` (``ToolResultNotStored``) when there is no store or the
    store fails: the attempt fails and the tool's retry policy decides, as for any other
    failure of the call (a store's non-retryable refusal stays non-retryable).
    """
    text, success = model_text(result, activity.info().activity_type)
    if not success or len(text) <= MAX_TOOL_RESULT_CHARS:
        return
    if store is None:
        raise ApplicationError(
            f"the {len(text)}-character result of {context.tool_name} cannot be kept: this"
            " worker has no memory store",
            type="ToolResultNotStored",
        )
    session = SessionRef(
        tenant_id=context.tenant_id, session_id=context.session_id, user_id=context.user_id
    )
    try:
        await store.save_tool_result(session, context.message_id, context.tool_use_id, text)
    except Exception as err:
        raise ApplicationError(
            f"the {len(text)}-character result of {context.tool_name} could not be kept in"
            f" the memory store: {err}",
            type="ToolResultNotStored",
            non_retryable=bool(getattr(err, "non_retryable", False)),  # a refusal stays one
        ) from err
