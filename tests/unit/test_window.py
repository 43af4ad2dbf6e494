"""Pure helpers of the session workflow: trimming, deadlines, the model's view, dedupe."""

from datetime import UTC, datetime, timedelta

from models import ChatMessage
from workflows.window import (
    RecentIds,
    age_deadline,
    answered_pairs,
    model_messages,
    reply_text,
    system_prompt_for,
    trim_older_than,
    trim_to_count,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _msg(
    seq: int, role: str = "user", reply_to: str | None = None, minutes: int = 0
) -> ChatMessage:
    return ChatMessage(
        message_id=f"m{seq}",
        role=role,
        message=f"text {seq}",
        reply_to=reply_to,
        seq=seq,
        timestamp=T0 + timedelta(minutes=minutes),
    )


def _turns(count: int) -> list[ChatMessage]:
    messages = []
    for turn in range(count):
        messages.append(_msg(2 * turn, minutes=turn))
        messages.append(_msg(2 * turn + 1, "assistant", reply_to=f"m{2 * turn}", minutes=turn))
    return messages


def test_trim_to_count_keeps_newest() -> None:
    messages = _turns(5)
    kept, dropped = trim_to_count(messages, 4)
    assert [m.seq for m in kept] == [6, 7, 8, 9]
    assert [m.seq for m in dropped] == [0, 1, 2, 3, 4, 5]
    assert trim_to_count(messages, 10) == (messages, [])


def test_trim_older_than_drops_leading_old_messages() -> None:
    messages = _turns(4)  # turns at minutes 0..3
    kept, dropped = trim_older_than(messages, T0 + timedelta(minutes=2))
    assert [m.seq for m in dropped] == [0, 1, 2, 3]
    assert [m.seq for m in kept] == [4, 5, 6, 7]


def test_age_deadline_follows_oldest_message() -> None:
    messages = _turns(2)
    assert age_deadline(messages, timedelta(hours=1)) == T0 + timedelta(hours=1)
    assert age_deadline(messages, None) is None
    assert age_deadline([], timedelta(hours=1)) is None


def test_model_messages_alternate_and_skip_failed_turns() -> None:
    messages = [
        *_turns(2),
        _msg(4),  # a user message whose turn failed
        _msg(5, "error", reply_to="m4"),
        _msg(6, "system"),
        _msg(7),
        _msg(8, "assistant", reply_to="m7"),
    ]
    window = model_messages(messages, 10)
    assert [m["role"] for m in window] == ["user", "assistant"] * 3
    assert window[-1]["content"] == [{"text": "text 8"}]
    assert all(m["content"][0]["text"] != "text 4" for m in window)


def test_model_messages_respects_context_size() -> None:
    window = model_messages(_turns(10), 4)
    assert [m["content"][0]["text"] for m in window] == ["text 16", "text 17", "text 18", "text 19"]
    assert model_messages(_turns(3), 0) == []


def test_answered_pairs_match_replies_to_their_message() -> None:
    pairs = answered_pairs(_turns(3))
    assert [(u.seq, a.seq) for u, a in pairs] == [(0, 1), (2, 3), (4, 5)]


def test_system_prompt_includes_initial_context() -> None:
    assert system_prompt_for("Be brief.", None) == "Be brief."
    prompt = system_prompt_for("Be brief.", {"repo": "agent-tasks", "pr": 123})
    assert prompt.startswith("Be brief.")
    assert '"pr": 123' in prompt and '"repo": "agent-tasks"' in prompt


def test_reply_text_joins_text_blocks_only() -> None:
    message = {"content": [{"text": "a"}, {"toolUse": {}}, {"text": "b"}]}
    assert reply_text(message) == "ab"


def test_recent_ids_is_bounded_and_ordered() -> None:
    ids = RecentIds(3, ["a", "b"])
    ids.add("c")
    ids.add("b")
    assert "a" in ids and len(ids) == 3
    ids.add("d")
    assert "a" not in ids
    assert ids.to_list() == ["b", "c", "d"]
