"""What operators and clients see of a session: status, current details, search attributes."""

import json
from datetime import datetime
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from models import (
    ChatMessage,
    SessionInput,
    SessionState,
    SessionStatus,
    SessionStatusName,
    SessionSummary,
)
from models import search_attributes as sa
from workflows.session.options import ISSUE_ATTRIBUTES_PATCH, MAX_ISSUES
from workflows.session.state import RunState

PREVIEW_CHARS = 80
# A busy session's search attributes lag its live count by at most this many messages.
BUSY_REFRESH_MESSAGES = 20


class SessionView:
    """Keeps the operator view of one session up to date."""

    def __init__(self, state: SessionState, session: SessionInput, run: RunState) -> None:
        """Show ``state`` of ``session``."""
        self._state = state
        self._session = session
        self._run = run

    def expires_at(self) -> datetime:
        """When the session expires if nothing else arrives."""
        return self._state.last_activity + self._session.config.idle_timeout

    def set_step(self, status: SessionStatusName, step: str, progress: int) -> None:
        """Move to ``status`` / ``step`` and show it."""
        run = self._run
        run.status, run.step, run.progress = status, step, progress
        run.updated_at = workflow.now()
        self.show()

    def add_issue(self, issue: str) -> None:
        """Keep ``issue`` (stamped) among the last issues, and log it."""
        workflow.logger.warning("session %s: %s", self._session.session_id, issue)
        state, now = self._state, workflow.now()
        state.issues.append(f"{now.isoformat()} {issue}")
        del state.issues[:-MAX_ISSUES]
        state.issue_count += 1
        state.last_issue_at = now
        self.show()
        # Operators find troubled sessions from the list: `ConvoflowIssueCount > 0`.
        if self._session.config.search_attributes and workflow.patched(ISSUE_ATTRIBUTES_PATCH):
            workflow.upsert_search_attributes(
                [sa.ISSUE_COUNT.value_set(state.issue_count), sa.LAST_ISSUE_AT.value_set(now)]
            )

    def refused_start(self, reason: str) -> SessionSummary:
        """End a new session that cannot run at all (its agent is unknown) at once: nothing
        was written, so there is nothing to archive; what it was sent is refused."""
        self.add_issue(f"refused to start: {reason}")
        self.set_step("closed", f"closed: {reason}", 100)
        self.upsert_search_attributes(first=True)
        return self.summary("closed", reason[:500])

    def history(self, limit: int | None) -> list[ChatMessage]:
        """The last ``limit`` kept messages (all of them for None), oldest first."""
        messages = self._state.messages
        if limit is None:
            return list(messages)
        if not isinstance(limit, int) or limit < 0:
            raise ValueError("limit must be a non-negative integer")
        return messages[-limit:] if limit else []

    def status(self) -> SessionStatus:
        """The answer of the ``status`` query."""
        state, run, session = self._state, self._run, self._session
        return SessionStatus(
            status=run.status,
            current_step=run.step,
            progress=run.progress,
            issues=list(state.issues),
            issue_count=state.issue_count,
            updated_at=run.updated_at,
            session_id=session.session_id,
            tenant_id=session.tenant_id,
            user_id=session.user_id,
            message_count=len(state.messages),
            total_messages=state.next_seq,
            trimmed_messages=state.next_seq - len(state.messages),
            turns=state.turns,
            queued=len(state.pending),
            last_activity=state.last_activity,
            expires_at=self.expires_at(),
            run=state.runs,
            usage=state.usage,
            summary=state.summary,
            model=session.config.model,
            agent=session.config.agent,
            approvals=run.pending_approvals(),
        )

    def summary(self, status: Literal["expired", "closed"], reason: str) -> SessionSummary:
        """The finished session's result (archived with it), running summary included."""
        state, session = self._state, self._session
        return SessionSummary(
            session_id=session.session_id,
            tenant_id=session.tenant_id,
            user_id=session.user_id,
            status=status,
            reason=reason,
            turns=state.turns,
            total_messages=state.next_seq,
            created_at=state.created_at,
            ended_at=workflow.now(),
            usage=state.usage,
            conversation_summary=state.summary,
        )

    def show(self) -> None:
        """Current details in the Temporal UI (never more than a preview of any text)."""
        state, run = self._state, self._run
        last = state.messages[-1].message if state.messages else ""
        issues = "none"
        if state.issue_count and state.last_issue_at is not None:
            latest = state.issues[-1].split(" ", 1)[-1] if state.issues else ""
            issues = (
                f"{state.issue_count}, last at {state.last_issue_at.isoformat()}: "
                f"{_preview(latest)}"
            )
        waiting = "".join(
            f"- approval {r.id}: {r.tool} {_preview(json.dumps(r.input, sort_keys=True))}"
            f" (until {r.deadline.isoformat()})\n"
            for r in run.pending_approvals()
        )
        workflow.set_current_details(
            f"**{run.status}**: {run.step}\n\n{waiting}"
            f"- messages: {state.next_seq} ({len(state.messages)} kept), turns: {state.turns}\n"
            f"- queued: {len(state.pending)}\n"
            f"- issues: {issues}\n"
            f"- last message: {_preview(last)}\n"
            f"- expires at: {self.expires_at().isoformat()}"
        )

    def upsert_search_attributes(self, *, first: bool = False) -> None:
        """Write the Convoflow* search attributes (status, counts; owner on the first run)."""
        if not self._session.config.search_attributes:
            return
        state = self._state
        self._run.search_attributes_seq = state.next_seq
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.STATUS.value_set(self._run.status),
            sa.MESSAGE_COUNT.value_set(state.next_seq),
            sa.LAST_ACTIVITY.value_set(state.last_activity),
        ]
        if first:
            updates.append(sa.TENANT.value_set(self._session.tenant_id))
            if self._session.user_id is not None:
                updates.append(sa.USER.value_set(self._session.user_id))
        workflow.upsert_search_attributes(updates)

    def refresh_search_attributes(self, *, busy: bool = False) -> None:
        """Upsert the counters when they moved: once per record round, not per turn (in a
        busy session only once they moved by ``BUSY_REFRESH_MESSAGES``)."""
        moved = self._state.next_seq - self._run.search_attributes_seq
        if moved >= (BUSY_REFRESH_MESSAGES if busy else 1):
            self.upsert_search_attributes()


def _preview(text: str) -> str:
    return text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else "")
