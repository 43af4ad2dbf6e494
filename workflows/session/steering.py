"""Steering a session in flight: cancel the running turn, regenerate the last reply, and
start as a fork of another session.

**Cancel.** The model call of a turn runs in its own task with a :class:`TurnControl`.
``cancel_turn`` cancels that task: the Temporal activity it awaits (the model call today, a
tool call later: whatever the agent is waiting on) gets a cancel request, which reaches the
provider's stream through the activity's heartbeat (``activities/providers/cancellation.py``).
The model activity answers with the text so far, and because the activity is scheduled with
``WAIT_CANCELLATION_COMPLETED`` that answer comes back: the partial reply is kept with
``stop_reason: "cancelled"``, the waiting client gets it, the next queued message runs. The
control's ``before_model_call`` hook stops any further model call of the same turn (after a
cancelled tool, say). A cancel before the model call starts gives an empty cancelled reply.

**Regenerate.** The request is queued like a message (forge-proof: clients cannot set
``reply_to``) and runs the last user message again with the model seeing what came before
it; the previous reply stays in the window and in memory, flagged ``alternative``, and the new
one names it in ``replaces``. :func:`current_messages` is the model's view without them.

**Fork.** ``SessionInput.seed_messages`` (built by the client from the source session's
history, owner-checked there) become the new session's first messages.
"""

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow
from temporalio.exceptions import CancelledError as TemporalCancelledError

with workflow.unsafe.imports_passed_through():
    from strands.hooks import BeforeModelCallEvent

from models import (
    ChatMessage,
    ChatReply,
    MemoryRecord,
    Refusal,
    SessionInput,
    SessionState,
    TokenUsage,
)
from models.steering import CancelResult, SteerRequest
from workflows.session.agent import SessionAgent
from workflows.session.inbox import Inbox, Refused
from workflows.session.options import STEERING_PATCH, cancelling, refusal
from workflows.session.state import RunState
from workflows.session.turn import TURN_ERRORS, call_model

CANCELLED = "cancelled"
"""The stop reason of a reply cut short by ``cancel_turn``."""
_HOOK_CANCEL_TEXT = "\u2063cancelled\u2063"
"""The text a model call stopped by the hook leaves (replaced by the partial text: none)."""


@dataclass
class TurnControl:
    """The handle ``cancel_turn`` has on one running turn."""

    message_id: str
    requested: bool = False
    task: "asyncio.Task[tuple[ChatMessage, TokenUsage]] | None" = field(default=None, repr=False)

    def request(self) -> None:
        """Cancel the turn: whatever activity it awaits is asked to stop."""
        self.requested = True
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def before_model_call(self, event: BeforeModelCallEvent) -> None:
        """Strands hook: no new model call once the turn was cancelled."""
        if self.requested:
            event.cancel = _HOOK_CANCEL_TEXT


def regenerating(message: ChatMessage) -> bool:
    """A queued regenerate request (a client message never has ``reply_to``)."""
    return message.role == "user" and message.reply_to is not None


def current_messages(messages: Iterable[ChatMessage]) -> list[ChatMessage]:
    """The window as the model should see it: without replaced replies (alternatives) and
    without empty cancelled replies (providers refuse blank text)."""
    window = list(messages)
    replaced = {
        str(m.metadata["replaces"]) for m in window if m.metadata and m.metadata.get("replaces")
    }
    return [
        m
        for m in window
        if not (m.metadata or {}).get("alternative")
        and m.message_id not in replaced
        and not (m.role == "assistant" and not m.message.strip())
    ]


def _is_cancellation(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, TemporalCancelledError | asyncio.CancelledError):
            return True
        error = error.__cause__
    return False


class Steering:
    """Cancel, regenerate and fork for one session (see the module docstring)."""

    def __init__(
        self,
        state: SessionState,
        session: SessionInput,
        run: RunState,
        inbox: Inbox,
        agent: SessionAgent,
    ) -> None:
        """Work on the session's one state and the run's flags."""
        self._agent = agent
        self._state = state
        self._session = session
        self._run = run
        self._inbox = inbox
        self._control: TurnControl | None = None
        self._requested: str | None = None  # a cancel that came before the model call

    # ------------------------------------------------------------------- turns

    def answered(self, message: ChatMessage) -> ChatMessage:
        """The user message a turn answers: itself, or the one a regenerate runs again."""
        if not regenerating(message):
            return message
        return message.model_copy(
            update={"message_id": message.reply_to, "reply_to": None, "stream": False}
        )

    async def model_call(
        self, message: ChatMessage, memories: list[MemoryRecord]
    ) -> tuple[ChatMessage, TokenUsage]:
        """The turn's model call: cancellable (patch ``steer-turns``; before it, as it was)."""
        if not workflow.patched(STEERING_PATCH):
            earlier, summary = self._state.messages[:-1], self._state.summary
            return await call_model(
                self._session, earlier, message, memories, self._agent, summary=summary
            )
        result = await self.run_turn(message, memories)
        if cancelling():
            raise asyncio.CancelledError  # the workflow itself is cancelled: end like before
        return result

    async def run_turn(
        self, message: ChatMessage, memories: list[MemoryRecord]
    ) -> tuple[ChatMessage, TokenUsage]:
        """The model call of ``message``'s turn, cancellable; raises ``TURN_ERRORS``."""
        assert message.message_id is not None
        prompt = self.answered(message)
        messages = self._state.messages
        if regenerating(message):  # what came before the message run again
            before = [m for m in messages if (m.seq or 0) < (prompt.seq or 0)]
        else:  # the window before the message just appended
            before = messages[:-1]
        control = TurnControl(message.message_id, requested=self._requested == message.message_id)
        self._control = control
        try:
            if control.requested:
                reply, usage = self._cancelled_reply(prompt), TokenUsage()
            else:
                reply, usage = await self._call(control, current_messages(before), prompt, memories)
        finally:
            self._control, self._requested = None, None
        if reply.message == _HOOK_CANCEL_TEXT:  # stopped by the hook before a model call
            reply = _flag_cancelled(reply)
        if regenerating(message):
            reply = self._supersede(prompt, reply)
        return reply, usage

    async def _call(
        self,
        control: TurnControl,
        earlier: list[ChatMessage],
        prompt: ChatMessage,
        memories: list[MemoryRecord],
    ) -> tuple[ChatMessage, TokenUsage]:
        hooks: list[Any] = [control.before_model_call]
        call = call_model(
            self._session,
            earlier,
            prompt,
            memories,
            self._agent,
            summary=self._state.summary,
            hooks=hooks,
        )
        task = asyncio.create_task(call)
        control.task = task
        try:
            return await task
        except asyncio.CancelledError:
            # Cancelled before the activity could answer (or as it finished): no text.
            if cancelling() or not control.requested:
                raise
            return self._cancelled_reply(prompt), TokenUsage()
        except TURN_ERRORS as err:
            if cancelling() or not control.requested or not _is_cancellation(err):
                raise
            return self._cancelled_reply(prompt), TokenUsage()

    def _cancelled_reply(self, prompt: ChatMessage) -> ChatMessage:
        return ChatMessage(
            message_id=str(workflow.uuid4()),
            role="assistant",
            message="",
            reply_to=prompt.message_id,
            metadata={
                "stop_reason": CANCELLED,
                "usage": TokenUsage().model_dump(),
                "model": self._session.config.model,
            },
        )

    def _supersede(self, prompt: ChatMessage, reply: ChatMessage) -> ChatMessage:
        """Flag the current reply to ``prompt`` as an alternative; ``reply`` replaces it."""
        messages = self._state.messages
        for index in range(len(messages) - 1, -1, -1):
            old = messages[index]
            metadata = old.metadata or {}
            if old.reply_to == prompt.message_id and not metadata.get("alternative"):
                flags = {"alternative": True, "superseded_by": reply.message_id}
                messages[index] = old.model_copy(update={"metadata": {**metadata, **flags}})
                reply = reply.model_copy(
                    update={"metadata": {**(reply.metadata or {}), "replaces": old.message_id}}
                )
                break
        assert prompt.message_id is not None
        self._run.outcomes.pop(prompt.message_id, None)  # a repeat now gets the new reply
        return reply

    # ------------------------------------------------------------------ cancel

    def check_cancel(self, request: SteerRequest) -> None:
        """Validator of ``cancel_turn``: only the owner (a no-op is not an error)."""
        refused = self._inbox.admit_steering(request.user_id, starts_turn=False)
        if refused is not None:
            raise refusal(refused.kind, refused.reason)

    async def cancel(self, request: SteerRequest) -> CancelResult:
        """Cancel the running turn and answer once it has settled."""
        self.check_cancel(request)
        current = self._run.current
        if current is None or current.message_id is None:
            return CancelResult(status="idle", detail="no turn is running; nothing to cancel")
        message_id = current.message_id
        answers = self.answered(current).message_id
        self._requested = message_id
        if self._control is not None and self._control.message_id == message_id:
            self._control.request()
        await workflow.wait_condition(lambda: message_id in self._run.outcomes)
        outcome = self._run.outcomes[message_id]
        if not isinstance(outcome, ChatReply):
            return CancelResult(
                status="finished", detail=f"the turn failed first: {outcome}", message_id=answers
            )
        if outcome.stop_reason == CANCELLED:
            return CancelResult(
                status="cancelled",
                detail=f"cancelled; {len(outcome.reply)} characters of the reply kept",
                message_id=answers,
                reply=outcome,
            )
        return CancelResult(
            status="finished",
            detail="the turn finished before the cancel reached it",
            message_id=answers,
            reply=outcome,
        )

    # -------------------------------------------------------------- regenerate

    def check_regenerate(self, request: SteerRequest) -> None:
        """Validator of ``regenerate``: the owner, an idle session, a message to run again."""
        refused: Refused | None = self._inbox.admit_steering(request.user_id, starts_turn=True)
        if refused is not None:
            raise refusal(refused.kind, refused.reason)
        if self._last_user_message() is None:
            raise refusal(
                Refusal.NOTHING_TO_REGENERATE, "nothing to regenerate: no user message yet"
            )

    def regenerate(self, request: SteerRequest) -> str:
        """Queue the last user message to run again; return the request's id."""
        self.check_regenerate(request)
        last = self._last_user_message()
        assert last is not None
        request_id = str(workflow.uuid4())
        item = last.model_copy(
            update={"message_id": request_id, "reply_to": last.message_id, "stream": False}
        )
        self._run.in_flight.add(request_id)
        self._state.pending.append(item)
        self._state.last_activity = workflow.now()
        return request_id

    def _last_user_message(self) -> ChatMessage | None:
        for message in reversed(self._state.messages):
            if message.role == "user" and message.message_id is not None:
                return message
        return None

    # -------------------------------------------------------------------- fork

    def seed(self, append: Callable[[ChatMessage], ChatMessage]) -> bool:
        """A fork starts with the source session's messages (renumbered, marked)."""
        seeds = self._session.seed_messages
        if not seeds:
            return False
        for message in seeds:
            origin = {"session_id": message.session_id, "seq": message.seq}
            metadata = {**(message.metadata or {}), "forked_from": origin}
            stamped = append(message.model_copy(update={"metadata": metadata}))
            if stamped.message_id is not None:
                self._inbox.recent.add(stamped.message_id)
        return True


def _flag_cancelled(reply: ChatMessage) -> ChatMessage:
    metadata = {**(reply.metadata or {}), "stop_reason": CANCELLED}
    return reply.model_copy(update={"message": "", "metadata": metadata})


class SteeringHandlers:
    """The steering updates of ``SessionWorkflow`` (mixed in; owner-checked by the inbox)."""

    _steering: Steering
    _inbox: Inbox

    @workflow.update(name="cancel_turn")
    async def cancel_turn(self, request: SteerRequest) -> CancelResult:
        """Cancel the running turn: its partial reply is kept (``stop_reason: cancelled``)
        and answers its client; with nothing running, an ``idle`` answer."""
        return await self._steering.cancel(request)

    @cancel_turn.validator
    def _validate_cancel_turn(self, request: SteerRequest) -> None:
        self._steering.check_cancel(request)

    @workflow.update(name="regenerate")
    async def regenerate(self, request: SteerRequest) -> ChatReply:
        """Run the last user message again; the new reply becomes current."""
        return await self._inbox.outcome(self._steering.regenerate(request))

    @regenerate.validator
    def _validate_regenerate(self, request: SteerRequest) -> None:
        self._steering.check_regenerate(request)
