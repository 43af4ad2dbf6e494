"""How a tool activity learns who it acts for: :func:`tool_context`.

The session workflow knows the tenant, user and session, and the model's id of each tool
call. It never puts them in the tool's arguments (the model writes those): the workflow-side
tool sets the call's :class:`ToolContext` while it schedules the activity, and the worker's
:class:`ToolContextInterceptor` carries it in an activity header. On the worker the same
interceptor hands it to the running activity, where :func:`tool_context` returns it; every
attempt of one call (a retry after a crash too) sees the same context and idempotency key.
After the activity, the interceptor keeps a result longer than the history's bound in the
memory store (:mod:`agents.results`).
"""

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadConverter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    StartActivityInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from agents.results import keep_full_result
from models.tools import ToolContext

HEADER = "convoflow-tool-context"
"""The activity header carrying a tool call's context (plain JSON: ids only, no content)."""

_CONVERTER = PayloadConverter.default

# Workflow side: the tool call being scheduled (set by the session's tool, per asyncio task).
_SCHEDULING: ContextVar[ToolContext | None] = ContextVar("convoflow_tool_scheduling", default=None)
# Worker side: the context of the running tool activity, and the worker's memory store.
_RUNNING: ContextVar[ToolContext | None] = ContextVar("convoflow_tool_running", default=None)
_STORE: ContextVar[Any] = ContextVar("convoflow_tool_store", default=None)


class ToolContextError(RuntimeError):
    """:func:`tool_context` was called outside a tool activity of a Convoflow session."""


def tool_context() -> ToolContext:
    """The context of the tool call this activity is running for.

    Raises :class:`ToolContextError` outside a tool call made by a Convoflow session.
    """
    context = _RUNNING.get()
    if context is None:
        raise ToolContextError(
            "tool_context() is only available inside a tool activity called by a session"
        )
    return context


def tool_memory_store() -> Any:
    """The worker's memory store, for the built-in tools (None outside a tool call)."""
    return _STORE.get()


@contextlib.contextmanager
def scheduling(context: ToolContext) -> Iterator[None]:
    """Workflow side: activities scheduled in this block carry ``context``."""
    token = _SCHEDULING.set(context)
    try:
        yield
    finally:
        _SCHEDULING.reset(token)


def set_scheduling(context: ToolContext | None) -> None:
    """Workflow side: activities the current task schedules from now on carry ``context``
    (None: no longer). For tools Convoflow does not wrap itself (MCP), from a hook."""
    _SCHEDULING.set(context)


@contextlib.contextmanager
def running(context: ToolContext, store: Any = None) -> Iterator[None]:
    """Worker side (and tests): run a tool with ``context`` (and ``store``)."""
    token, store_token = _RUNNING.set(context), _STORE.set(store)
    try:
        yield
    finally:
        _RUNNING.reset(token)
        _STORE.reset(store_token)


class _Outbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        context = _SCHEDULING.get()
        if context is not None:
            input.headers = _with_context(input.headers, context)
            input.summary = f"tool: {context.tool_name}"  # what the Temporal UI shows
        return self.next.start_activity(input)

    def start_local_activity(self, input: StartLocalActivityInput) -> workflow.ActivityHandle[Any]:
        context = _SCHEDULING.get()
        if context is not None:
            input.headers = _with_context(input.headers, context)
        return self.next.start_local_activity(input)


def _with_context(headers: Mapping[str, Payload], context: ToolContext) -> dict[str, Payload]:
    return {**headers, HEADER: _CONVERTER.to_payload(context.model_dump(mode="json"))}


class _WorkflowInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_Outbound(outbound))


class _ActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, store: Any) -> None:
        super().__init__(next)
        self._store = store

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        payload = input.headers.get(HEADER)
        if payload is None:
            return await self.next.execute_activity(input)
        context = decode_context(payload)
        with running(context, self._store):
            result = await self.next.execute_activity(input)
        # Inside the attempt: a long result the store cannot keep fails the attempt.
        await keep_full_result(self._store, context, result)
        return result


def decode_context(payload: Payload) -> ToolContext:
    """The :class:`ToolContext` a header carries."""
    return ToolContext.model_validate(_CONVERTER.from_payload(payload, dict))


class ToolContextInterceptor(Interceptor):
    """Carries each tool call's context from the workflow to its activity (register it on
    the worker; ``store`` is what the built-in ``recall_memory`` reads, and where long
    results are kept)."""

    def __init__(self, store: Any = None) -> None:
        """``store``: the worker's memory store."""
        self._store = store

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Hand the header's context to the activity."""
        return _ActivityInbound(next, self._store)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        """Put the context of the call being scheduled in the activity's header."""
        return _WorkflowInbound
