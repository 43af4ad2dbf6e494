"""Listing sessions through the visibility store (search attributes)."""

from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client
from temporalio.client import WorkflowExecutionStatus as ExecutionStatus

from models import parse_session_workflow_id, validate_id
from models import search_attributes as sa


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


async def list_sessions(
    temporal: Client,
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
    async for execution in temporal.list_workflows(query, limit=limit * 2):
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
