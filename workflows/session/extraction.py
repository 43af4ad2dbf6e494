"""Mining recorded messages for long-term memories: its own best-effort activity, started
after a record round and never awaited by recording, continue-as-new or close (which waits
at most ``EXTRACTION_GRACE``)."""

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from activities.memory.activities import MemoryActivities
from models import (
    ActorRef,
    ChatMessage,
    ExtractMemoriesInput,
    SessionInput,
    SessionRef,
    SessionState,
)
from workflows.session.options import (
    EXTRACTION_BATCH,
    EXTRACTION_GRACE,
    EXTRACTION_RETRY,
    EXTRACTION_TIMEOUT,
    root_message,
)
from workflows.session.view import SessionView


class Extractor:
    """Runs at most one extraction at a time over what ``state`` has left unmined."""

    def __init__(
        self,
        state: SessionState,
        session: SessionInput,
        view: SessionView,
        session_ref: Callable[[], SessionRef],
    ) -> None:
        """Mine ``state.unmined`` and summarise ``state.trimmed`` for ``actor``."""
        self._state = state
        self._session = session
        self._view = view
        self._ref = session_ref
        user = session.user_id
        self._actor = None if user is None else ActorRef(tenant_id=session.tenant_id, actor_id=user)
        self._task: asyncio.Task[None] | None = None
        self._batch: tuple[list[ChatMessage], list[ChatMessage]] | None = None

    @property
    def running(self) -> bool:
        """An extraction activity is in flight."""
        return self._task is not None

    def start(self, idle: bool = True) -> None:
        """Start one extraction of everything pending, unless one runs or nothing is
        pending; while the session is busy (``idle`` false), only once a batch is full."""
        state, config = self._state, self._session.config
        if self._task is not None or not (state.unmined or state.trimmed):
            return
        if not idle and len(state.unmined) + len(state.trimmed) < EXTRACTION_BATCH:
            return
        if self._actor is None or config.memory_extraction == "off":
            state.unmined, state.trimmed = [], []
            return
        use_model = config.memory_extraction == "model" or (
            config.memory_extraction == "auto" and config.model != "echo"
        )
        self._batch = (state.unmined, state.trimmed)
        state.unmined, state.trimmed = [], []
        request = ExtractMemoriesInput(
            session=self._ref(),
            actor=self._actor,
            model=config.model if use_model else None,
            messages=self._batch[0],
            trimmed=self._batch[1],
        )
        self._task = asyncio.create_task(self._extract(request))

    async def _extract(self, request: ExtractMemoriesInput) -> None:
        this = asyncio.current_task()
        try:
            await workflow.execute_activity_method(
                MemoryActivities.extract_memories,
                request,
                start_to_close_timeout=EXTRACTION_TIMEOUT,
                retry_policy=EXTRACTION_RETRY,
                summary="extract memories",
            )
        except ActivityError as err:
            if self._task is this:  # not when we cancelled it ourselves
                self._view.add_issue(f"memory extraction failed: {root_message(err)}")
        finally:
            if self._task is this:
                self._task, self._batch = None, None

    async def finish(self) -> None:
        """Before the session ends: mine what is left, waiting at most ``EXTRACTION_GRACE``."""
        deadline = workflow.now() + EXTRACTION_GRACE
        while True:
            self.start()
            if self._task is None:
                return
            remaining = deadline - workflow.now()
            try:
                if remaining <= timedelta(0):
                    raise TimeoutError
                await workflow.wait_condition(lambda: self._task is None, timeout=remaining)
            except TimeoutError:
                self._view.add_issue("memory extraction still running at the end; left unfinished")
                self._cancel()
                return

    def hand_over(self) -> None:
        """Before continue-as-new: an unfinished extraction's messages go to the next run."""
        if self._task is None or self._batch is None:
            return
        messages, trimmed = self._batch
        self._state.unmined[:0] = messages
        self._state.trimmed[:0] = trimmed
        self._cancel()

    def _cancel(self) -> None:
        task, self._task, self._batch = self._task, None, None
        if task is not None:
            task.cancel()
