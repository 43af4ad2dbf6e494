"""Long-term memory extraction: facts and preferences a user states, and session summaries.

Two extractors share one output shape (``MemoryRecord``):

- rules: deterministic patterns ("I prefer ...", "my name is ...", "I live in ..."), used
  with the ``echo`` model and whenever no real LLM is configured;
- model: the session's own LLM asked for JSON lines, used when the model is a real LLM.

Record ids are derived from the source message id and the text, so re-running an
extraction (a retried activity) writes nothing twice.
"""

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import datetime

from models import ChatMessage
from models.memory import ActorRef, MemoryKind, MemoryRecord

NAMESPACE_TEMPLATES: dict[MemoryKind, str] = {
    "fact": "/facts/{actorId}/",
    "preference": "/preferences/{actorId}/",
    "summary": "/summaries/{actorId}/{sessionId}/",
}

_CLAUSE_END = r"(?=[.!?;\n]|,\s*(?:and|but)\b|$)"
# Capitalised words only, whatever the pattern's flags: "Alice", "Mary Jane".
_PROPER_NAME = r"(?-i:[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,3})"
_RULES: list[tuple[MemoryKind, re.Pattern[str], str]] = [
    (
        "preference",
        re.compile(
            r"\bI\s+(?:really\s+)?"
            r"(?P<verb>prefer|like|love|enjoy|hate|dislike|don't like|do not like)\s+"
            rf"(?P<what>[^.!?;\n]{{2,160}}?){_CLAUSE_END}",
            re.IGNORECASE,
        ),
        "User {verb} {what}",
    ),
    (
        "preference",
        re.compile(
            r"\bmy\s+favou?rite\s+(?P<thing>[\w ]{2,40}?)\s+is\s+"
            rf"(?P<what>[^.!?;\n]{{1,120}}?){_CLAUSE_END}",
            re.IGNORECASE,
        ),
        "User's favourite {thing} is {what}",
    ),
    (
        "fact",
        re.compile(
            rf"\bmy\s+name\s+is\s+(?P<what>{_PROPER_NAME})",
            re.IGNORECASE,
        ),
        "User's name is {what}",
    ),
    (
        "fact",
        re.compile(
            rf"\bcall\s+me\s+(?P<what>{_PROPER_NAME})",
            re.IGNORECASE,
        ),
        "User wants to be called {what}",
    ),
    (
        "fact",
        re.compile(
            r"\bI\s+(?P<verb>live|work|study)\s+(?P<prep>in|at|for)\s+"
            rf"(?P<what>[^.!?;\n]{{2,120}}?){_CLAUSE_END}",
            re.IGNORECASE,
        ),
        "User {verb}s {prep} {what}",
    ),
    (
        "fact",
        re.compile(
            rf"\bI(?:'m| am)\s+(?P<what>(?:a|an)\s+[^.!?;\n]{{2,80}}?){_CLAUSE_END}",
            re.IGNORECASE,
        ),
        "User is {what}",
    ),
    (
        "fact",
        re.compile(
            rf"\bremember\s+(?:that\s+)?(?P<what>[^.!?\n]{{3,200}}?){_CLAUSE_END}",
            re.IGNORECASE,
        ),
        "User asked to remember: {what}",
    ),
]

_VERBS = {
    "prefer": "prefers",
    "like": "likes",
    "love": "loves",
    "enjoy": "enjoys",
    "hate": "hates",
    "dislike": "dislikes",
    "don't like": "does not like",
    "do not like": "does not like",
}


def namespace(kind: MemoryKind, actor_id: str, session_id: str | None = None) -> str:
    """The namespace for ``kind`` records of ``actor_id`` (AgentCore's templates)."""
    return NAMESPACE_TEMPLATES[kind].format(actorId=actor_id, sessionId=session_id or "-")


def record_id(source_id: str, kind: MemoryKind, text: str) -> str:
    """Stable id of a record extracted from message ``source_id``."""
    digest = hashlib.sha256(f"{source_id}\x00{kind}\x00{text.lower()}".encode()).hexdigest()
    return f"{kind}-{digest[:24]}"


def _record(
    actor: ActorRef, message: ChatMessage, kind: MemoryKind, text: str, when: datetime | None
) -> MemoryRecord:
    source = message.message_id or "unknown"
    return MemoryRecord(
        record_id=record_id(source, kind, text),
        namespace=namespace(kind, actor.actor_id, message.session_id),
        kind=kind,
        text=text,
        session_id=message.session_id,
        created_at=when or message.timestamp,
    )


def extract_by_rules(actor: ActorRef, messages: Iterable[ChatMessage]) -> list[MemoryRecord]:
    """Facts and preferences stated in the user's own messages, by pattern."""
    records: dict[str, MemoryRecord] = {}
    for message in messages:
        if message.role != "user":
            continue
        for kind, pattern, template in _RULES:
            for match in pattern.finditer(message.message):
                parts = {k: v.strip(" ,") for k, v in match.groupdict().items() if v}
                if "verb" in parts and template.startswith("User {verb} "):
                    parts["verb"] = _VERBS.get(parts["verb"].lower(), parts["verb"].lower())
                elif "verb" in parts:
                    parts["verb"] = parts["verb"].lower()
                text = template.format(**parts)
                record = _record(actor, message, kind, text, None)
                records[record.record_id] = record
    return list(records.values())


def summarise_by_rules(
    actor: ActorRef, session_id: str, messages: list[ChatMessage], when: datetime | None
) -> MemoryRecord | None:
    """A plain summary of trimmed messages: what the user asked, in order (clipped)."""
    asked = [m.message.strip().replace("\n", " ") for m in messages if m.role == "user"]
    if not asked:
        return None
    first, last = messages[0].seq, messages[-1].seq
    points = "; ".join(text[:80] for text in asked[-10:])
    text = f"Earlier in session {session_id} (messages {first}-{last}) the user said: {points}"
    anchor = messages[-1].model_copy(update={"session_id": session_id})
    return _record(actor, anchor, "summary", text, when)


EXTRACTION_PROMPT = (
    "Read the user's messages below. List durable facts about the user and their stated "
    "preferences, one JSON object per line, like "
    '{"kind": "fact", "text": "User lives in Lisbon"} or '
    '{"kind": "preference", "text": "User prefers window seats"}. '
    "Only what the user said about themselves. If there is nothing, answer NONE."
)


def parse_model_extraction(actor: ActorRef, source: ChatMessage, answer: str) -> list[MemoryRecord]:
    """Records from a model's JSON-lines answer to :data:`EXTRACTION_PROMPT` (junk is skipped)."""
    records: list[MemoryRecord] = []
    for line in answer.splitlines():
        line = line.strip().rstrip(",")
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        kind = item.get("kind") if isinstance(item, dict) else None
        text = item.get("text") if isinstance(item, dict) else None
        if kind in ("fact", "preference") and isinstance(text, str) and 3 <= len(text) <= 300:
            records.append(_record(actor, source, kind, text.strip(), None))
    return records


def memory_block(records: list[MemoryRecord]) -> str:
    """Recalled memories as a tagged context block for the system prompt.

    The tag makes clear to the model that these are notes, not something the user just said.
    """
    if not records:
        return ""
    lines = "\n".join(f"- ({record.kind}) {record.text}" for record in records)
    return (
        "<recalled_memories>\nNotes from earlier conversations with this user "
        "(use them if relevant; the user did not just say them):\n"
        f"{lines}\n</recalled_memories>"
    )
