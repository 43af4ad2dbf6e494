"""Which streamed items the session drops: those of turns that ended long enough ago."""

from datetime import UTC, datetime, timedelta

from models.stream import StreamMark, turn_topic
from workflows.stream import truncation_point

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def mark(end: int, seconds_ago: int) -> StreamMark:
    return StreamMark(end_offset=end, ended_at=NOW - timedelta(seconds=seconds_ago))


def test_old_turns_are_cut_recent_ones_kept() -> None:
    marks = [mark(10, 300), mark(25, 120), mark(40, 5)]
    cut, kept = truncation_point(marks, NOW, timedelta(seconds=60))
    assert cut == 25
    assert kept == [mark(40, 5)]


def test_nothing_to_cut() -> None:
    assert truncation_point([mark(10, 5)], NOW, timedelta(seconds=60)) == (None, [mark(10, 5)])
    assert truncation_point([], NOW) == (None, [])


def test_turn_topics_are_per_message() -> None:
    assert turn_topic("m-1") == "turn.m-1" != turn_topic("m-2")
