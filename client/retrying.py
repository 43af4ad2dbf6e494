"""Sending the same request again after a transient refusal: one backoff for every caller."""

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from temporalio.client import WithStartWorkflowOperation
from temporalio.service import RPCError

from client.errors import ConvoflowError, workflow_not_ready

MAX_SEND_ATTEMPTS = 40
"""Tries of one request before the client gives up (about 35 s at the capped delay)."""


@dataclass
class RetryState:
    """State of retrying one request past transient refusals."""

    attempts: int = 0
    delay: float = 0.02
    waited_for_close: bool = False

    async def back_off(self, session_id: str) -> None:
        """Wait before sending the same request again (exponential, at most 1 s); raise
        once the attempts are used up."""
        self.attempts += 1
        if self.attempts >= MAX_SEND_ATTEMPTS:
            raise ConvoflowError(f"session {session_id!r} stayed busy; message was not sent")
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, 1.0)

    async def resend_if_dropped(self, err: RPCError, session_id: str) -> None:
        """Back off when the server dropped the update unapplied (``WorkflowNotReady``), so
        the caller sends it again; re-raise any other RPC error."""
        if not workflow_not_ready(err):
            raise err
        await self.back_off(session_id)


async def settled(operation: WithStartWorkflowOperation[Any, Any]) -> None:
    """Collect the outcome of an abandoned start operation (an uncollected failure would be
    logged as "Future exception was never retrieved")."""
    with contextlib.suppress(Exception):
        await operation.workflow_handle()
