"""SessionWorkflow: one durable chat session, told as its story.

Messages arrive by update (``send_message``, request/response) or signal
(``submit_message``, fire-and-forget), pass the inbox's admission, and are answered one at a
time in arrival order: model turn -> reply -> trim; the recorder writes them to memory off
the reply's path. Timers expire the session when idle and age out old messages; a long
session continues-as-new, handing its one state object to the next run.
"""

import asyncio
from collections.abc import Sequence
from typing import Any, Literal, NoReturn

from temporalio import workflow
from temporalio.common import RawValue

from models import (
    ChatMessage,
    ChatReply,
    Refusal,
    SessionConfig,
    SessionInput,
    SessionState,
    SessionStatus,
    SessionSummary,
)
from workflows.inbound import SUBMIT_MESSAGE, InvalidMessageError, decode_raw
from workflows.metrics import record_turn
from workflows.session.agent import SessionAgent
from workflows.session.approvals import ApprovalHandlers, Approvals
from workflows.session.extraction import Extractor
from workflows.session.inbox import Accepted, Admission, Duplicate, Inbox, Refused
from workflows.session.options import (
    CANCEL_CLOSES_PATCH,
    CANCELLED,
    WATCH_HISTORY_PATCH,
    cancelling,
    refusal,
    root_message,
)
from workflows.session.recorder import Recorder
from workflows.session.state import Outcome, RunState
from workflows.session.steering import Steering, SteeringHandlers, regenerating
from workflows.session.summary import Summarizer
from workflows.session.timers import watch_age, watch_idle
from workflows.session.turn import (
    TURN_ERRORS,
    add_usage,
    context_message,
    error_message,
)
from workflows.session.upgrade import continue_as_new, continue_due
from workflows.session.view import SessionView
from workflows.stream import SessionStream
from workflows.window import trim_to_count


# Not sandboxed: the sandbox re-imports modules per workflow and runs code in it for every
# payload; measured on this code it cost ~40% of the worker's CPU per turn and most of the
# memory of each cached session (docs/BENCHMARKS.md). Determinism is kept by construction
# (time, randomness and I/O only through ``workflow.*``) and checked by the replay tests.
@workflow.defn(name="SessionWorkflow", sandboxed=False)
class SessionWorkflow(SteeringHandlers, ApprovalHandlers):
    """A chat session: inbox -> model turn -> reply -> record -> trim -> timers."""

    @workflow.init
    def __init__(self, input: SessionInput) -> None:
        """Take over the carried state (or start one) and host the token stream."""
        now = workflow.now()
        self._session = input
        self._state = input.carried or SessionState(created_at=now, last_activity=now)
        self._run = RunState(updated_at=now)
        self._stream = SessionStream(prior_state=self._state.stream_state)
        self._view = SessionView(self._state, input, self._run)
        self._inbox = Inbox(self._state, input, self._run, lambda: self._recorder.unrecorded())
        self._extractor = Extractor(self._state, input, self._view, self._inbox.session_ref)
        self._summary = Summarizer(self._state, input, self._view, self._inbox.session_ref)
        self._recorder = Recorder(
            self._state,
            input,
            self._run,
            self._view,
            self._inbox.session_ref,
            self._extractor.start,
        )
        self._approvals = Approvals(input, self._run, self._view, self._stream)
        self._agent = SessionAgent(input, self._view, self._stream, self._approvals)
        self._steering = Steering(self._state, input, self._run, self._inbox, self._agent)
        self._tasks: list[asyncio.Task[None]] = []

    # ----------------------------------------------------------------- the story

    @workflow.run
    async def run(self, input: SessionInput) -> SessionSummary:
        """Answer messages until the session is closed or expires."""
        if input.carried is None and (unknown := self._agent.refusal()) is not None:
            return self._view.refused_start(unknown)  # no such agent: no session either
        if input.carried is None:
            self._view.upsert_search_attributes(first=True)
            restored = self._steering.seed(self._append) or await self._restore()
            if input.initial_context and not restored:
                self._append(context_message(input.initial_context))
        self._view.show()
        self._tasks = [
            asyncio.create_task(watch_idle(self._run, self._view.expires_at)),
            asyncio.create_task(self._recorder.run()),
        ]
        if input.config.message_ttl is not None:
            ttl = input.config.message_ttl
            self._tasks.append(asyncio.create_task(watch_age(self._state, ttl, self._trim)))
        try:
            return await self._serve()
        except asyncio.CancelledError:
            # The UI's "Request Cancellation" (or `temporal workflow cancel`): end the way a
            # close does, never by dropping the conversation on the floor.
            if not workflow.patched(CANCEL_CLOSES_PATCH):
                raise
            return await self._end_on_cancel()

    async def _serve(self) -> SessionSummary:
        """The run loop: turns in order, then close, expiry or continue-as-new."""
        run, state = self._run, self._state
        # Refused input grows the history too: check its size on every wake-up.
        watch = workflow.patched(WATCH_HISTORY_PATCH)
        while True:
            await workflow.wait_condition(
                lambda: (
                    bool(state.pending)
                    or run.close_reason is not None
                    or run.idle_due
                    or (watch and continue_due(self._session.config))
                )
            )
            while state.pending and not continue_due(self._session.config):
                await self._take_turn(self._inbox.next_message())
            if run.close_reason is not None:
                return await self._finish("closed", run.close_reason)
            if run.idle_due and not state.pending:
                if workflow.now() >= self._view.expires_at():
                    return await self._finish("expired", "idle timeout")
                run.idle_due = False
            if continue_due(self._session.config):
                await self._continue_as_new()

    async def _end_on_cancel(self) -> SessionSummary:
        """Finish as ``closed: cancelled`` in bounded time: the turn cut short and the
        queued messages are answered with an error instead of a model call."""
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # handled: what follows runs to the end
        reason = self._run.close_reason or CANCELLED
        self._run.close_reason = reason
        current = self._run.current
        if current is not None:
            self._settle_unanswered(current, "the session was cancelled during this turn")
        while self._state.pending:
            message = self._inbox.next_message()
            self._run.current = message
            if not regenerating(message):
                self._append(message)
            self._settle_unanswered(message, "the session was cancelled before this turn")
        while True:
            try:
                return await self._finish("closed", reason)
            except asyncio.CancelledError:
                continue  # cancelled again while archiving: finishing is idempotent

    def _settle_unanswered(self, message: ChatMessage, reason: str) -> None:
        """Answer ``message`` (already in the window) with an error, without a model call."""
        assert message.message_id is not None
        self._append(error_message(self._steering.answered(message), reason))
        if message.stream:
            self._end_stream(message.message_id, reason)
        self._state.turns += 1
        self._inbox.settle(message.message_id, reason)
        self._run.current = None
        self._recorder.end_turn()

    async def _take_turn(self, message: ChatMessage) -> None:
        """Run one model turn for ``message`` and settle its outcome."""
        assert message.message_id is not None
        state = self._state
        self._run.current = message
        self._view.set_step("processing", "calling the model", 30)
        if not regenerating(message):
            self._append(message)
        if message.stream:
            self._truncate_stream()
        outcome: Outcome
        failure: BaseException | None = None
        try:
            memories = await self._recorder.prepare(message)
            reply, usage = await self._steering.model_call(message, memories)
            state.usage = add_usage(state.usage, usage)
            outcome = self._inbox.reply_for(self._append(reply))
        except TURN_ERRORS as err:
            if cancelling():
                raise asyncio.CancelledError from err  # the workflow is being cancelled
            failure, reason = err, root_message(err)
            workflow.logger.warning(
                "turn %s failed (%s): %s", message.message_id, type(err).__name__, reason
            )
            self._append(error_message(self._steering.answered(message), reason))
            self._view.add_issue(f"turn {message.message_id} failed: {reason}")
            outcome = reason
        if message.stream:
            self._end_stream(message.message_id, outcome)
        state.turns += 1
        state.last_activity = workflow.now()
        self._inbox.settle(message.message_id, outcome)
        record_turn(self._session.config.model, message.timestamp, outcome, failure)
        self._run.current = None
        self._recorder.end_turn()
        self._summary.start()  # off the reply's path: the reply is already settled
        self._trim(*trim_to_count(state.messages, self._session.config.max_messages))
        self._view.set_step("active", "waiting for messages", 100)

    # ------------------------------------------------------------- messages in

    @workflow.update
    async def send_message(self, payload: RawValue) -> ChatReply:
        """Send a user message and wait for the reply (a repeated id gets the first reply).

        The argument is received raw and decoded here, so a payload nobody can decode is an
        ``InvalidMessage`` refusal like any other bad input.
        """
        admission = self._admit_update(payload)
        if isinstance(admission, Refused):
            raise refusal(admission.kind, admission.reason)
        if isinstance(admission, Duplicate):
            return await self._inbox.answer(admission.message_id)
        return await self._inbox.outcome(self._inbox.accept(admission.message))

    @send_message.validator
    def _validate_send_message(self, payload: RawValue) -> None:
        """Refuse bad input before anything is written to history."""
        admission = self._admit_update(payload)
        if isinstance(admission, Refused):
            raise refusal(admission.kind, admission.reason)

    def _admit_update(self, payload: RawValue) -> Admission:
        try:
            decoded = decode_raw(payload, workflow.payload_converter())
        except InvalidMessageError as err:
            return Refused(Refusal.INVALID_MESSAGE, str(err))
        if (unknown := self._agent.refusal()) is not None:
            return Refused(Refusal.UNKNOWN_AGENT, unknown)
        return self._inbox.admit(decoded, wants_reply=True)

    @workflow.update
    async def wait_reply(self, message_id: str, user_id: str | None = None) -> ChatReply:
        """The reply to an accepted message, waiting for its turn if needed (for reconnects)."""
        return await self._inbox.answer(message_id, duplicate=False)

    @wait_reply.validator
    def _validate_wait_reply(self, message_id: str, user_id: str | None = None) -> None:
        self._inbox.check_caller(user_id)
        if not isinstance(message_id, str) or message_id not in self._inbox.recent:
            raise refusal(Refusal.UNKNOWN_MESSAGE, f"no message {message_id!r} in this session")

    @workflow.signal(dynamic=True)
    def signal_in(self, name: str, args: Sequence[RawValue]) -> None:
        """``submit_message``: queue a user message without waiting.

        Received raw and decoded here, so that no refusal is silent: a payload that cannot
        be decoded, a wrong number of arguments, a bad message or an unknown signal name
        each become an entry in ``status().issues`` (the SDK would drop the first with
        only a worker log line).
        """
        if name != SUBMIT_MESSAGE:
            self._view.add_issue(f"refused signal {name[:100]!r}: this session has no such signal")
            return
        if len(args) != 1:
            self._view.add_issue("refused submitted message: send exactly one message object")
            return
        try:
            payload = decode_raw(args[0], workflow.payload_converter())
        except InvalidMessageError as err:
            self._view.add_issue(f"refused submitted message: {err}")
            return
        admission = self._inbox.admit(payload, wants_reply=False)
        if isinstance(admission, Refused):
            self._view.add_issue(f"refused submitted message: {admission.reason}")
        elif isinstance(admission, Accepted):
            self._inbox.accept(admission.message)

    @workflow.signal
    def close(self, reason: Any = None, *extra: Any) -> None:
        """End the session early; it archives like an expiry."""
        if self._run.close_reason is None:
            text = reason if isinstance(reason, str) and reason.strip() else "closed by request"
            self._run.close_reason = text[:500]

    # ------------------------------------------------------------------ queries

    @workflow.query
    def history(self, limit: int | None = None, user_id: str | None = None) -> list[ChatMessage]:
        """Kept messages, oldest first; the first one's ``seq`` counts earlier messages.

        With ``user_id``, only the session's owner gets an answer.
        """
        self._inbox.check_caller(user_id)
        return self._view.history(limit)

    @workflow.query
    def status(self, user_id: str | None = None) -> SessionStatus:
        """Status, current step, progress, issues, counts and timing (owner only, with user)."""
        self._inbox.check_caller(user_id)
        return self._view.status()

    @workflow.query
    def config(self, user_id: str | None = None) -> SessionConfig:
        """The session's configuration (owner only, with ``user_id``)."""
        self._inbox.check_caller(user_id)
        return self._session.config

    # ------------------------------------------------------- how a run ends

    async def _drain(self) -> None:
        """Answer every accepted message, record everything, let every handler finish."""
        state = self._state
        while True:
            while state.pending:
                await self._take_turn(self._inbox.next_message())
            await self._recorder.flush_all()
            self._stream.detach_pollers()
            await workflow.wait_condition(
                lambda: bool(state.pending) or workflow.all_handlers_finished()
            )
            if not state.pending:
                return

    async def _continue_as_new(self) -> NoReturn:
        """Hand the session to a fresh run with its state."""
        self._view.set_step(self._run.status, "continuing as new", 100)
        self._run.draining = True
        await self._drain()
        self._extractor.hand_over()
        self._summary.cancel()  # the next run starts it again from the carried summary
        self._truncate_stream()
        self._state.stream_state = self._stream.get_state()
        self._state.runs += 1
        continue_as_new(self._session.model_copy(update={"carried": self._state}))

    async def _finish(self, status: Literal["expired", "closed"], reason: str) -> SessionSummary:
        """Archive the session and complete with its summary."""
        self._view.set_step("closing", f"archiving ({reason})", 50)
        await self._drain()
        await self._extractor.finish()
        self._summary.cancel()
        summary = self._view.summary(status, reason)
        await self._recorder.archive(summary)
        self._view.set_step(status, f"{status}: {reason}", 100)
        self._view.upsert_search_attributes()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return summary

    # ---------------------------------------------------------------- helpers

    def _append(self, message: ChatMessage) -> ChatMessage:
        """Add a message to the window with the next sequence number; queue it for recording."""
        state = self._state
        stamped = message.model_copy(
            update={
                "seq": state.next_seq,
                "session_id": self._session.session_id,
                "timestamp": message.timestamp or workflow.now(),
            }
        )
        state.next_seq += 1
        state.messages.append(stamped)
        self._recorder.add(stamped)
        return stamped

    def _trim(self, kept: list[ChatMessage], dropped: list[ChatMessage]) -> None:
        """Keep ``kept``; what is dropped is recorded (or waiting to be) and is summarised."""
        if dropped:
            self._state.messages = kept
            if self._session.user_id is not None:  # summarised into the owner's memory
                self._state.trimmed.extend(dropped)
            self._view.show()

    async def _restore(self) -> bool:
        """A session that comes back (same id after it ended) resumes with its last messages."""
        if not self._session.config.restore_messages:
            return False
        restored = await self._recorder.restore()
        if restored:
            self._inbox.restore(restored)
            await self._summary.restore()
            self._view.show()
        return bool(restored)

    def _end_stream(self, message_id: str, outcome: Outcome) -> None:
        error = outcome if isinstance(outcome, str) else None
        self._stream.end_turn(message_id, error, self._state.stream_marks)

    def _truncate_stream(self) -> None:
        self._state.stream_marks = self._stream.drop_old(self._state.stream_marks)
