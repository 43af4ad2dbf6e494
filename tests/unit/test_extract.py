"""Rule-based and model-answer memory extraction, and the recalled-memories block."""

from datetime import UTC, datetime

import pytest

from activities.memory.extract import (
    extract_by_rules,
    memory_block,
    namespace,
    parse_model_extraction,
    record_id,
    summarise_by_rules,
)
from models import ChatMessage
from models.memory import ActorRef, MemoryRecord

ALICE = ActorRef(tenant_id="acme", actor_id="alice")


def said(text: str, message_id: str = "m-1", role: str = "user") -> ChatMessage:
    return ChatMessage(message_id=message_id, session_id="s1", message=text, role=role, seq=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I prefer window seats on long flights.",
            [("preference", "User prefers window seats on long flights")],
        ),
        ("I really love spicy food!", [("preference", "User loves spicy food")]),
        ("I don't like mornings", [("preference", "User does not like mornings")]),
        ("My favourite colour is green", [("preference", "User's favourite colour is green")]),
        (
            "My name is Alice and I live in Lisbon.",
            [("fact", "User's name is Alice"), ("fact", "User lives in Lisbon")],
        ),
        ("I work at Acme Corp", [("fact", "User works at Acme Corp")]),
        ("I'm a vegetarian.", [("fact", "User is a vegetarian")]),
        (
            "Please remember that my passport expires in May.",
            [("fact", "User asked to remember: my passport expires in May")],
        ),
        ("What is the weather in Paris?", []),
    ],
)
def test_rules_find_what_the_user_states(text: str, expected: list[tuple[str, str]]) -> None:
    found = {(r.kind, r.text) for r in extract_by_rules(ALICE, [said(text)])}
    assert found == set(expected)


def test_rules_ignore_assistant_messages_and_are_idempotent() -> None:
    assert extract_by_rules(ALICE, [said("I love tea", role="assistant")]) == []
    first = extract_by_rules(ALICE, [said("I love tea")])
    again = extract_by_rules(ALICE, [said("I love tea")])
    assert [r.record_id for r in first] == [r.record_id for r in again]
    assert first[0].namespace == "/preferences/alice/"
    assert record_id("m-1", "fact", "X") != record_id("m-2", "fact", "X")


def test_summary_of_trimmed_messages() -> None:
    messages = [said("plan a trip to Rome", "u1"), said("echo: plan", "a1", role="assistant")]
    messages[1] = messages[1].model_copy(update={"seq": 1})
    summary = summarise_by_rules(ALICE, "s1", messages, datetime(2026, 1, 1, tzinfo=UTC))
    assert summary is not None and summary.kind == "summary"
    assert "plan a trip to Rome" in summary.text and summary.namespace == namespace(
        "summary", "alice", "s1"
    )
    assert summarise_by_rules(ALICE, "s1", [], None) is None


def test_model_answers_are_parsed_and_junk_skipped() -> None:
    answer = (
        'Sure!\n{"kind": "fact", "text": "User lives in Oslo"},\n'
        '{"kind": "opinion", "text": "nope"}\n{broken json\n'
        '{"kind": "preference", "text": "User prefers tea"}\nNONE'
    )
    records = parse_model_extraction(ALICE, said("..."), answer)
    assert [(r.kind, r.text) for r in records] == [
        ("fact", "User lives in Oslo"),
        ("preference", "User prefers tea"),
    ]


def test_memory_block_is_tagged() -> None:
    assert memory_block([]) == ""
    block = memory_block(
        [MemoryRecord(record_id="r", namespace="/facts/alice/", kind="fact", text="User likes tea")]
    )
    assert block.startswith("<recalled_memories>") and block.endswith("</recalled_memories>")
    assert "(fact) User likes tea" in block and "did not just say them" in block
