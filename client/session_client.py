"""SessionClient: the typed async Python API for Convoflow sessions."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.common import (
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from client.errors import (
    ConvoflowError,
    MessageRejectedError,
    SessionNotFoundError,
    error_from_update,
)
from client.requests import build_message, search_attributes_for, session_input
from client.retrying import RetryState, settled
from client.steering import SteeringClient
from client.streaming import TurnEvent, follow_turn
from models import (
    ChatMessage,
    ChatReply,
    Refusal,
    SessionConfig,
    SessionSummary,
    session_workflow_id,
)
from models.settings import Settings
from worker._compat import update_outcome_known
from worker.client import connect_client
from worker.tracing import turn_span
from workflows.inbound import (
    SEND_MESSAGE,
)
from workflows.session import SessionWorkflow


@dataclass(frozen=True)
class Turn:
    """A streamed message the session accepted (see :meth:`SessionClient.start_turn`)."""

    sessions: "SessionClient"
    handle: WorkflowUpdateHandle[ChatReply]
    message_id: str

    def events(self) -> AsyncIterator["TurnEvent"]:
        """The reply's text as it is produced (:class:`Delta`; :class:`StreamRestart` when
        a retried model attempt starts over; :class:`ToolEvent` when a tool call starts or
        ends), then the :class:`ChatReply`."""
        return follow_turn(
            self.sessions.temporal,
            self.handle.workflow_id,
            self.message_id,
            self.sessions._reply(self.handle),
        )

    async def reply(self) -> ChatReply:
        """Wait for the reply (raises :class:`TurnFailedError` if the turn failed)."""
        return await self.sessions._reply(self.handle)


T = TypeVar("T")


class SessionClient(SteeringClient):
    """Send messages to sessions and read them back; cancel, regenerate and fork
    (:class:`client.steering.SteeringClient`).

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
            session_input(self.settings, session_id, tenant_id, user_id, config, initial_context),
            id=session_workflow_id(tenant_id, session_id),
            task_queue=self.settings.connection.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=search_attributes_for(self.settings, tenant_id, user_id),
            static_summary=f"tenant {tenant_id} · session {session_id} · user {user_id or '-'}",
        )

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
        message = build_message(
            session_id, text, user_id, message_id, metadata, config, stream=False
        )
        with turn_span("convoflow.send", tenant_id, session_id, message.message_id):
            return await self._send(message, session_id, tenant_id, config, initial_context)

    async def _send(
        self,
        message: ChatMessage,
        session_id: str,
        tenant_id: str,
        config: SessionConfig | None,
        initial_context: dict[str, Any] | None,
    ) -> ChatReply:
        retry = RetryState()
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
            except RPCError as err:
                await settled(operation)
                await retry.resend_if_dropped(err, session_id)

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
    ) -> AsyncIterator[TurnEvent]:
        """Send ``text`` and yield the reply's text as it is produced, then the ``ChatReply``.

        Yields :class:`Delta` (a ``str`` with the stream ``offset`` it came from), a
        :class:`StreamRestart` if a model attempt was retried (discard the text so far),
        a :class:`ToolEvent` when one of the agent's tool calls starts or ends, and finally
        the :class:`ChatReply`, whose ``reply`` equals the deltas joined.
        Reconnect after a drop with :meth:`resume`.
        """
        turn = await self.start_turn(
            session_id,
            text,
            tenant_id=tenant_id,
            user_id=user_id,
            message_id=message_id,
            metadata=metadata,
            config=config,
            initial_context=initial_context,
        )
        async for item in turn.events():
            yield item

    async def start_turn(
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
    ) -> "Turn":
        """Deliver ``text`` as a streamed turn and return once the session accepted it.

        Raises :class:`MessageRejectedError` (or :class:`SessionNotFoundError`) when the
        session refuses it, after waiting out transient refusals; so a caller (the HTTP
        gateway) can answer a refusal with a status before it starts streaming. Then
        :meth:`Turn.events` yields the reply as it is produced.
        """
        message = build_message(
            session_id, text, user_id, message_id, metadata, config, stream=True
        )
        assert message.message_id is not None
        with turn_span("convoflow.start_turn", tenant_id, session_id, message.message_id):
            return await self._deliver(message, session_id, tenant_id, config, initial_context)

    async def _deliver(
        self,
        message: ChatMessage,
        session_id: str,
        tenant_id: str,
        config: SessionConfig | None,
        initial_context: dict[str, Any] | None,
    ) -> "Turn":
        assert message.message_id is not None
        retry = RetryState()
        while True:
            try:
                handle = await self._start_turn(
                    session_id, tenant_id, message, config, initial_context
                )
            except RPCError as err:
                await retry.resend_if_dropped(err, session_id)  # settled by _start_turn
                continue
            if not update_outcome_known(handle):
                return Turn(self, handle, message.message_id)
            try:
                await self._reply(handle)  # decided at once: refused, or a known duplicate
                return Turn(self, handle, message.message_id)
            except MessageRejectedError as err:
                await self._before_retry(retry, err, session_id, tenant_id)

    async def resume(
        self,
        session_id: str,
        message_id: str,
        *,
        tenant_id: str = "default",
        user_id: str | None = None,
        after_offset: int = -1,
    ) -> AsyncIterator[TurnEvent]:
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
        except RPCError:
            await settled(operation)
            raise

    async def _before_retry(
        self, retry: RetryState, error: MessageRejectedError, session_id: str, tenant_id: str
    ) -> None:
        """Wait out a transient refusal, or re-raise one that is final."""
        if error.kind == Refusal.SESSION_CONTINUING:
            # The run is handing over to its successor; the next try lands there.
            await retry.back_off(session_id)
            return
        if error.kind == Refusal.SESSION_CLOSING and not retry.waited_for_close:
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
        message = build_message(
            session_id, text, user_id, message_id, metadata, config, stream=False
        )
        await self.temporal.start_workflow(
            SessionWorkflow.run,
            session_input(self.settings, session_id, tenant_id, user_id, config, initial_context),
            id=session_workflow_id(tenant_id, session_id),
            task_queue=self.settings.connection.task_queue,
            start_signal="submit_message",
            start_signal_args=[message],
            search_attributes=search_attributes_for(self.settings, tenant_id, user_id),
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

    @staticmethod
    def _rpc_error(err: RPCError, session_id: str, tenant_id: str) -> ConvoflowError:
        if err.status == RPCStatusCode.NOT_FOUND:
            return SessionNotFoundError(f"no session {session_id!r} in tenant {tenant_id!r}")
        return ConvoflowError(f"session {session_id!r}: {err.message}")
