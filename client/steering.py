"""Steering from the Python client: approve or deny tool calls, cancel the running turn,
regenerate, fork.

Mixed into :class:`client.session_client.SessionClient`; every call names the caller
(``user_id``) and the session refuses anyone but its owner with "no such session".
"""

from typing import TypeVar

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from client.errors import (
    ConvoflowError,
    MessageRejectedError,
    SessionNotFoundError,
    error_from_update,
    workflow_not_ready,
)
from client.reading import ReadingClient
from client.requests import search_attributes_for
from client.retrying import RetryState
from models import (
    ChatReply,
    Refusal,
    SessionInput,
    session_workflow_id,
    validate_id,
)
from models.approvals import ANSWER_APPROVAL, ApprovalAnswer, ApprovalRequest
from models.settings import Settings
from models.steering import CANCEL_TURN, REGENERATE, CancelResult, ForkResult, SteerRequest
from workflows.session import SessionWorkflow

R = TypeVar("R", CancelResult, ChatReply, ApprovalRequest)


class SteeringClient(ReadingClient):
    """``approvals``, ``approve``, ``deny``, ``cancel``, ``regenerate`` and ``fork`` of
    :class:`SessionClient`."""

    temporal: Client
    settings: Settings

    async def approvals(
        self, session_id: str, *, tenant_id: str = "default", user_id: str | None = None
    ) -> list[ApprovalRequest]:
        """The running turn's approval requests, pending ones first (empty when none)."""
        handle = self.handle(session_id, tenant_id)
        return await self._query(handle.query(SessionWorkflow.approvals, user_id))

    async def approve(
        self,
        session_id: str,
        request_id: str,
        *,
        tenant_id: str = "default",
        user_id: str | None = None,
    ) -> ApprovalRequest:
        """Let the pending tool call ``request_id`` run; the answered request comes back.

        Refused with ``UnknownApproval`` for an id that is not pending (never asked, or
        answered already), and with "no such session" for anyone but the owner.
        """
        answer = ApprovalAnswer(request_id=request_id, approved=True, user_id=user_id)
        return await self._steer(ANSWER_APPROVAL, session_id, tenant_id, answer, ApprovalRequest)

    async def deny(
        self,
        session_id: str,
        request_id: str,
        *,
        message: str | None = None,
        tenant_id: str = "default",
        user_id: str | None = None,
    ) -> ApprovalRequest:
        """Refuse the pending tool call ``request_id``; the model reads ``message`` (if any)
        as the call's result and the turn goes on."""
        answer = ApprovalAnswer(
            request_id=request_id, approved=False, message=message, user_id=user_id
        )
        return await self._steer(ANSWER_APPROVAL, session_id, tenant_id, answer, ApprovalRequest)

    async def cancel(
        self, session_id: str, *, tenant_id: str = "default", user_id: str | None = None
    ) -> CancelResult:
        """Cancel the session's running turn and return once it has settled.

        ``status`` is ``cancelled`` (``reply`` holds the partial text, ``stop_reason``
        ``cancelled``), ``finished`` (the turn ended first) or ``idle`` (nothing ran).
        """
        request = SteerRequest(user_id=user_id)
        return await self._steer(CANCEL_TURN, session_id, tenant_id, request, CancelResult)

    async def regenerate(
        self, session_id: str, *, tenant_id: str = "default", user_id: str | None = None
    ) -> ChatReply:
        """Run the last user message again and return the new reply (the previous one stays
        in the history as an alternative). Refused while a turn runs (``SessionBusy``)."""
        request = SteerRequest(user_id=user_id)
        return await self._steer(REGENERATE, session_id, tenant_id, request, ChatReply)

    async def _steer(
        self,
        name: str,
        session_id: str,
        tenant_id: str,
        request: BaseModel,
        result_type: type[R],
    ) -> R:
        retry = RetryState()
        while True:
            try:
                result: R = await self.handle(session_id, tenant_id).execute_update(
                    name, request, result_type=result_type
                )
                return result
            except WorkflowUpdateFailedError as err:
                raise error_from_update(err) from None
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    raise SessionNotFoundError("no such session") from None
                if not workflow_not_ready(err):
                    raise ConvoflowError(f"session {session_id!r}: {err.message}") from None
            await retry.back_off(session_id)  # dropped unapplied: the same request again

    async def fork(
        self,
        session_id: str,
        at_seq: int,
        new_session_id: str,
        *,
        tenant_id: str = "default",
        user_id: str | None = None,
    ) -> ForkResult:
        """Start ``new_session_id`` with the messages of ``session_id`` up to ``at_seq``.

        The new session has the source's owner and configuration. Another user's session is
        "no such session"; a taken id is refused with ``SessionExists``.
        """
        validate_id("session id", new_session_id)
        history = await self.history(session_id, tenant_id=tenant_id, user_id=user_id)
        config = await self.config(session_id, tenant_id=tenant_id, user_id=user_id)
        owner = (await self.status(session_id, tenant_id=tenant_id, user_id=user_id)).user_id
        seqs = [m.seq for m in history if m.seq is not None]
        if not seqs or not seqs[0] <= at_seq <= seqs[-1]:
            kept = f"{seqs[0]}..{seqs[-1]}" if seqs else "none"
            raise MessageRejectedError(
                f"no message {at_seq} to fork at (the session keeps {kept})",
                Refusal.INVALID_MESSAGE,
            )
        seeds = [m for m in history if m.seq is not None and m.seq <= at_seq]
        session = SessionInput(
            session_id=new_session_id,
            tenant_id=tenant_id,
            user_id=owner,
            config=config,
            seed_messages=seeds,
        )
        await self._start_fork(session, tenant_id, owner, session_id)
        return ForkResult(
            session_id=new_session_id,
            tenant_id=tenant_id,
            user_id=owner,
            forked_from=session_id,
            at_seq=at_seq,
            messages=len(seeds),
        )

    async def _start_fork(
        self, session: SessionInput, tenant_id: str, owner: str | None, source: str
    ) -> None:
        taken = MessageRejectedError(
            f"session {session.session_id!r} already exists", Refusal.SESSION_EXISTS
        )
        handle = self.handle(session.session_id, tenant_id)
        try:
            await handle.describe()
            raise taken  # an earlier session of that id (running or ended) keeps it
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise ConvoflowError(f"session {session.session_id!r}: {err.message}") from None
        try:
            await self.temporal.start_workflow(
                SessionWorkflow.run,
                session,
                id=session_workflow_id(tenant_id, session.session_id),
                task_queue=self.settings.connection.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=search_attributes_for(self.settings, tenant_id, owner),
                static_summary=(
                    f"tenant {tenant_id} · session {session.session_id} · user {owner or '-'}"
                    f" · fork of {source}"
                ),
            )
        except WorkflowAlreadyStartedError:
            raise taken from None
