"""SessionWorkflow: one durable chat session.

Messages arrive by update (``send_message``, request/response) or signal
(``submit_message``, fire-and-forget) and are processed one at a time in arrival order by
the main loop: model turn -> reply -> record to memory (after the reply) -> trim. Timers
expire the session when idle and age out old messages; long sessions continue-as-new.
"""

import asyncio
import json
from collections import deque
from datetime import datetime, timedelta
from typing import Any, Literal, NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from strands.types.exceptions import (
        ContextWindowOverflowException,
        EventLoopException,
        MaxTokensReachedException,
    )
    from temporalio.strands_agents import TemporalAgent

    from activities.memory.activities import MemoryActivities
    from activities.memory.extract import memory_block
    from models import (
        ActorRef,
        ArchiveSessionInput,
        ChatMessage,
        ChatReply,
        ExtractionRequest,
        FindReplyInput,
        MemoryRecord,
        PrepareTurnInput,
        RecentMessagesInput,
        RecordMessagesInput,
        SearchMemoriesInput,
        SessionConfig,
        SessionInput,
        SessionRef,
        SessionState,
        SessionStatus,
        SessionStatusName,
        SessionSummary,
        TokenUsage,
    )
    from models import search_attributes as sa
    from models.stream import TURN_END, StreamMark, turn_topic
    from workflows.inbound import InvalidMessageError, NotOwnerError, parse_inbound
    from workflows.metrics import record_turn
    from workflows.stream import SessionStream, truncation_point
    from workflows.window import (
        RecentIds,
        age_deadline,
        model_messages,
        reply_text,
        system_prompt_for,
        trim_older_than,
        trim_to_count,
    )

MAX_ISSUES = 20
MAX_OUTCOMES = 200
TURN_FAILED = "TurnFailed"
SESSION_CLOSING = "SessionClosing"
DEFERRED_RECORDING_PATCH = "deferred-recording"
NOT_FOUND = "SessionNotFound"
# Patches (workflow.patched): behaviour added after histories were recorded.
RESTORE_PATCH = "restore-from-memory"
RECALL_PATCH = "recall-memories"
RECALL_TIMEOUT = timedelta(seconds=10)
RECALL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=2)
SESSION_CONTINUING = "SessionContinuing"

MEMORY_TIMEOUT = timedelta(seconds=30)
# Memory writes retry until they land: trimmed messages must reach the store.
MEMORY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,
)
LOOKUP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)

# How a local activity that failed or timed out surfaces (live: the first two; on replay a
# timeout comes back as TimeoutError, which must take the same path).
_LOCAL_ACTIVITY_ERRORS = (ActivityError, ApplicationError, TemporalTimeoutError)

# Errors from a model turn that end the turn (not the workflow task).
_TURN_ERRORS = (
    ActivityError,
    ApplicationError,
    EventLoopException,
    MaxTokensReachedException,
    ContextWindowOverflowException,
)


def _root_message(error: BaseException) -> str:
    """The innermost cause's message: what actually went wrong."""
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error) or type(error).__name__


# Not sandboxed: the sandbox re-imports modules per workflow and runs code in it for every
# payload; measured on this code it cost ~40% of the worker's CPU per turn and most of the
# memory of each cached session (docs/BENCHMARKS.md). Strands, which does most of the work
# here, is passed through the sandbox anyway. Determinism is kept by construction (time,
# randomness and I/O only through ``workflow.*``) and checked by the replay tests.
@workflow.defn(name="SessionWorkflow", sandboxed=False)
class SessionWorkflow:
    """A chat session: queue -> model turn -> reply -> record -> trim -> timers."""

    @workflow.init
    def __init__(self, input: SessionInput) -> None:
        """Restore state (fresh or carried by continue-as-new) and host the token stream."""
        carried = input.carried
        self._stream = SessionStream(prior_state=carried.stream_state if carried else None)
        self._stream_marks: list[StreamMark] = list(carried.stream_marks) if carried else []
        now = workflow.now()
        self._session_id = input.session_id
        self._tenant_id = input.tenant_id
        self._user_id = input.user_id
        self._config: SessionConfig = input.config
        self._initial_context = input.initial_context
        self._messages: list[ChatMessage] = list(carried.messages) if carried else []
        self._next_seq = carried.next_seq if carried else 0
        self._turns = carried.turns if carried else 0
        self._issues: list[str] = list(carried.issues) if carried else []
        self._usage = carried.usage.model_copy() if carried else TokenUsage()
        self._created_at: datetime = carried.created_at if carried else now
        self._last_activity: datetime = carried.last_activity if carried else now
        self._run_number = carried.runs if carried else 1
        self._recent_ids = RecentIds(
            self._config.dedupe_window, carried.recent_message_ids if carried else ()
        )
        self._queue: deque[ChatMessage] = deque(carried.pending if carried else ())
        self._in_flight: set[str] = {m.message_id for m in self._queue if m.message_id}
        self._outcomes: dict[str, ChatReply | str] = {}
        # Messages wait in the turn buffer until their turn ends, then in to_record until the
        # recorder writes them: trimming never loses a message that is not yet in memory.
        self._turn_buffer: list[ChatMessage] = []
        self._to_record: list[ChatMessage] = []
        self._recording_batch: list[ChatMessage] = []
        self._draining = False
        self._trimmed: list[ChatMessage] = []  # to summarise into long-term memory
        self._to_extract: list[ChatMessage] = []  # recorded, not yet mined for memories
        self._deferred_recording = False  # set in run(): a patched behaviour
        self._record_lock = asyncio.Lock()
        self._search_attributes_seq = -1  # next_seq at the last search-attribute upsert
        self._current: ChatMessage | None = None
        self._close_reason: str | None = None
        self._idle_due = False
        self._status: SessionStatusName = "active"
        self._step = "waiting for messages"
        self._progress = 100
        self._updated_at = now

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, input: SessionInput) -> SessionSummary:
        """Process messages until the session is closed or expires."""
        self._deferred_recording = bool(self._config.record_delay) and workflow.patched(
            DEFERRED_RECORDING_PATCH
        )
        if input.carried is None:
            self._upsert_search_attributes(first=True)
            restored = False
            if self._config.restore_messages and workflow.patched(RESTORE_PATCH):
                restored = await self._restore_from_memory()
            if self._initial_context and not restored:
                self._append(self._context_message(self._initial_context))
        self._show_details()
        recorder = self._record_later if self._deferred_recording else self._record_loop
        tasks = [asyncio.create_task(self._watch_idle()), asyncio.create_task(recorder())]
        if self._config.message_ttl is not None:
            tasks.append(asyncio.create_task(self._watch_age(self._config.message_ttl)))
        while True:
            await workflow.wait_condition(
                lambda: bool(self._queue) or self._close_reason is not None or self._idle_due
            )
            while self._queue and not self._should_continue_as_new():
                await self._take_turn(self._queue.popleft())
            if self._close_reason is not None:
                return await self._finish("closed", self._close_reason)
            if self._idle_due and not self._queue:
                if workflow.now() >= self._expires_at():
                    return await self._finish("expired", "idle timeout")
                self._idle_due = False
            if self._should_continue_as_new():
                await self._continue_as_new()

    async def _take_turn(self, message: ChatMessage) -> None:
        """Run one model turn for ``message`` and settle its outcome."""
        assert message.message_id is not None
        self._current = message
        self._set_step("processing", "calling the model", 30)
        self._append(message)
        if message.stream:
            self._truncate_stream()
        outcome: ChatReply | str
        failure: BaseException | None = None
        try:
            if self._deferred_recording:
                memories = await self._prepare_turn(message)
            else:
                memories = await self._recall(message)
            outcome = await self._call_model(message, memories)
        except _TURN_ERRORS as err:
            failure = err
            reason = _root_message(err)
            workflow.logger.warning(
                "turn %s failed (%s): %s", message.message_id, type(err).__name__, reason
            )
            error = ChatMessage(
                message_id=str(workflow.uuid4()),
                role="error",
                message=f"Session error: {reason}",
                reply_to=message.message_id,
                metadata={"type": "error", "error": reason},
            )
            self._append(error)
            self._add_issue(f"turn {message.message_id} failed: {reason}")
            outcome = reason
        if message.stream:
            self._end_stream(message.message_id, outcome)
        self._turns += 1
        self._last_activity = workflow.now()
        self._outcomes[message.message_id] = outcome
        record_turn(self._config.model, message.timestamp, outcome, failure)
        while len(self._outcomes) > MAX_OUTCOMES:
            del self._outcomes[next(iter(self._outcomes))]
        self._in_flight.discard(message.message_id)
        self._current = None
        self._to_record.extend(self._turn_buffer)
        self._turn_buffer = []
        self._trim(*trim_to_count(self._messages, self._config.max_messages))
        self._set_step("active", "waiting for messages", 100)
        if not self._deferred_recording:
            self._upsert_search_attributes()

    async def _call_model(self, message: ChatMessage, memories: list[MemoryRecord]) -> ChatReply:
        """Ask the configured provider for a reply through a ``TemporalAgent`` turn."""
        config = self._config
        agent = TemporalAgent(
            model=config.model,
            messages=model_messages(self._messages[:-1], config.context_messages),
            system_prompt=system_prompt_for(
                config.system_prompt, self._initial_context, memory_block(memories)
            ),
            callback_handler=None,
            start_to_close_timeout=config.model_timeout,
            heartbeat_timeout=config.model_heartbeat_timeout,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(seconds=30),
                maximum_attempts=config.model_max_attempts,
            ),
            summary="model turn",
            streaming_topic=turn_topic(message.message_id or "") if message.stream else None,
            streaming_batch_interval=config.stream_batch_interval,
        )
        try:
            result = await agent.invoke_async(message.message)
            answer, stop_reason = result.message, str(result.stop_reason)
        except MaxTokensReachedException:
            # A reply cut off at the length limit is still a reply: keep it, flagged.
            if not agent.messages or agent.messages[-1].get("role") != "assistant":
                raise
            answer, stop_reason = agent.messages[-1], "max_tokens"
        usage = agent.event_loop_metrics.accumulated_usage
        turn_usage = TokenUsage(
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            total_tokens=int(usage.get("totalTokens", 0)),
        )
        self._usage = TokenUsage(
            input_tokens=self._usage.input_tokens + turn_usage.input_tokens,
            output_tokens=self._usage.output_tokens + turn_usage.output_tokens,
            total_tokens=self._usage.total_tokens + turn_usage.total_tokens,
        )
        reply = ChatMessage(
            message_id=str(workflow.uuid4()),
            role="assistant",
            message=reply_text(answer),
            reply_to=message.message_id,
            metadata={
                "stop_reason": stop_reason,
                "usage": turn_usage.model_dump(),
                "model": config.model,
            },
        )
        return self._reply_for(self._append(reply), duplicate=False)

    # ------------------------------------------------------------- messages in

    @workflow.update
    async def send_message(self, payload: Any) -> ChatReply:
        """Send a user message and wait for the reply (a repeated id gets the first reply)."""
        message = self._parse(payload)
        assert message.message_id is not None
        if message.message_id in self._recent_ids:
            return await self._answer_duplicate(message.message_id)
        message_id = self._accept(message)
        await workflow.wait_condition(lambda: message_id in self._outcomes)
        outcome = self._outcomes[message_id]
        if isinstance(outcome, str):
            raise ApplicationError(f"turn failed: {outcome}", type=TURN_FAILED, non_retryable=True)
        return outcome

    @send_message.validator
    def _validate_send_message(self, payload: Any) -> None:
        """Refuse bad input before anything is written to history."""
        try:
            message = parse_inbound(payload, self._config, self._session_id, self._user_id)
        except InvalidMessageError as err:
            kind = NOT_FOUND if isinstance(err, NotOwnerError) else "InvalidMessage"
            raise ApplicationError(str(err), type=kind, non_retryable=True) from None
        if message.message_id is not None and message.message_id in self._recent_ids:
            return
        if self._close_reason is not None or self._status in ("closing", "closed", "expired"):
            raise ApplicationError(
                "session is closing; send again to open a new session", type=SESSION_CLOSING
            )
        if self._draining:
            # Accepting more would keep the run open forever under load; the client retries
            # and lands on the next run.
            raise ApplicationError(
                "session is moving to a new run; send again", type=SESSION_CONTINUING
            )
        if len(self._queue) >= self._config.max_queued_messages:
            raise ApplicationError(
                f"session is busy: {len(self._queue)} messages already waiting", type="SessionBusy"
            )

    @workflow.update
    async def wait_reply(self, message_id: str, user_id: str | None = None) -> ChatReply:
        """The reply to an accepted message, waiting for its turn if needed (for reconnects)."""
        return await self._answer_duplicate(message_id, duplicate=False)

    @wait_reply.validator
    def _validate_wait_reply(self, message_id: str, user_id: str | None = None) -> None:
        self._check_caller(user_id)
        if not isinstance(message_id, str) or message_id not in self._recent_ids:
            raise ApplicationError(
                f"no message {message_id!r} in this session", type="UnknownMessage"
            )

    @workflow.signal
    def submit_message(self, payload: Any = None, *extra: Any) -> None:
        """Queue a user message without waiting; refused input shows in ``status().issues``.

        Any number of arguments is accepted (a wrong count from a raw signal must not fail
        the workflow task); only exactly one is a message.
        """
        if extra:
            self._refuse("refused submitted message: send exactly one message object")
            return
        try:
            message = parse_inbound(payload, self._config, self._session_id, self._user_id)
        except InvalidMessageError as err:
            self._refuse(f"refused submitted message: {err}")
            return
        if message.message_id is not None and message.message_id in self._recent_ids:
            return
        if self._close_reason is not None or self._status in ("closing", "closed", "expired"):
            self._refuse(f"refused submitted message {message.message_id}: session is closing")
            return
        if len(self._queue) >= self._config.max_queued_messages:
            self._refuse(f"refused submitted message {message.message_id}: session is busy")
            return
        self._accept(message)

    @workflow.signal
    def close(self, reason: Any = None, *extra: Any) -> None:
        """End the session early; it archives like an expiry."""
        if self._close_reason is None:
            text = reason if isinstance(reason, str) and reason.strip() else "closed by request"
            self._close_reason = text[:500]

    def _parse(self, payload: Any) -> ChatMessage:
        try:
            message = parse_inbound(payload, self._config, self._session_id, self._user_id)
        except InvalidMessageError as err:
            raise ApplicationError(str(err), type="InvalidMessage", non_retryable=True) from None
        if message.message_id is None:
            message = message.model_copy(update={"message_id": str(workflow.uuid4())})
        return message

    def _accept(self, message: ChatMessage) -> str:
        """Stamp and queue a validated message; return its id."""
        message_id = message.message_id or str(workflow.uuid4())
        now = workflow.now()
        stamped = message.model_copy(
            update={
                "message_id": message_id,
                "session_id": self._session_id,
                "user_id": message.user_id or self._user_id,
                "timestamp": now,
            }
        )
        self._recent_ids.add(message_id)
        self._in_flight.add(message_id)
        self._queue.append(stamped)
        self._last_activity = now
        return message_id

    async def _answer_duplicate(self, message_id: str, *, duplicate: bool = True) -> ChatReply:
        """Answer a repeated message id with the first outcome, never processing it again."""
        if message_id in self._in_flight:
            await workflow.wait_condition(lambda: message_id in self._outcomes)
        outcome = self._outcomes.get(message_id)
        if isinstance(outcome, ChatReply):
            return outcome.model_copy(update={"duplicate": duplicate})
        if isinstance(outcome, str):
            raise ApplicationError(f"turn failed: {outcome}", type=TURN_FAILED, non_retryable=True)
        answer = self._find_local_reply(message_id)
        if answer is None:
            answer = await workflow.execute_activity_method(
                MemoryActivities.find_reply,
                FindReplyInput(session=self._session_ref(), message_id=message_id),
                start_to_close_timeout=MEMORY_TIMEOUT,
                retry_policy=LOOKUP_RETRY,
                summary="find earlier reply",
            )
        if answer is None:
            raise ApplicationError(
                f"message {message_id} was already received; its reply is no longer available",
                type="DuplicateMessage",
                non_retryable=True,
            )
        if answer.role == "error":
            raise ApplicationError(
                f"turn failed: {(answer.metadata or {}).get('error', answer.message)}",
                type=TURN_FAILED,
                non_retryable=True,
            )
        return self._reply_for(answer, duplicate=duplicate)

    def _find_local_reply(self, message_id: str) -> ChatMessage | None:
        for message in (*self._messages, *self._to_record, *self._recording_batch):
            if message.reply_to == message_id:
                return message
        return None

    def _reply_for(self, reply: ChatMessage, *, duplicate: bool) -> ChatReply:
        metadata = reply.metadata or {}
        assert reply.message_id is not None and reply.reply_to is not None
        return ChatReply(
            message_id=reply.reply_to,
            reply_message_id=reply.message_id,
            session_id=self._session_id,
            tenant_id=self._tenant_id,
            reply=reply.message,
            stop_reason=metadata.get("stop_reason"),
            usage=TokenUsage.model_validate(metadata.get("usage") or {}),
            duplicate=duplicate,
            seq=reply.seq,
        )

    # ------------------------------------------------------------------ queries

    @workflow.query
    def history(self, limit: int | None = None, user_id: str | None = None) -> list[ChatMessage]:
        """Kept messages, oldest first; the first one's ``seq`` counts earlier messages.

        With ``user_id``, only the session's owner gets an answer.
        """
        self._check_caller(user_id)
        if limit is None:
            return list(self._messages)
        if not isinstance(limit, int) or limit < 0:
            raise ValueError("limit must be a non-negative integer")
        return self._messages[-limit:] if limit else []

    @workflow.query
    def status(self, user_id: str | None = None) -> SessionStatus:
        """Status, current step, progress, issues, counts and timing (owner only, with user)."""
        self._check_caller(user_id)
        return SessionStatus(
            status=self._status,
            current_step=self._step,
            progress=self._progress,
            issues=list(self._issues),
            updated_at=self._updated_at,
            session_id=self._session_id,
            tenant_id=self._tenant_id,
            user_id=self._user_id,
            message_count=len(self._messages),
            total_messages=self._next_seq,
            trimmed_messages=self._next_seq - len(self._messages),
            turns=self._turns,
            queued=len(self._queue),
            last_activity=self._last_activity,
            expires_at=self._expires_at(),
            run=self._run_number,
            usage=self._usage,
        )

    @workflow.query
    def config(self, user_id: str | None = None) -> SessionConfig:
        """The session's configuration (owner only, with ``user_id``)."""
        self._check_caller(user_id)
        return self._config

    def _check_caller(self, user_id: str | None) -> None:
        """Refuse a caller who names a user other than the owner, without saying more."""
        if user_id is not None and self._user_id is not None and user_id != self._user_id:
            raise ApplicationError("no such session", type=NOT_FOUND, non_retryable=True)

    # ------------------------------------------------------- state and timers

    def _append(self, message: ChatMessage) -> ChatMessage:
        """Add a message to the window with the next sequence number; queue it for recording."""
        stamped = message.model_copy(
            update={
                "seq": self._next_seq,
                "session_id": self._session_id,
                "timestamp": message.timestamp or workflow.now(),
            }
        )
        self._next_seq += 1
        self._messages.append(stamped)
        (self._turn_buffer if self._current is not None else self._to_record).append(stamped)
        return stamped

    def _trim(self, kept: list[ChatMessage], dropped: list[ChatMessage]) -> None:
        """Keep ``kept``; what is dropped is already recorded or still waiting to be."""
        if dropped:
            self._messages = kept
            self._trimmed.extend(dropped)
            self._show_details()

    def _context_message(self, context: dict[str, Any]) -> ChatMessage:
        return ChatMessage(
            message_id=str(workflow.uuid4()),
            role="system",
            message=f"Session context: {json.dumps(context, sort_keys=True, ensure_ascii=False)}",
            user_id=None,
            metadata={"type": "system", "context": context},
        )

    def _expires_at(self) -> datetime:
        return self._last_activity + self._config.idle_timeout

    async def _watch_idle(self) -> None:
        """One timer per idle period: re-armed for the remainder when activity moved it."""
        while True:
            remaining = self._expires_at() - workflow.now()
            if remaining > timedelta(0):
                await workflow.sleep(remaining, summary="idle expiry")
                continue
            self._idle_due = True
            await workflow.wait_condition(lambda: not self._idle_due)

    async def _watch_age(self, ttl: timedelta) -> None:
        """Drop kept messages once they are older than ``ttl``."""
        while True:
            deadline = age_deadline(self._messages, ttl)
            if deadline is None:
                await workflow.wait_condition(lambda: age_deadline(self._messages, ttl) is not None)
                continue
            remaining = deadline - workflow.now()
            if remaining > timedelta(0):
                await workflow.sleep(remaining, summary="message age trim")
                continue
            self._trim(*trim_older_than(self._messages, workflow.now() - ttl))

    # ------------------------------------------------------------------ memory

    def _actor(self) -> ActorRef | None:
        """Whose long-term memories this session reads and writes (none without a user)."""
        if self._user_id is None:
            return None
        return ActorRef(tenant_id=self._tenant_id, actor_id=self._user_id)

    async def _recall(self, message: ChatMessage) -> list[MemoryRecord]:
        """Long-term memories relevant to the prompt; a failure means none, plus an issue."""
        actor = self._actor()
        if actor is None or not self._config.recall_top_k or not workflow.patched(RECALL_PATCH):
            return []
        self._set_step("processing", "recalling memories", 15)
        try:
            # A local activity: no extra server round trip on the reply's path.
            return await workflow.execute_local_activity_method(
                MemoryActivities.recall_memories,
                SearchMemoriesInput(
                    actor=actor, query=message.message, top_k=self._config.recall_top_k
                ),
                start_to_close_timeout=RECALL_TIMEOUT,
                retry_policy=RECALL_RETRY,
                summary="recall memories",
            )
        except _LOCAL_ACTIVITY_ERRORS as err:
            self._add_issue(f"recall failed, answering without memories: {_root_message(err)}")
            return []
        finally:
            self._set_step("processing", "calling the model", 30)

    def _extraction_request(self) -> ExtractionRequest | None:
        """What the recorder should mine for memories, if anything."""
        actor = self._actor()
        mode = self._config.memory_extraction
        if actor is None or mode == "off":
            self._trimmed = []
            return None
        use_model = mode == "model" or (mode == "auto" and self._config.model != "echo")
        trimmed, self._trimmed = self._trimmed, []
        return ExtractionRequest(
            actor=actor, model=self._config.model if use_model else None, trimmed=trimmed
        )

    async def _restore_from_memory(self) -> bool:
        """A session that comes back (same id after it ended) resumes with its last messages."""
        try:
            restored = await workflow.execute_local_activity_method(
                MemoryActivities.recent_messages,
                RecentMessagesInput(
                    session=self._session_ref(), limit=self._config.restore_messages
                ),
                start_to_close_timeout=RECALL_TIMEOUT,
                retry_policy=RECALL_RETRY,
                summary="restore session",
            )
        except _LOCAL_ACTIVITY_ERRORS as err:
            self._add_issue(f"could not restore earlier messages: {_root_message(err)}")
            return False
        if not restored:
            return False
        owners = {m.user_id for m in restored if m.role == "user" and m.user_id is not None}
        if owners - {self._user_id}:
            # The id was last used by someone else: never hand their messages to this owner.
            return False
        self._messages = [*restored, *self._messages]
        self._next_seq = max(self._next_seq, (restored[-1].seq or 0) + 1)
        for earlier in restored:
            if earlier.message_id:
                self._recent_ids.add(earlier.message_id)
        self._answer_restored_duplicates()
        self._show_details()
        return True

    def _answer_restored_duplicates(self) -> None:
        """Queued messages that the earlier run already answered get that answer, not a turn."""
        for queued in list(self._queue):
            assert queued.message_id is not None
            earlier = self._find_local_reply(queued.message_id)
            if earlier is None:
                continue
            self._queue.remove(queued)
            self._in_flight.discard(queued.message_id)
            if earlier.role == "error":
                self._outcomes[queued.message_id] = str(
                    (earlier.metadata or {}).get("error", earlier.message)
                )
            else:
                self._outcomes[queued.message_id] = self._reply_for(earlier, duplicate=True)

    def _end_stream(self, message_id: str, outcome: ChatReply | str) -> None:
        """Close a streamed turn's topic so subscribers stop, and remember where it ended."""
        error = outcome if isinstance(outcome, str) else None
        self._stream.topic(turn_topic(message_id)).publish(
            {TURN_END: {"ok": error is None, "error": error}}
        )
        self._stream_marks.append(
            StreamMark(end_offset=self._stream.end_offset, ended_at=workflow.now())
        )

    def _truncate_stream(self) -> None:
        """Drop streamed items nobody should still need, so retention stays bounded."""
        cut, self._stream_marks = truncation_point(self._stream_marks, workflow.now())
        if cut is not None:
            self._stream.truncate(cut)

    async def _prepare_turn(self, message: ChatMessage) -> list[MemoryRecord]:
        """One local activity before the model call: record what earlier turns left
        unrecorded (so a busy session needs no record activity per turn) and recall
        memories for this prompt. Failures never fail the turn."""
        actor = self._actor()
        recall = None
        if actor is not None and self._config.recall_top_k:
            recall = SearchMemoriesInput(
                actor=actor, query=message.message, top_k=self._config.recall_top_k
            )
        batch, self._to_record = self._to_record, []
        if recall is None and not batch:
            return []
        record = RecordMessagesInput(session=self._session_ref(), messages=batch) if batch else None
        self._recording_batch = batch
        self._set_step("processing", "recalling memories", 15)
        try:
            result = await workflow.execute_local_activity_method(
                MemoryActivities.prepare_turn,
                PrepareTurnInput(record=record, recall=recall),
                start_to_close_timeout=RECALL_TIMEOUT,
                retry_policy=RECALL_RETRY,
                summary="recall memories" if recall else "record turn",
            )
        except _LOCAL_ACTIVITY_ERRORS as err:
            self._to_record = batch + self._to_record  # the recorder tries again later
            self._add_issue(f"preparing the turn failed: {_root_message(err)}")
            return []
        finally:
            self._recording_batch = []
            self._set_step("processing", "calling the model", 30)
        if result.record_error is not None:
            # The store is slow or down: leave the batch to the record activity, which
            # retries until it lands, rather than hold up this turn.
            self._to_record = batch + self._to_record
        else:
            self._to_extract.extend(m for m in batch if m.role == "user")
        if result.recall_error:
            self._add_issue(f"recall failed, answering without memories: {result.recall_error}")
        return result.memories

    async def _record_later(self) -> None:
        """Whatever the next turn has not recorded within ``record_delay`` gets a record
        activity of its own; mining for memories happens here too, off every turn's path."""
        while True:
            await workflow.wait_condition(lambda: bool(self._to_record or self._to_extract))
            await workflow.sleep(self._config.record_delay, summary="record delay")
            await self._record_now()

    async def _record_now(self) -> None:
        """Record and mine everything pending with one record activity (if anything is)."""
        async with self._record_lock:
            batch, self._to_record = self._to_record, []
            mine = [*self._to_extract, *(m for m in batch if m.role == "user")]
            self._to_extract = []
            extraction = self._extraction_request()
            if extraction is not None:
                extraction = extraction.model_copy(update={"messages": mine})
            if not batch and (extraction is None or not (mine or extraction.trimmed)):
                self._refresh_search_attributes()
                return
            await self._record(batch, extraction)
            self._refresh_search_attributes()

    def _refresh_search_attributes(self) -> None:
        """Upsert the counters only when they moved: once per record round, not per turn."""
        if self._next_seq != self._search_attributes_seq:
            self._upsert_search_attributes()

    async def _record_loop(self) -> None:
        """Write finished turns to memory, in order, off the reply's path (batched under load)."""
        while True:
            await workflow.wait_condition(lambda: bool(self._to_record))
            batch, self._to_record = self._to_record, []
            await self._record(batch, self._extraction_request())

    async def _record(self, batch: list[ChatMessage], extraction: ExtractionRequest | None) -> None:
        """One record activity (it retries until the store takes the batch)."""
        self._recording_batch = batch
        try:
            await workflow.execute_activity_method(
                MemoryActivities.record_messages,
                RecordMessagesInput(
                    session=self._session_ref(), messages=batch, extraction=extraction
                ),
                start_to_close_timeout=MEMORY_TIMEOUT,
                retry_policy=MEMORY_RETRY,
                summary="record turn",
            )
        except ActivityError as err:
            self._add_issue(f"recording {len(batch)} messages failed: {_root_message(err)}")
        finally:
            self._recording_batch = []

    async def _flush_records(self) -> None:
        if self._deferred_recording:
            await workflow.wait_condition(lambda: not self._turn_buffer)
            await self._record_now()
            return
        await workflow.wait_condition(
            lambda: not self._turn_buffer and not self._to_record and not self._recording_batch
        )

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._config.continue_as_new_events
        )

    async def _drain(self) -> None:
        """Process every accepted message and let every handler finish."""
        while True:
            while self._queue:
                await self._take_turn(self._queue.popleft())
            await self._flush_records()
            self._stream.detach_pollers()
            await workflow.wait_condition(
                lambda: bool(self._queue) or workflow.all_handlers_finished()
            )
            if not self._queue:
                return

    async def _continue_as_new(self) -> NoReturn:
        """Hand the session to a fresh run, carrying everything it needs."""
        self._set_step(self._status, "continuing as new", 100)
        self._draining = True
        await self._drain()
        self._truncate_stream()
        state = SessionState(
            messages=self._messages,
            next_seq=self._next_seq,
            turns=self._turns,
            recent_message_ids=self._recent_ids.to_list(),
            pending=list(self._queue),
            issues=self._issues,
            usage=self._usage,
            created_at=self._created_at,
            last_activity=self._last_activity,
            runs=self._run_number + 1,
            stream_state=self._stream.get_state(),
            stream_marks=self._stream_marks,
        )
        workflow.continue_as_new(
            SessionInput(
                session_id=self._session_id,
                tenant_id=self._tenant_id,
                user_id=self._user_id,
                config=self._config,
                initial_context=self._initial_context,
                carried=state,
            )
        )

    async def _finish(self, status: Literal["expired", "closed"], reason: str) -> SessionSummary:
        """Archive the session and complete with its summary."""
        self._set_step("closing", f"archiving ({reason})", 50)
        await self._drain()
        summary = SessionSummary(
            session_id=self._session_id,
            tenant_id=self._tenant_id,
            user_id=self._user_id,
            status=status,
            reason=reason,
            turns=self._turns,
            total_messages=self._next_seq,
            created_at=self._created_at,
            ended_at=workflow.now(),
            usage=self._usage,
        )
        await workflow.execute_activity_method(
            MemoryActivities.archive_session,
            ArchiveSessionInput(session=self._session_ref(), summary=summary),
            start_to_close_timeout=MEMORY_TIMEOUT,
            retry_policy=MEMORY_RETRY,
            summary="archive session",
        )
        self._set_step(status, f"{status}: {reason}", 100)
        self._upsert_search_attributes()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return summary

    # ---------------------------------------------------------------- helpers

    def _session_ref(self) -> SessionRef:
        return SessionRef(
            tenant_id=self._tenant_id, session_id=self._session_id, user_id=self._user_id
        )

    def _set_step(self, status: SessionStatusName, step: str, progress: int) -> None:
        self._status = status
        self._step = step
        self._progress = progress
        self._updated_at = workflow.now()
        self._show_details()

    def _add_issue(self, issue: str) -> None:
        self._issues.append(f"{workflow.now().isoformat()} {issue}")
        del self._issues[:-MAX_ISSUES]

    def _refuse(self, issue: str) -> None:
        workflow.logger.warning("session %s: %s", self._session_id, issue)
        self._add_issue(issue)

    def _show_details(self) -> None:
        """What operators see for this session in the Temporal UI."""
        last = self._messages[-1].message if self._messages else ""
        preview = last[:80] + ("…" if len(last) > 80 else "")
        workflow.set_current_details(
            f"**{self._status}**: {self._step}\n\n"
            f"- messages: {self._next_seq} ({len(self._messages)} kept), turns: {self._turns}\n"
            f"- queued: {len(self._queue)}\n"
            f"- last message: {preview}\n"
            f"- expires at: {self._expires_at().isoformat()}"
        )

    def _upsert_search_attributes(self, *, first: bool = False) -> None:
        if not self._config.search_attributes:
            return
        self._search_attributes_seq = self._next_seq
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.STATUS.value_set(self._status),
            sa.MESSAGE_COUNT.value_set(self._next_seq),
            sa.LAST_ACTIVITY.value_set(self._last_activity),
        ]
        if first:
            updates.append(sa.TENANT.value_set(self._tenant_id))
            if self._user_id is not None:
                updates.append(sa.USER.value_set(self._user_id))
        workflow.upsert_search_attributes(updates)
