"""The one recording path: finished turns reach the memory store with the next turn's
preparation, or at most ``record_delay`` after the reply (0: right after it), and
everything is flushed before close, expiry and continue-as-new."""

import asyncio
from collections.abc import Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError

from activities.memory.activities import MemoryActivities
from models import (
    ActorRef,
    ChatMessage,
    MemoryRecord,
    PrepareTurnInput,
    RecentMessagesInput,
    RecordMessagesInput,
    SearchMemoriesInput,
    SessionInput,
    SessionRef,
    SessionState,
)
from workflows.session.options import (
    LOCAL_ACTIVITY_ERRORS,
    LOCAL_RETRY,
    LOCAL_TIMEOUT,
    MEMORY_RETRY,
    MEMORY_TIMEOUT,
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
        on_recorded: Callable[[], None],
    ) -> None:
        """Record ``state``'s new messages; report trouble through ``view``; call
        ``on_recorded`` after each record round (memory extraction starts there)."""
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
        self._lock = asyncio.Lock()

    def actor(self) -> ActorRef | None:
        """Whose long-term memories this session reads and writes (none without a user)."""
        user = self._session.user_id
        return None if user is None else ActorRef(tenant_id=self._session.tenant_id, actor_id=user)

    def add(self, message: ChatMessage) -> None:
        """A message just joined the window: record it once its turn (if any) ends."""
        (self._turn_buffer if self._run.current is not None else self._to_record).append(message)

    def end_turn(self) -> None:
        """The turn ended: its messages may be recorded now."""
        self._to_record.extend(self._turn_buffer)
        self._turn_buffer = []

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
        except LOCAL_ACTIVITY_ERRORS as err:
            self._to_record = batch + self._to_record  # recorded later instead
            self._view.add_issue(f"preparing the turn failed: {root_message(err)}")
            return []
        finally:
            self._writing = []
            self._view.set_step("processing", "calling the model", 30)
        if result.record_error is not None:
            # The store is slow or down: the record activity, which retries until the batch
            # lands, takes it over rather than hold up this turn.
            self._to_record = batch + self._to_record
        else:
            self._recorded(batch)
        if result.recall_error:
            self._view.add_issue(
                f"recall failed, answering without memories: {result.recall_error}"
            )
        return result.memories

    async def run(self) -> None:
        """Record what the next turn has not taken within ``record_delay``."""
        delay = self._session.config.record_delay
        while True:
            await workflow.wait_condition(lambda: bool(self._to_record))
            if delay:
                await workflow.sleep(delay, summary="record delay")
            await self.flush()

    async def flush(self) -> None:
        """Record everything pending with one record activity (if anything is pending)."""
        async with self._lock:
            batch, self._to_record = self._to_record, []
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
            self._on_recorded()

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
        owners = {m.user_id for m in restored if m.role == "user" and m.user_id is not None}
        if owners - {self._session.user_id}:
            # The id was last used by someone else: never hand their messages to this owner.
            return []
        return restored
