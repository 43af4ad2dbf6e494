"""The tools and agents shipped with Convoflow.

- ``default``: today's chat (the session's model and system prompt, no tools).
- ``assistant``: the same, with three tools: ``recall_memory`` (the calling user's long-term
  memories, never anyone else's), ``current_time`` and a safe ``calculator``.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio import activity
from temporalio.exceptions import ApplicationError

from agents.calculator import CalculatorError, evaluate, format_number
from agents.context import tool_context, tool_memory_store
from agents.definition import AgentDefinition, ToolDefinition
from models import ActorRef

RECALL_TOP_K = 5


@activity.defn(name="recall_memory")
async def recall_memory(query: str) -> str:
    """Search the long-term memories of the user you are talking to (facts they told you,
    their preferences, summaries of earlier sessions). Use it when the user refers to
    something from before. Memories of other users are never available.

    Args:
        query: What to look for, in a few words.
    """
    context = tool_context()  # whose memories: the session's user, never the model's choice
    store = tool_memory_store()
    if context.user_id is None:
        return "This session has no user, so there are no long-term memories to search."
    if store is None:
        raise RuntimeError("no memory store on this worker")
    actor = ActorRef(tenant_id=context.tenant_id, actor_id=context.user_id)
    records = await store.search_memories(actor, query, top_k=RECALL_TOP_K)
    if not records:
        return "No memories match."
    return "\n".join(f"- ({record.kind}) {record.text}" for record in records)


@activity.defn(name="current_time")
async def current_time(timezone: str | None = None) -> str:
    """The current date and time, in ISO 8601.

    Args:
        timezone: An IANA time zone such as Europe/Paris (default UTC).
    """
    now = datetime.now(UTC)
    if not timezone:
        return now.isoformat(timespec="seconds")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApplicationError(
            f"unknown time zone {timezone!r}; use a name like Europe/Paris",
            type="UnknownTimeZone",
            non_retryable=True,
        ) from None
    return now.astimezone(zone).isoformat(timespec="seconds")


@activity.defn(name="calculator")
async def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly, e.g. 2+3*4 or sqrt(2)*(1.5-0.25)^2.
    Supports + - * / // % ** ( ), pi, e and sqrt, abs, round, floor, ceil, log, log10,
    sin, cos, tan, min, max.

    Args:
        expression: The expression to evaluate.
    """
    try:
        return format_number(evaluate(expression))
    except CalculatorError as err:  # a bad expression stays bad: not worth a retry
        raise ApplicationError(str(err), type="CalculatorError", non_retryable=True) from None


DEFAULT_AGENT = AgentDefinition(
    name="default",
    description="The session's model and system prompt, no tools",
)

ASSISTANT_AGENT = AgentDefinition(
    name="assistant",
    system_prompt=(
        "You are a helpful assistant. Answer briefly and accurately. You have tools: "
        "recall_memory searches what this user told you in earlier conversations, "
        "current_time gives the date and time, calculator does arithmetic exactly. "
        "Use a tool when it helps; otherwise answer directly."
    ),
    tools=[
        ToolDefinition(recall_memory, start_to_close_timeout=timedelta(seconds=15)),
        ToolDefinition(current_time, start_to_close_timeout=timedelta(seconds=5)),
        ToolDefinition(calculator, start_to_close_timeout=timedelta(seconds=5)),
    ],
    description="Chat with recall_memory, current_time and calculator",
)

BUILTIN_AGENTS = (DEFAULT_AGENT, ASSISTANT_AGENT)
BUILTIN_TOOLS = (recall_memory, current_time, calculator)
