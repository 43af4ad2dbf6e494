"""The running summary: the session's model (or, with ``echo``, the extraction rules) folds
the messages that just left the context into the summary so far.

One best-effort activity per update, started by the workflow after a reply and never
awaited by a turn (``workflows/session/summary.py``). The new summary is also kept in the
owner's long-term memory; a session archives with its last one, which a session coming
back under the same id reads again (``previous_summary``).
"""

import logging
from collections.abc import Callable
from typing import Any

from strands.models import Model
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.memory.extract import extract_by_rules, namespace, record_id
from activities.memory.store import MemoryStore
from models import ChatMessage
from models.memory import ActorRef, MemoryRecord
from models.summary import SUMMARY_MAX_CHARS, ConversationSummary
from models.summary_inputs import PreviousSummaryInput, SummariseInput

log = logging.getLogger(__name__)

SUMMARY_PROMPT = (
    "You keep a running summary of a conversation between a user and an assistant. "
    "Rewrite the summary so far to include the new messages below. Keep every fact the user "
    "stated about themselves (names, places, numbers, dates, preferences, decisions) and "
    "what was asked and answered, as short bullet points. Answer with the summary only."
)
# Each message of the transcript given to the model is cut to this many characters.
TRANSCRIPT_CHARS = 600
# One update reads at most this many characters of messages (about 2,000 tokens, so that a
# small model's window holds the prompt, the summary so far and the reply); what does not
# fit waits for the next update.
TRANSCRIPT_BUDGET = 6_000
# The rules' "the user said" points are cut to this many characters each.
POINT_CHARS = 80
_SPEAKERS = {"user": "User", "assistant": "Assistant"}
_NOBODY = ActorRef(tenant_id="default", actor_id="summary")


def first_batch(messages: list[ChatMessage], budget: int = TRANSCRIPT_BUDGET) -> list[ChatMessage]:
    """The oldest of ``messages`` whose transcript fits ``budget`` characters (at least one)."""
    taken: list[ChatMessage] = []
    used = 0
    for message in messages:
        used += min(len(message.message), TRANSCRIPT_CHARS) + 12
        if taken and used > budget:
            break
        taken.append(message)
    return taken


def transcript(messages: list[ChatMessage]) -> str:
    """The user and assistant messages as ``Speaker: text`` lines (each cut)."""
    lines = []
    for message in messages:
        speaker = _SPEAKERS.get(message.role)
        if speaker is not None:
            text = " ".join(message.message.split())
            cut = "…" if len(text) > TRANSCRIPT_CHARS else ""
            lines.append(f"{speaker}: {text[:TRANSCRIPT_CHARS]}{cut}")
    return "\n".join(lines)


def clip(lines: list[str], limit: int = SUMMARY_MAX_CHARS) -> str:
    """``lines`` joined, dropping the oldest until the text fits ``limit`` characters."""
    kept = list(lines)
    while kept and len("\n".join(kept)) > limit:
        kept.pop(0)
    return "\n".join(kept)[:limit]


def summarise_by_rules(previous: str, messages: list[ChatMessage]) -> str:
    """The summary by the extraction rules: the previous lines, the facts and preferences
    the user stated (``extract_by_rules``), and what the user said, in brief."""
    lines = [line for line in previous.splitlines() if line.strip()]
    facts = [record.text for record in extract_by_rules(_NOBODY, messages)]
    said = [" ".join(m.message.split())[:POINT_CHARS] for m in messages if m.role == "user"]
    for fact in facts:
        line = f"- {fact}"
        if line not in lines:
            lines.append(line)
    if said:
        first, last = messages[0].seq, messages[-1].seq
        lines.append(f"- messages {first}-{last}: the user said: " + "; ".join(said[-5:]))
    # Facts outlive the "said" points when the summary is full.
    points = [line for line in lines if ": the user said: " in line]
    while points and len("\n".join(lines)) > SUMMARY_MAX_CHARS:
        lines.remove(points.pop(0))
    return clip(lines)


class SummaryActivities:
    """The summary activities, bound to one memory store and the model providers."""

    def __init__(self, store: MemoryStore, models: dict[str, Callable[[], Model]]) -> None:
        """Write summaries with ``models`` (provider factories); keep copies in ``store``."""
        self.store = store
        self._factories = models
        self._models: dict[str, Model] = {}

    @activity.defn(name="summarise_conversation")
    async def summarise_conversation(self, request: SummariseInput) -> ConversationSummary:
        """The summary so far updated with ``request.messages``; a model that answers
        nothing fails the activity (the workflow keeps the previous summary)."""
        previous = request.previous.text if request.previous else ""
        batch = first_batch(request.messages)
        if request.model is None or request.model not in self._factories:
            text, by = summarise_by_rules(previous, batch), "rules"
        else:
            by = request.model
            text = await self._by_model(request.model, previous, batch)
        if not text.strip():
            raise ApplicationError(f"{by} wrote an empty summary", type="EmptySummary")
        summary = ConversationSummary(
            text=text,
            through_seq=max(m.seq or 0 for m in batch),
            updated_at=activity.info().started_time,
            updates=(request.previous.updates + 1) if request.previous else 1,
            by=by,
        )
        if request.actor is not None:
            await self._remember(request, summary)
        return summary

    @activity.defn(name="previous_summary")
    async def previous_summary(self, request: PreviousSummaryInput) -> ConversationSummary | None:
        """The summary an ended session with this id was archived with (None if none)."""
        archived = await self.store.session_summary(request.session)
        return archived.conversation_summary if archived is not None else None

    async def _by_model(self, name: str, previous: str, messages: list[ChatMessage]) -> str:
        model = self._models.get(name)
        if model is None:
            model = self._models[name] = self._factories[name]()
        prompt = (
            f"{SUMMARY_PROMPT}\n\nSummary so far:\n{previous or '(none yet)'}\n\n"
            f"New messages:\n{transcript(messages)}\n\nUpdated summary:"
        )
        answer = ""
        async for event in model.stream([{"role": "user", "content": [{"text": prompt}]}]):
            delta: Any = event.get("contentBlockDelta", {}).get("delta", {})
            answer += delta.get("text", "") if isinstance(delta, dict) else ""
            activity.heartbeat()
        return clip([line for line in answer.strip().splitlines() if line.strip()])

    async def _remember(self, request: SummariseInput, summary: ConversationSummary) -> None:
        """A copy in the owner's long-term memory (best effort: the summary stands anyway)."""
        assert request.actor is not None
        session_id = request.session.session_id
        text = f"Summary of session {session_id} (messages up to {summary.through_seq}):\n"
        text += summary.text
        record = MemoryRecord(
            record_id=record_id(f"{session_id}:{summary.through_seq}", "summary", text),
            namespace=namespace("summary", request.actor.actor_id, session_id),
            kind="summary",
            text=text[:SUMMARY_MAX_CHARS],
            session_id=session_id,
            created_at=summary.updated_at,
        )
        try:
            await self.store.save_memories(request.actor, [record])
        except Exception as err:  # the summary itself is what the session needs
            log.warning("could not keep the summary in memory: %s", err)

    def all(self) -> list[Callable[..., Any]]:
        """Every summary activity, for ``Worker(activities=...)``."""
        return [self.summarise_conversation, self.previous_summary]
