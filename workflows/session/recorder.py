"""The one recording path: finished turns reach the memory store with the next turn's
preparation, or at most ``record_delay`` after the reply (0: right after it), and
everything is flushed before close, expiry and continue-as-new."""

import asyncio
from collections.abc import Callable
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError

from activities.memory.activities import MemoryActivities
from models import (
    ActorRef,
    ArchiveSessionInput,
    ChatMessage,
    MemoryRecord,
    PrepareTurnInput,
    RecentMessagesInput,
    RecordMessagesInput,
    SearchMemoriesInput,
    SessionInput,
    SessionRef,
    SessionState,
    SessionSummary,
)
from workflows.session.options import (
    LOCAL_ACTIVITY_ERRORS,
    LOCAL_RETRY,
    LOCAL_TIMEOUT,
    MEMORY_RETRY,
    MEMORY_TIMEOUT,
    cancelling,
    root_message,
)
from workflows.session.state import RunState
from workflows.session.view import SessionView


class Recorder:
    """Writes the session's messages to the memory store, in order, off the reply's path."""

    def __init__(
        self,
        state: SessionState,
        session: SessionInput,
        run: RunState,
        view: SessionView,
        session_ref: Callable[[], SessionRef],
        on_recorded: Callable[[bool], None],
    ) -> None:
        """Record ``state``'s new messages; report trouble through ``view``; call
        ``on_recorded(idle)`` after each record round (memory extraction starts there: at
        once when the session went idle, in batches while it is busy)."""
        self._state = state
        self._session = session
        self._run = run
        self._view = view
        self._ref = session_ref
        self._on_recorded = on_recorded
        # A message waits in the turn buffer until its turn ends, then in to_record until it
        # is written: trimming never loses a message that is not yet in memory.
        self._turn_buffer: list[ChatMessage] = []
        self._to_record: list[ChatMessage] = []
        self._writing: list[ChatMessage] = []
        self._pending_since: datetime | None = None  # when to_record last became non-empty
        self._lock = asyncio.Lock()

    def actor(self) -> ActorRef | None:
        """Whose long-term memories this session reads and writes (none without a user)."""
        user = self._session.user_id
        return None if user is None else ActorRef(tenant_id=self._session.tenant_id, actor_id=user)

    def add(self, message: ChatMessage) -> None:
        """A message just joined the window: record it once its turn (if any) ends."""
        if self._run.current is not None:
            self._turn_buffer.append(message)
        else:
            self._queue([message])

    def end_turn(self) -> None:
        """The turn ended: its messages may be recorded now."""
        self._queue(self._turn_buffer)
        self._turn_buffer = []

    def _queue(self, messages: list[ChatMessage]) -> None:
        if messages and not self._to_record:
            self._pending_since = workflow.now()
        self._to_record.extend(messages)

    def _put_back(self, batch: list[ChatMessage]) -> None:
        """A batch that did not land is due at once (the record activity retries it)."""
        self._to_record = batch + self._to_record
        self._pending_since = workflow.now() - self._session.config.record_delay

    def unrecorded(self) -> list[ChatMessage]:
        """Messages not yet in the store (a duplicate's answer may be among them)."""
        return [*self._turn_buffer, *self._to_record, *self._writing]

    async def prepare(self, message: ChatMessage) -> list[MemoryRecord]:
        """Before the model call, one local activity records what earlier turns left
        unrecorded (so a busy session needs no record activity per turn) and recalls
        memories for this prompt. Failures never fail the turn."""
        actor, top_k = self.actor(), self._session.config.recall_top_k
        recall = None
        if actor is not None and top_k:
            recall = SearchMemoriesInput(actor=actor, query=message.message, top_k=top_k)
        batch, self._to_record = self._to_record, []
        self._pending_since = None
        if recall is None and not batch:
            return []
        record = RecordMessagesInput(session=self._ref(), messages=batch) if batch else None
        self._writing = batch
        self._view.set_step("processing", "recalling memories", 15)
        try:
            result = await workflow.execute_local_activity_method(
                MemoryActivities.prepare_turn,
                PrepareTurnInput(record=record, recall=recall),
                start_to_close_timeout=LOCAL_TIMEOUT,
                retry_policy=LOCAL_RETRY,
                summary="recall memories" if recall else "record turn",
            )
        except (*LOCAL_ACTIVITY_ERRORS, asyncio.CancelledError) as err:
            self._put_back(batch)
            if isinstance(err, asyncio.CancelledError) or cancelling():
                raise asyncio.CancelledError from err  # it records on its way out
            self._view.add_issue(f"preparing the turn failed: {root_message(err)}")
            return []
        finally:
            self._writing = []
            self._view.set_step("processing", "calling the model", 30)
        if result.record_error is not None:
            # The store is slow or down: the record activity, which retries until the batch
            # lands, takes it over rather than hold up this turn.
            self._put_back(batch)
        else:
            self._recorded(batch)
        if result.recall_error:
            self._view.add_issue(
                f"recall failed, answering without memories: {result.recall_error}"
            )
        return result.memories

    async def run(self) -> None:
        """Record what no turn's preparation has taken ``record_delay`` after it was due.

        A busy session records through its turns' preparations: its timer only re-arms
        (refreshing the counters and mining memories in batches) and no record activity
        runs; an idle one gets one record activity once the delay has passed.
        """
        delay = self._session.config.record_delay
        while True:
            await workflow.wait_condition(lambda: bool(self._to_record))
            if not delay:
                await self.flush()
                continue
            wait = delay
            while True:
                await workflow.sleep(wait, summary="record delay")
                if not self._to_record or self._pending_since is None:
                    self._busy_round()  # a turn's preparation took the batch
                    break
                due = self._pending_since + delay
                if workflow.now() >= due:
                    await self.flush()
                    break
                self._busy_round()  # newer turns ended since: wait until they are due
                wait = due - workflow.now()

    def _busy_round(self) -> None:
        """A record round of a busy session: counters now and then, memories in batches."""
        self._view.refresh_search_attributes(busy=True)
        self._on_recorded(False)

    async def flush(self) -> None:
        """Record everything pending with one record activity (if anything is pending)."""
        async with self._lock:
            batch, self._to_record = self._to_record, []
            self._pending_since = None
            if batch:
                self._writing = batch
                try:
                    await workflow.execute_activity_method(
                        MemoryActivities.record_messages,
                        RecordMessagesInput(session=self._ref(), messages=batch),
                        start_to_close_timeout=MEMORY_TIMEOUT,
                        retry_policy=MEMORY_RETRY,
                        summary="record turn",
                    )
                    self._recorded(batch)
                except ActivityError as err:
                    self._view.add_issue(
                        f"recording {len(batch)} messages failed: {root_message(err)}"
                    )
                finally:
                    self._writing = []
            self._view.refresh_search_attributes()
            self._on_recorded(True)

    async def flush_all(self) -> None:
        """Wait for the running turn, then record everything (before a run ends)."""
        await workflow.wait_condition(lambda: not self._turn_buffer)
        await self.flush()

    def _recorded(self, batch: list[ChatMessage]) -> None:
        """``batch`` is in the store: its user messages may be mined for memories."""
        if self.actor() is not None and self._session.config.memory_extraction != "off":
            self._state.unmined.extend(m for m in batch if m.role == "user")

    async def restore(self) -> list[ChatMessage]:
        """The last messages of an earlier session with this id and owner (empty if none)."""
        try:
            restored = await workflow.execute_local_activity_method(
                MemoryActivities.recent_messages,
                RecentMessagesInput(
                    session=self._ref(), limit=self._session.config.restore_messages
                ),
                start_to_close_timeout=LOCAL_TIMEOUT,
                retry_policy=LOCAL_RETRY,
                summary="restore session",
            )
        except LOCAL_ACTIVITY_ERRORS as err:
            self._view.add_issue(f"could not restore earlier messages: {root_message(err)}")
            return []
        if any(m.user_id != self._session.user_id for m in restored if m.role == "user"):
            # The id was last used by someone else (or by nobody in particular): never hand
            # their messages to this owner, so an owner is never changed by a later caller.
            return []
        return restored

    async def archive(self, summary: SessionSummary) -> None:
        """Mark the session archived with its summary (retried until it lands)."""
        await workflow.execute_activity_method(
            MemoryActivities.archive_session,
            ArchiveSessionInput(session=self._ref(), summary=summary),
            start_to_close_timeout=MEMORY_TIMEOUT,
            retry_policy=MEMORY_RETRY,
            summary="archive session",
        )
