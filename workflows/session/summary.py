"""The running summary, kept off the reply's path: after a reply, when messages have left
what the next turn's context can hold, one ``summarise_conversation`` activity folds them
into the summary so far. No turn waits for it; a failed or slow one is an issue in
``status()`` and the previous summary stays. The summary lives in ``SessionState`` (so it is
carried across continue-as-new), and a session that comes back under the same id starts
from the one it was archived with."""

import asyncio
from collections.abc import Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError

from activities.memory.summary import SummaryActivities
from models import ActorRef, ChatMessage, SessionInput, SessionRef, SessionState
from models.summary import ConversationSummary
from models.summary_inputs import PreviousSummaryInput, SummariseInput
from workflows.context import build_context, context_budget, pinned_blocks, user_text
from workflows.session.options import (
    LOCAL_ACTIVITY_ERRORS,
    LOCAL_RETRY,
    LOCAL_TIMEOUT,
    SUMMARY_BATCH,
    SUMMARY_PATCH,
    SUMMARY_RETRY,
    SUMMARY_TIMEOUT,
    root_message,
)
from workflows.session.view import SessionView
from workflows.window import answered_pairs, model_messages, system_prompt_for

# Kept free in the next turn's budget for its prompt and recalled memories (unknown yet).
NEXT_TURN_RESERVE = 256


def left_context(
    messages: list[ChatMessage],
    session: SessionInput,
    summary: ConversationSummary | None,
) -> list[ChatMessage]:
    """The kept messages that the next turn's context will not hold (and the summary does
    not cover yet), oldest first."""
    config = session.config
    covered = summary.through_seq if summary is not None else -1
    pairs = answered_pairs(messages)
    if not pairs:
        return []
    budget = context_budget(config.model, config.context_tokens)
    pinned = pinned_blocks(config.system_prompt, summary.text if summary else "", "", budget)
    system_prompt = system_prompt_for(config.system_prompt, session.initial_context, pinned)
    budget -= min(NEXT_TURN_RESERVE, budget // 4)
    context = build_context(
        model_messages(messages, config.context_messages),
        user_text(""),
        system_prompt,
        budget,
        config.context_messages,
    )
    # One exchange per answered user message: the oldest one still sent starts the context.
    # (A tool result is a "user" message too in Strands' format: it is not an exchange.)
    sent = sum(
        1
        for m in context.history
        if m["role"] == "user" and not any("toolResult" in block for block in m["content"])
    )
    sent = min(sent, len(pairs))
    first_sent = pairs[-sent][0].seq if sent else None
    return [
        m
        for m in messages
        if m.seq is not None
        and m.seq > covered
        and (first_sent is None or m.seq < first_sent)
        and m.role in ("user", "assistant")
    ]


class Summarizer:
    """Runs at most one summary update at a time for the session's ``state``."""

    def __init__(
        self,
        state: SessionState,
        session: SessionInput,
        view: SessionView,
        session_ref: Callable[[], SessionRef],
    ) -> None:
        """Keep ``state.summary`` up to date; report trouble through ``view``."""
        self._state = state
        self._session = session
        self._view = view
        self._ref = session_ref
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """A summary activity is in flight."""
        return self._task is not None

    def start(self) -> None:
        """After a reply: start one update when at least ``SUMMARY_BATCH`` messages have
        left the context (unless one runs already, or summaries are off)."""
        config, state = self._session.config, self._state
        if self._task is not None or not config.context_summary:
            return
        left = left_context(state.messages, self._session, state.summary)
        if len(left) < SUMMARY_BATCH or not workflow.patched(SUMMARY_PATCH):
            return
        use_model = config.memory_extraction == "model" or (
            config.memory_extraction == "auto" and config.model != "echo"
        )
        user, tenant = self._session.user_id, self._session.tenant_id
        request = SummariseInput(
            session=self._ref(),
            actor=None if user is None else ActorRef(tenant_id=tenant, actor_id=user),
            model=config.model if use_model else None,
            previous=state.summary,
            messages=left,
        )
        self._task = asyncio.create_task(self._summarise(request))

    async def _summarise(self, request: SummariseInput) -> None:
        this = asyncio.current_task()
        try:
            summary = await workflow.execute_activity_method(
                SummaryActivities.summarise_conversation,
                request,
                start_to_close_timeout=SUMMARY_TIMEOUT,
                retry_policy=SUMMARY_RETRY,
                summary="summarise conversation",
            )
            if self._task is this:
                self._state.summary = summary
                self._view.show()
        except ActivityError as err:
            if self._task is this:  # not when we cancelled it ourselves
                self._view.add_issue(
                    f"summary update failed, keeping the previous one: {root_message(err)}"
                )
        finally:
            if self._task is this:
                self._task = None

    def cancel(self) -> None:
        """Before the run ends: drop an update in flight (the next run starts it again,
        from the same messages, since the summary did not move)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def restore(self) -> None:
        """A session that comes back: start from the summary it was archived with."""
        if not self._session.config.context_summary or not workflow.patched(SUMMARY_PATCH):
            return
        try:
            previous = await workflow.execute_local_activity_method(
                SummaryActivities.previous_summary,
                PreviousSummaryInput(session=self._ref()),
                start_to_close_timeout=LOCAL_TIMEOUT,
                retry_policy=LOCAL_RETRY,
                summary="restore summary",
            )
        except LOCAL_ACTIVITY_ERRORS as err:
            self._view.add_issue(f"could not restore the summary: {root_message(err)}")
            return
        if previous is not None and self._state.summary is None:
            self._state.summary = previous
