"""SessionClient: the typed async Python API for Convoflow sessions."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.client import (
    WorkflowExecutionStatus as ExecutionStatus,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from client.errors import (
    ConvoflowError,
    MessageRejectedError,
    SessionNotFoundError,
    error_from_update,
)
from client.streaming import Delta, StreamRestart, follow_turn
from models import (
    ChatMessage,
    ChatReply,
    SessionConfig,
    SessionInput,
    SessionStatus,
    SessionSummary,
    parse_session_workflow_id,
    session_workflow_id,
    validate_id,
)
from models import search_attributes as sa
from models.settings import Settings
from worker.client import connect_client
from workflows.inbound import (
    SEND_MESSAGE,
    InvalidMessageError,
    describe_validation_error,
    parse_inbound,
)
from workflows.session import SessionWorkflow


@dataclass
class _RejectionRetry:
    """State of retrying one message past transient refusals."""

    attempts: int = 0
    delay: float = 0.02
    waited_for_close: bool = False


@dataclass(frozen=True)
class SessionInfo:
    """One session as listed by :meth:`SessionClient.list_sessions`."""

    tenant_id: str
    session_id: str
    workflow_id: str
    run_id: str | None
    status: str
    start_time: datetime | None
    close_time: datetime | None
    user_id: str | None
    message_count: int | None
    last_activity: datetime | None = None


MAX_SEND_ATTEMPTS = 40
T = TypeVar("T")


def new_message_id() -> str:
    """A fresh idempotency key for a message."""
    return uuid.uuid4().hex


class SessionClient:
    """Send messages to sessions and read them back.

    ``await SessionClient.connect()`` with no arguments uses the CLI's settings (the
    ``CONVOFLOW_*`` environment).
    """

    def __init__(self, client: Client, settings: Settings) -> None:
        """Wrap a connected Temporal ``client`` (built by ``worker.client.connect_client``)."""
        self.temporal = client
        self.settings = settings

    @classmethod
    async def connect(cls, settings: Settings | None = None) -> "SessionClient":
        """Connect with ``settings`` (default: from the environment)."""
        settings = settings or Settings()
        return cls(await connect_client(settings), settings)

    # ----------------------------------------------------------------- messages

    def handle(
        self, session_id: str, tenant_id: str = "default"
    ) -> WorkflowHandle[SessionWorkflow, SessionSummary]:
        """The workflow handle of a session (latest run)."""
        return self.temporal.get_workflow_handle_for(
            SessionWorkflow.run, session_workflow_id(tenant_id, session_id)
        )

    def _start_operation(
        self,
        session_id: str,
        tenant_id: str,
        user_id: str | None,
        config: SessionConfig | None,
        initial_context: dict[str, Any] | None,
    ) -> WithStartWorkflowOperation[SessionWorkflow, SessionSummary]:
        return WithStartWorkflowOperation(
            SessionWorkflow.run,
            self._session_input(session_id, tenant_id, user_id, config, initial_context),
            id=session_workflow_id(tenant_id, session_id),
            task_queue=self.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=self._search_attributes(tenant_id, user_id),
            static_summary=f"tenant {tenant_id} · session {session_id} · user {user_id or '-'}",
        )

    def _session_input(
        self,
        session_id: str,
        tenant_id: str,
        user_id: str | None,
        config: SessionConfig | None,
        initial_context: dict[str, Any] | None,
    ) -> SessionInput:
        # Settings fill in what the caller's config leaves unset.
        defaults = {
            "model": self.settings.model,
            "search_attributes": self.settings.search_attributes,
        }
        given = config or SessionConfig()
        unset = {
            name: value for name, value in defaults.items() if name not in given.model_fields_set
        }
        config = given.model_copy(update=unset)
        return SessionInput(
            session_id=validate_id("session id", session_id),
            tenant_id=validate_id("tenant id", tenant_id),
            user_id=validate_id("user id", user_id) if user_id is not None else None,
            config=config,
            initial_context=initial_context,
        )

    def _search_attributes(self, tenant_id: str, user_id: str | None) -> TypedSearchAttributes:
        if not self.settings.search_attributes:
            return TypedSearchAttributes.empty
        pairs: list[SearchAttributePair[str]] = [
            SearchAttributePair(sa.TENANT, tenant_id),
            SearchAttributePair(sa.STATUS, "active"),
        ]
        if user_id is not None:
            pairs.append(SearchAttributePair(sa.USER, user_id))
        return TypedSearchAttributes(pairs)

    async def send(
        self,
        session_id: str,
        text: str,
        *,
        tenant_id: str = "default",
        user_id: str | None = None,
        message_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        config: SessionConfig | None = None,
        initial_context: dict[str, Any] | None = None,
    ) -> ChatReply:
        """Send ``text`` and wait for the reply, opening the session if needed.

        Safe to retry with the same ``message_id``: the session answers it once.
        Raises :class:`MessageRejectedError` or :class:`TurnFailedError`.
        """
        message = self._message(
            session_id, text, user_id, message_id, metadata, config, stream=False
        )
        retry = _RejectionRetry()
        while True:
            operation = self._start_operation(
                session_id, tenant_id, message.user_id, config, initial_context
            )
            try:
                # One call that waits for the reply: no separate accept-then-poll round trip.
                reply: ChatReply = await self.temporal.execute_update_with_start_workflow(
                    SEND_MESSAGE,
                    message,
                    start_workflow_operation=operation,
                    result_type=ChatReply,
                )
                return reply
            except WorkflowUpdateFailedError as err:
                error = error_from_update(err)
                if not isinstance(error, MessageRejectedError):
                    raise error from None
                await self._before_retry(retry, error, session_id, tenant_id)

    async def stream(
        self,
        session_id: str,
        text: str,
        *,
        tenant_id: str = "default",
        user_id: str | None = None,
        message_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        config: SessionConfig | None = None,
        initial_context: dict[str, Any] | None = None,
    ) -> AsyncIterator[Delta | StreamRestart | ChatReply]:
        """Send ``text`` and yield the reply's text as it is produced, then the ``ChatReply``.

        Yields :class:`Delta` (a ``str`` with the stream ``offset`` it came from), a
        :class:`StreamRestart` if a model attempt was retried (discard the text so far),
        and finally the :class:`ChatReply`, whose ``reply`` equals the deltas joined.
        Reconnect after a drop with :meth:`resume`.
        """
        message = self._message(
            session_id, text, user_id, message_id, metadata, config, stream=True
        )
        assert message.message_id is not None
        retry = _RejectionRetry()
        while True:
            handle = await self._start_turn(session_id, tenant_id, message, config, initial_context)
            try:
                async for item in follow_turn(
                    self.temporal, handle.workflow_id, message.message_id, self._reply(handle)
                ):
                    yield item
                return
            except MessageRejectedError as err:
                # A refusal comes before any delta, so retrying repeats nothing.
                await self._before_retry(retry, err, session_id, tenant_id)

    async def resume(
        self,
        session_id: str,
        message_id: str,
        *,
        tenant_id: str = "default",
        user_id: str | None = None,
        after_offset: int = -1,
    ) -> AsyncIterator[Delta | StreamRestart | ChatReply]:
        """Continue a streamed turn after ``after_offset`` (the last :class:`Delta` seen)."""
        handle = self.handle(session_id, tenant_id)
        try:
            update = await handle.start_update(
                SessionWorkflow.wait_reply,
                args=[message_id, user_id],
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )
        except WorkflowUpdateFailedError as err:
            raise error_from_update(err) from None
        async for item in follow_turn(
            self.temporal, handle.id, message_id, self._reply(update), after_offset
        ):
            yield item

    def _message(
        self,
        session_id: str,
        text: str,
        user_id: str | None,
        message_id: str | None,
        metadata: dict[str, Any] | None,
        config: SessionConfig | None,
        *,
        stream: bool,
    ) -> ChatMessage:
        """Build the message and check it as the session would, before anything is sent.

        The limits are those of ``config`` (the config a new session would start with).
        """
        try:
            message = ChatMessage(
                message_id=message_id or new_message_id(),
                message=text,
                user_id=user_id,
                metadata=metadata,
                stream=stream,
            )
            parse_inbound(message, config or SessionConfig(), session_id, None)
        except ValidationError as err:
            raise MessageRejectedError(describe_validation_error(err), "InvalidMessage") from None
        except InvalidMessageError as err:
            raise MessageRejectedError(str(err), "InvalidMessage") from None
        return message

    async def _start_turn(
        self,
        session_id: str,
        tenant_id: str,
        message: ChatMessage,
        config: SessionConfig | None,
        initial_context: dict[str, Any] | None,
    ) -> WorkflowUpdateHandle[ChatReply]:
        """Deliver the message by update-with-start (a refusal surfaces from the result)."""
        operation = self._start_operation(
            session_id, tenant_id, message.user_id, config, initial_context
        )
        try:
            return await self.temporal.start_update_with_start_workflow(
                SEND_MESSAGE,
                message,
                start_workflow_operation=operation,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=ChatReply,
            )
        except WorkflowUpdateFailedError as err:
            raise error_from_update(err) from None

    async def _before_retry(
        self, retry: "_RejectionRetry", error: MessageRejectedError, session_id: str, tenant_id: str
    ) -> None:
        """Wait out a transient refusal, or re-raise one that is final."""
        retry.attempts += 1
        if retry.attempts >= MAX_SEND_ATTEMPTS:
            raise ConvoflowError(f"session {session_id!r} stayed busy; message was not sent")
        if error.kind == "SessionContinuing":
            # The run is handing over to its successor; the next try lands there.
            await asyncio.sleep(retry.delay)
            retry.delay = min(retry.delay * 2, 1.0)
            return
        if error.kind == "SessionClosing" and not retry.waited_for_close:
            # The old run is archiving; once it completes a send opens a new run.
            retry.waited_for_close = True
            await self._wait_closed(session_id, tenant_id)
            return
        raise error

    @staticmethod
    async def _reply(handle: WorkflowUpdateHandle[ChatReply]) -> ChatReply:
        try:
            return await handle.result()
        except WorkflowUpdateFailedError as err:
            raise error_from_update(err) from None

    async def _wait_closed(self, session_id: str, tenant_id: str) -> None:
        try:
            await self.handle(session_id, tenant_id).result()
        except Exception:
            return

    async def submit(
        self,
        session_id: str,
        text: str,
        *,
        tenant_id: str = "default",
        user_id: str | None = None,
        message_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        config: SessionConfig | None = None,
        initial_context: dict[str, Any] | None = None,
    ) -> str:
        """Queue ``text`` without waiting (signal-with-start); return its message id."""
        message = self._message(
            session_id, text, user_id, message_id, metadata, config, stream=False
        )
        await self.temporal.start_workflow(
            SessionWorkflow.run,
            self._session_input(session_id, tenant_id, user_id, config, initial_context),
            id=session_workflow_id(tenant_id, session_id),
            task_queue=self.settings.task_queue,
            start_signal="submit_message",
            start_signal_args=[message],
            search_attributes=self._search_attributes(tenant_id, user_id),
            static_summary=f"tenant {tenant_id} · session {session_id} · user {user_id or '-'}",
        )
        assert message.message_id is not None
        return message.message_id

    async def close(
        self,
        session_id: str,
        *,
        tenant_id: str = "default",
        reason: str = "closed by request",
        wait: bool = True,
    ) -> SessionSummary | None:
        """Close a session (it archives first); with ``wait``, return its summary."""
        handle = self.handle(session_id, tenant_id)
        try:
            await handle.signal(SessionWorkflow.close, reason)
        except RPCError as err:
            raise self._rpc_error(err, session_id, tenant_id) from None
        if not wait:
            return None
        summary: SessionSummary = await handle.result()
        return summary

    # ------------------------------------------------------------------ queries

    async def history(
        self,
        session_id: str,
        *,
        tenant_id: str = "default",
        limit: int | None = None,
        user_id: str | None = None,
    ) -> list[ChatMessage]:
        """Kept messages, oldest first (at most ``limit``); with ``user_id``, owner only."""
        handle = self.handle(session_id, tenant_id)
        return await self._query(handle.query(SessionWorkflow.history, args=[limit, user_id]))

    async def status(
        self, session_id: str, *, tenant_id: str = "default", user_id: str | None = None
    ) -> SessionStatus:
        """The session's status; with ``user_id``, owner only."""
        handle = self.handle(session_id, tenant_id)
        return await self._query(handle.query(SessionWorkflow.status, user_id))

    async def config(
        self, session_id: str, *, tenant_id: str = "default", user_id: str | None = None
    ) -> SessionConfig:
        """The session's configuration; with ``user_id``, owner only."""
        handle = self.handle(session_id, tenant_id)
        return await self._query(handle.query(SessionWorkflow.config, user_id))

    @staticmethod
    async def _query(call: Awaitable[T]) -> T:
        """Run a query, turning "no such workflow" and owner refusals into SessionNotFoundError."""
        try:
            return await call
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise SessionNotFoundError("no such session") from None
            raise ConvoflowError(f"query failed: {err.message}") from None
        except WorkflowQueryFailedError as err:
            if "no such session" in str(err):
                raise SessionNotFoundError("no such session") from None
            raise ConvoflowError(f"query failed: {err}") from None

    @staticmethod
    def _rpc_error(err: RPCError, session_id: str, tenant_id: str) -> ConvoflowError:
        if err.status == RPCStatusCode.NOT_FOUND:
            return SessionNotFoundError(f"no session {session_id!r} in tenant {tenant_id!r}")
        return ConvoflowError(f"session {session_id!r}: {err.message}")

    async def list_sessions(
        self,
        *,
        tenant_id: str | None = None,
        running_only: bool = True,
        limit: int = 100,
        user_id: str | None = None,
    ) -> list[SessionInfo]:
        """Sessions, newest first: one row per session (its latest run).

        With ``user_id``, only sessions whose user search attribute is that user (ownerless
        sessions never match); this needs the search attributes.
        """
        clauses = ["WorkflowType = 'SessionWorkflow'"]
        if tenant_id is not None:
            validate_id("tenant id", tenant_id)
            clauses.append(f"WorkflowId STARTS_WITH 'convoflow:{tenant_id}:'")
        if user_id is not None:
            validate_id("user id", user_id)
            clauses.append(f"{sa.USER.name} = '{user_id}'")
        if running_only:
            clauses.append("ExecutionStatus = 'Running'")
        else:
            clauses.append("ExecutionStatus != 'ContinuedAsNew'")
        query = " AND ".join(clauses)
        seen: set[str] = set()
        sessions: list[SessionInfo] = []
        async for execution in self.temporal.list_workflows(query, limit=limit * 2):
            if execution.id in seen:
                continue
            seen.add(execution.id)
            try:
                tenant, session = parse_session_workflow_id(execution.id)
            except ValueError:
                continue
            attributes = execution.typed_search_attributes
            status = execution.status
            sessions.append(
                SessionInfo(
                    tenant_id=tenant,
                    session_id=session,
                    workflow_id=execution.id,
                    run_id=execution.run_id,
                    status=attributes.get(sa.STATUS)
                    or (status.name.lower() if isinstance(status, ExecutionStatus) else "unknown"),
                    start_time=execution.start_time,
                    close_time=execution.close_time,
                    user_id=attributes.get(sa.USER),
                    message_count=attributes.get(sa.MESSAGE_COUNT),
                    last_activity=attributes.get(sa.LAST_ACTIVITY),
                )
            )
            if len(sessions) >= limit:
                break
        return sessions
