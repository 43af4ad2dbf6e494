"""The session's token stream: a WorkflowStream that knows its offsets and keeps little."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.contrib.workflow_streams import WorkflowStream

from models.stream import TURN_END, StreamMark, turn_topic

STREAM_RETENTION = timedelta(seconds=60)


class SessionStream(WorkflowStream):
    """Workflow stream with the current end offset exposed (construct in ``@workflow.init``)."""

    @property
    def end_offset(self) -> int:
        """Global offset one past the last item (what the offset query answers)."""
        return self._on_offset()

    def end_turn(self, message_id: str, error: str | None, marks: list[StreamMark]) -> None:
        """Close a streamed turn's topic so subscribers stop; remember where it ended."""
        self.topic(turn_topic(message_id)).publish(
            {TURN_END: {"ok": error is None, "error": error}}
        )
        marks.append(StreamMark(end_offset=self.end_offset, ended_at=workflow.now()))

    def drop_old(self, marks: list[StreamMark]) -> list[StreamMark]:
        """Drop items nobody should still need (retention stays bounded); the marks kept."""
        cut, kept = truncation_point(marks, workflow.now())
        if cut is not None:
            self.truncate(cut)
        return kept


def truncation_point(
    marks: Sequence[StreamMark], now: datetime, retention: timedelta = STREAM_RETENTION
) -> tuple[int | None, list[StreamMark]]:
    """Offset to truncate to, and the marks still retained.

    Items of turns that ended more than ``retention`` ago are dropped: a subscriber that is
    still behind by then falls back to the turn's reply, which the update returns anyway.
    """
    cut: int | None = None
    kept: list[StreamMark] = []
    for mark in marks:
        if now - mark.ended_at > retention:
            cut = mark.end_offset
        else:
            kept.append(mark)
    return cut, kept
