"""The running summary's pure parts: what left the context, the rules' summary, batches."""

from activities.memory.summary import TRANSCRIPT_BUDGET, first_batch, summarise_by_rules
from models import ChatMessage, SessionConfig, SessionInput
from models.summary import SUMMARY_MAX_CHARS, ConversationSummary
from workflows.session.summary import left_context


def _conversation(turns: int, text: str = "tell me about the weather") -> list[ChatMessage]:
    messages = []
    for turn in range(turns):
        user = ChatMessage(
            message_id=f"u{turn}", role="user", message=f"{turn} {text}", seq=2 * turn
        )
        reply = ChatMessage(
            message_id=f"a{turn}",
            role="assistant",
            message=f"echo: {turn} {text}",
            reply_to=f"u{turn}",
            seq=2 * turn + 1,
        )
        messages += [user, reply]
    return messages


def test_left_context_is_what_the_next_turn_will_not_see() -> None:
    messages = _conversation(8)
    session = SessionInput(session_id="s", config=SessionConfig(model="echo", context_messages=10))
    left = left_context(messages, session, None)
    assert [m.seq for m in left] == [0, 1, 2, 3, 4, 5]  # 5 newest pairs stay in the context
    covered = ConversationSummary(text="- so far", through_seq=3)
    assert [m.seq for m in left_context(messages, session, covered)] == [4, 5]
    # A token budget smaller than the count bound leaves more out.
    tight = SessionInput(
        session_id="s", config=SessionConfig(model="echo", context_messages=10, context_tokens=150)
    )
    assert len(left_context(messages, tight, None)) > len(left)


def test_rules_keep_facts_and_stay_bounded() -> None:
    facts = [ChatMessage(message_id="f", role="user", message="My name is Alice.", seq=0)]
    summary = summarise_by_rules("", facts)
    assert "- User's name is Alice" in summary
    for round_ in range(200):
        batch = _conversation(3, f"round {round_} " + "x" * 70)
        summary = summarise_by_rules(summary, batch)
        assert len(summary) <= SUMMARY_MAX_CHARS
    assert "- User's name is Alice" in summary  # facts outlive the "said" points
    assert summary.count("User's name is Alice") == 1


def test_one_update_reads_a_bounded_batch() -> None:
    messages = _conversation(200, "y" * 500)
    batch = first_batch(messages)
    assert 1 <= len(batch) < len(messages)
    assert sum(min(len(m.message), 600) for m in batch) <= TRANSCRIPT_BUDGET
    assert batch == messages[: len(batch)]  # the oldest first; the rest waits
