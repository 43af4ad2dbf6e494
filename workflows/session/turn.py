"""The model turn: one Strands agent call, made as Temporal activities by ``TemporalAgent``."""

import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from strands.types.exceptions import (
        ContextWindowOverflowException,
        EventLoopException,
        MaxTokensReachedException,
    )
    from temporalio.strands_agents import TemporalAgent

from activities.memory.extract import memory_block
from models import ChatMessage, MemoryRecord, SessionInput, TokenUsage
from models.stream import turn_topic
from models.summary import ConversationSummary
from workflows.context import BUDGET_KEY, build_context, context_budget, pinned_blocks, user_text
from workflows.session.agent import SessionAgent
from workflows.window import model_messages, reply_text, system_prompt_for

# Errors from a model turn that end the turn (not the workflow task).
TURN_ERRORS = (
    ActivityError,
    ApplicationError,
    EventLoopException,
    MaxTokensReachedException,
    ContextWindowOverflowException,
)


def _retry_policy(max_attempts: int) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=max_attempts,
    )


async def call_model(
    session: SessionInput,
    earlier: list[ChatMessage],
    message: ChatMessage,
    memories: list[MemoryRecord],
    defined: SessionAgent,
    *,
    summary: ConversationSummary | None = None,
    hooks: list[Any] | None = None,
) -> tuple[ChatMessage, TokenUsage]:
    """Ask the session's agent to answer ``message``; return the reply and its usage.

    ``earlier`` is the window before ``message``; the model sees its newest answered turns
    (with their tool calls) that fit the session's token budget (``workflows/context.py``),
    under a system prompt that pins the running summary and the recalled memories. Strands
    runs the agent's tool calls, each an activity. With ``hooks`` (steering: a turn that can
    be cancelled) a cancelled model call is waited for, so its partial reply comes back.
    Raises one of ``TURN_ERRORS`` when the turn fails.
    """
    config = session.config
    cancellation = (
        ActivityCancellationType.TRY_CANCEL
        if hooks is None
        else ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
    )
    budget = context_budget(defined.model, config.context_tokens)
    summary_text = summary.text if summary else ""
    pinned = pinned_blocks(defined.system_prompt, summary_text, memory_block(memories), budget)
    system_prompt = system_prompt_for(defined.system_prompt, session.initial_context, pinned)
    context = build_context(
        model_messages(earlier, defined.context_messages),
        user_text(message.message),
        system_prompt,
        budget,
        defined.context_messages,
    )
    agent = TemporalAgent(
        model=defined.model,
        messages=context.history,
        system_prompt=system_prompt,
        callback_handler=None,
        start_to_close_timeout=config.model_timeout,
        heartbeat_timeout=config.model_heartbeat_timeout,
        retry_policy=_retry_policy(config.model_max_attempts),
        cancellation_type=cancellation,
        summary="model turn",
        streaming_topic=turn_topic(message.message_id or "") if message.stream else None,
        streaming_batch_interval=config.stream_batch_interval,
        hooks=hooks,
        **defined.options(),
    )
    defined.begin(agent, message)
    start = len(agent.messages)
    try:
        # The model activity checks the budget again with the provider's own tokenizer.
        state = {BUDGET_KEY: budget}
        result = await agent.invoke_async(context.prompt["content"], invocation_state=state)
        while result.stop_reason == "interrupt" and result.interrupts:
            # Paused for approval: wait for the answers, then Strands goes on from the call.
            defined.approvals.ask_ahead(agent.messages)
            answers = await defined.approvals.answers(list(result.interrupts))
            result = await agent.invoke_async(answers, invocation_state=state)
        answer, stop_reason = result.message, str(result.stop_reason)
    except MaxTokensReachedException:
        # A reply cut off at the length limit is still a reply: keep it, flagged.
        if not agent.messages or agent.messages[-1].get("role") != "assistant":
            raise
        answer, stop_reason = agent.messages[-1], "max_tokens"
    finally:
        defined.end()  # however the turn ended: no tool call is in flight any more
    usage = agent.event_loop_metrics.accumulated_usage
    turn_usage = TokenUsage(
        input_tokens=int(usage.get("inputTokens", 0)),
        output_tokens=int(usage.get("outputTokens", 0)),
        total_tokens=int(usage.get("totalTokens", 0)),
    )
    reply = ChatMessage(
        message_id=str(workflow.uuid4()),
        role="assistant",
        message=reply_text(answer),
        reply_to=message.message_id,
        metadata={
            "stop_reason": stop_reason,
            "usage": turn_usage.model_dump(),
            "model": defined.model,
            "context": {"tokens": context.tokens, "left_out": context.left_out},
            **defined.finish(agent.messages[start:]),
        },
    )
    return reply, turn_usage


def error_message(message: ChatMessage, reason: str) -> ChatMessage:
    """The error message a failed turn leaves in the history instead of a reply."""
    return ChatMessage(
        message_id=str(workflow.uuid4()),
        role="error",
        message=f"Session error: {reason}",
        reply_to=message.message_id,
        metadata={"type": "error", "error": reason},
    )


def context_message(context: dict[str, Any]) -> ChatMessage:
    """The system message a session's initial context becomes (first in its history)."""
    return ChatMessage(
        message_id=str(workflow.uuid4()),
        role="system",
        message=f"Session context: {json.dumps(context, sort_keys=True, ensure_ascii=False)}",
        user_id=None,
        metadata={"type": "system", "context": context},
    )


def add_usage(total: TokenUsage, turn: TokenUsage) -> TokenUsage:
    """``total`` plus one turn's usage."""
    return TokenUsage(
        input_tokens=total.input_tokens + turn.input_tokens,
        output_tokens=total.output_tokens + turn.output_tokens,
        total_tokens=total.total_tokens + turn.total_tokens,
    )
