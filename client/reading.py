"""Reading sessions from the Python client: handles, history, status, configuration, lists.

The base of :class:`client.session_client.SessionClient`; every read names the caller
(``user_id``) when it has one, and the session answers anyone but its owner "no such session".
"""

from collections.abc import Awaitable
from typing import TypeVar

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from client.errors import ConvoflowError, SessionNotFoundError
from client.listing import SessionInfo, list_sessions
from models import ChatMessage, SessionConfig, SessionStatus, SessionSummary, session_workflow_id
from models.settings import Settings
from workflows.session import SessionWorkflow

T = TypeVar("T")


class ReadingClient:
    """``handle``, ``history``, ``status``, ``config`` and ``list_sessions``."""

    temporal: Client
    settings: Settings

    def handle(
        self, session_id: str, tenant_id: str = "default"
    ) -> WorkflowHandle[SessionWorkflow, SessionSummary]:
        """The workflow handle of a session (latest run)."""
        return self.temporal.get_workflow_handle_for(
            SessionWorkflow.run, session_workflow_id(tenant_id, session_id)
        )

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
        return await list_sessions(
            self.temporal,
            tenant_id=tenant_id,
            running_only=running_only,
            limit=limit,
            user_id=user_id,
        )
