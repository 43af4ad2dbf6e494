"""The inbox: admission (one function for the update, its validator and the signal),
dedupe by message id, the queue, and the outcomes waiting clients are answered with."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio import workflow

from activities.memory.activities import MemoryActivities
from models import (
    ChatMessage,
    ChatReply,
    FindReplyInput,
    Refusal,
    SessionInput,
    SessionRef,
    SessionState,
    TokenUsage,
)
from workflows.inbound import InvalidMessageError, NotOwnerError, parse_inbound
from workflows.session.options import LOOKUP_RETRY, MAX_OUTCOMES, MEMORY_TIMEOUT, refusal
from workflows.session.state import Outcome, RunState
from workflows.window import RecentIds


@dataclass(frozen=True)
class Accepted:
    """A new message that may be queued."""

    message: ChatMessage


@dataclass(frozen=True)
class Duplicate:
    """A message id the session already received: answer it, never run it again."""

    message_id: str


@dataclass(frozen=True)
class Refused:
    """A message the session does not take, and why."""

    kind: Refusal
    reason: str


Admission = Accepted | Duplicate | Refused


class Inbox:
    """Admits, queues and answers user messages of one session."""

    def __init__(
        self,
        state: SessionState,
        session: SessionInput,
        run: RunState,
        unrecorded: Callable[[], list[ChatMessage]],
    ) -> None:
        """Work on ``state`` (the queue and recent ids live there, carried across runs)."""
        self._state = state
        self._session = session
        self._run = run
        self._unrecorded = unrecorded
        self.recent = RecentIds(session.config.dedupe_window, state.recent_message_ids)
        state.recent_message_ids = self.recent.ids
        run.in_flight.update(m.message_id for m in state.pending if m.message_id)

    # ---------------------------------------------------------------- admission

    def admit(self, payload: Any, *, wants_reply: bool) -> Admission:
        """Decide about one incoming message; changes nothing (validators call it too).

        The rules are the same for every entry point. The only difference is what a
        hand-over to a new run means: a caller waiting for the reply is refused (it retries
        on the next run), a fire-and-forget message is queued and carried over.
        """
        config, session = self._session.config, self._session
        try:
            message = parse_inbound(payload, config, session.session_id, session.user_id)
        except NotOwnerError:
            return Refused(Refusal.SESSION_NOT_FOUND, "no such session")
        except InvalidMessageError as err:
            return Refused(Refusal.INVALID_MESSAGE, str(err))
        if message.message_id is not None and message.message_id in self.recent:
            return Duplicate(message.message_id)
        if self._run.ending:
            return Refused(
                Refusal.SESSION_CLOSING, "session is closing; send again to open a new session"
            )
        if wants_reply and self._run.draining:
            # Accepting more would keep the run open for ever under load.
            return Refused(Refusal.SESSION_CONTINUING, "session is moving to a new run; send again")
        queued = len(self._state.pending)
        if queued >= config.max_queued_messages:
            return Refused(
                Refusal.SESSION_BUSY, f"session is busy: {queued} messages already waiting"
            )
        return Accepted(message)

    def accept(self, message: ChatMessage) -> str:
        """Stamp and queue an admitted message; return its id."""
        message_id = message.message_id or str(workflow.uuid4())
        now = workflow.now()
        stamped = message.model_copy(
            update={
                "message_id": message_id,
                "session_id": self._session.session_id,
                "user_id": message.user_id or self._session.user_id,
                "timestamp": now,
            }
        )
        self.recent.add(message_id)
        self._run.in_flight.add(message_id)
        self._state.pending.append(stamped)
        self._state.last_activity = now
        return message_id

    def next_message(self) -> ChatMessage:
        """Take the oldest queued message."""
        return self._state.pending.pop(0)

    # ---------------------------------------------------------------- outcomes

    def settle(self, message_id: str, outcome: Outcome) -> None:
        """Record how the turn for ``message_id`` ended; waiting handlers wake up."""
        outcomes = self._run.outcomes
        outcomes[message_id] = outcome
        while len(outcomes) > MAX_OUTCOMES:
            del outcomes[next(iter(outcomes))]
        self._run.in_flight.discard(message_id)

    async def outcome(self, message_id: str) -> ChatReply:
        """Wait for the turn of an accepted message and return its reply (or raise)."""
        await workflow.wait_condition(lambda: message_id in self._run.outcomes)
        return self._reply_or_raise(self._run.outcomes[message_id], duplicate=None)

    async def answer(self, message_id: str, *, duplicate: bool = True) -> ChatReply:
        """Answer a known message id with its first outcome, never running it again."""
        if message_id in self._run.in_flight:
            await workflow.wait_condition(lambda: message_id in self._run.outcomes)
        outcome = self._run.outcomes.get(message_id)
        if outcome is not None:
            return self._reply_or_raise(outcome, duplicate=duplicate)
        answer = self.find_local_reply(message_id)
        if answer is None:
            answer = await workflow.execute_activity_method(
                MemoryActivities.find_reply,
                FindReplyInput(session=self.session_ref(), message_id=message_id),
                start_to_close_timeout=MEMORY_TIMEOUT,
                retry_policy=LOOKUP_RETRY,
                summary="find earlier reply",
            )
        if answer is None:
            raise refusal(
                Refusal.DUPLICATE_MESSAGE,
                f"message {message_id} was already received; its reply is no longer available",
            )
        return self._reply_or_raise(self._outcome_of(answer), duplicate=duplicate)

    def find_local_reply(self, message_id: str) -> ChatMessage | None:
        """The reply or error answering ``message_id`` among messages still in the workflow."""
        for message in (*self._state.messages, *self._unrecorded()):
            if message.reply_to == message_id:
                return message
        return None

    def restore(self, restored: list[ChatMessage]) -> None:
        """Put an earlier session's last messages first in the window; queued messages they
        already answer get that answer."""
        state = self._state
        state.messages[:0] = restored
        state.next_seq = max(state.next_seq, (restored[-1].seq or 0) + 1)
        for earlier in restored:
            if earlier.message_id:
                self.recent.add(earlier.message_id)
        self.answer_restored()

    def answer_restored(self) -> None:
        """Queued messages an earlier run already answered get that answer, not a turn."""
        for queued in list(self._state.pending):
            assert queued.message_id is not None
            earlier = self.find_local_reply(queued.message_id)
            if earlier is not None:
                self._state.pending.remove(queued)
                self.settle(queued.message_id, self._outcome_of(earlier, duplicate=True))

    def reply_for(self, reply: ChatMessage, *, duplicate: bool = False) -> ChatReply:
        """The ``ChatReply`` a client gets for an assistant message."""
        metadata = reply.metadata or {}
        assert reply.message_id is not None and reply.reply_to is not None
        return ChatReply(
            message_id=reply.reply_to,
            reply_message_id=reply.message_id,
            session_id=self._session.session_id,
            tenant_id=self._session.tenant_id,
            reply=reply.message,
            stop_reason=metadata.get("stop_reason"),
            usage=TokenUsage.model_validate(metadata.get("usage") or {}),
            duplicate=duplicate,
            seq=reply.seq,
        )

    def check_caller(self, user_id: str | None) -> None:
        """Refuse a caller who names a user other than the owner, without saying more.

        A caller naming a user never reaches an ownerless session (the gateway always names
        one); a caller naming none (the CLI without ``--user``, an operator) reaches any.
        """
        if user_id is not None and user_id != self._session.user_id:
            raise refusal(Refusal.SESSION_NOT_FOUND, "no such session")

    def session_ref(self) -> SessionRef:
        """This session's key in the memory store."""
        s = self._session
        return SessionRef(tenant_id=s.tenant_id, session_id=s.session_id, user_id=s.user_id)

    def _outcome_of(self, answer: ChatMessage, *, duplicate: bool = False) -> Outcome:
        if answer.role == "error":
            return str((answer.metadata or {}).get("error", answer.message))
        return self.reply_for(answer, duplicate=duplicate)

    def _reply_or_raise(self, outcome: Outcome, *, duplicate: bool | None) -> ChatReply:
        """The reply (``duplicate`` set unless None), or the turn's failure raised."""
        if isinstance(outcome, str):
            raise refusal(Refusal.TURN_FAILED, f"turn failed: {outcome}")
        if duplicate is None:
            return outcome
        return outcome.model_copy(update={"duplicate": duplicate})
