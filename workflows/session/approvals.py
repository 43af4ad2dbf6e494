"""Approval of tool calls: Strands' ``HumanInTheLoop`` pauses the turn, a person answers.

The agent gets Strands' vended ``HumanInTheLoop`` intervention with this module's classifier:
a call that the agent's ``require_approval`` (names or policy) or the session's own list
marks becomes an :class:`ApprovalRequest`, and the intervention's ``Confirm`` raises a
Strands interrupt. Strands stops the agent loop (``stop_reason: "interrupt"``), and
:meth:`Approvals.answers` waits in the workflow, durably, for the ``answer_approval``
update or the session's ``approval_timeout`` (a timer), then hands Strands the interrupt
responses: it runs the approved calls and cancels the denied ones, whose result the model
reads (the person's message, or that nobody answered in time).

Tool calls run one after another, so Strands interrupts on the first call that needs
approval; the other calls of the same model round that need it are asked at the same time
(:meth:`Approvals.ask_ahead`), so a person sees every pending call at once.
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from strands.hooks import BeforeToolCallEvent
    from strands.interrupt import Interrupt
    from strands.types.interrupt import InterruptResponseContent
    from strands.vended_interventions.hitl import HumanInTheLoop
    from strands.vended_interventions.hitl.classifier import ClassifierResult

from agents.definition import AgentDefinition
from models import ChatMessage, Refusal, SessionInput
from models.approvals import ANSWER_APPROVAL, APPROVALS_QUERY, ApprovalAnswer, ApprovalRequest
from models.stream import APPROVAL_ANSWERED, APPROVAL_REQUIRED, turn_topic
from workflows.session.inbox import Inbox
from workflows.session.options import APPROVALS_PATCH, refusal
from workflows.session.state import RunState
from workflows.session.view import SessionView
from workflows.stream import SessionStream
from workflows.tool_calls import bounded_input

REQUEST_ID_CHARS = 12


def spoken(duration: timedelta) -> str:
    """A duration as people say it: ``24 h``, ``90 min``, ``30 s``."""
    seconds = int(duration.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _approved(response: Any, **kwargs: Any) -> bool:
    """``HumanInTheLoop``'s evaluate: only an explicit approval lets the call run."""
    return isinstance(response, Mapping) and response.get("approved") is True


class Approvals:
    """The running turn's approval requests (see the module docstring)."""

    def __init__(
        self, session: SessionInput, run: RunState, view: SessionView, stream: SessionStream
    ) -> None:
        """Keep the requests of ``session``'s turns in ``run`` (shown by ``view``)."""
        self._session = session
        self._run = run
        self._view = view
        self._stream = stream
        self._definition: AgentDefinition | None = None
        self._message: ChatMessage | None = None
        self._by_use: dict[str, str] = {}
        self._by_interrupt: dict[str, str] = {}
        self._delivered: set[str] = set()

    # ------------------------------------------------------------ the turn

    def intervention(self, definition: AgentDefinition) -> HumanInTheLoop | None:
        """The intervention for ``definition``'s calls, or None when nothing needs approval."""
        rule, also = definition.require_approval, self._session.config.require_approval
        if not (callable(rule) or rule or also) or not workflow.patched(APPROVALS_PATCH):
            return None
        self._definition = definition
        return HumanInTheLoop(classifier=self._classify, evaluate=_approved)

    def begin(self, message: ChatMessage) -> None:
        """A turn answering ``message`` starts: no request is pending."""
        self._message = message
        self._by_use, self._by_interrupt, self._delivered = {}, {}, set()
        self._run.approvals = {}

    def end(self) -> None:
        """The turn is over: what still waits is cancelled with it (cancel_turn, failure)."""
        for request in self._run.approvals.values():
            if request.state == "pending":
                self._settle(request, "cancelled", None, None)
        self._message, self._by_use, self._by_interrupt, self._delivered = None, {}, {}, set()
        self._run.approvals = {}

    def waiting(self, use: Mapping[str, Any]) -> bool:
        """Whether the call ``use`` (a ``toolUse``) waits for its answer: the turn pauses.

        Asks for it when it needs approval, whichever hook sees the call first.
        """
        use_id, tool = str(use.get("toolUseId", "")), str(use.get("name", ""))
        request = self.ask(use_id, tool, use.get("input"))
        # Answered but not yet handed to Strands (asked ahead): this pass still interrupts.
        return request is not None and request.id not in self._delivered

    def denial(self, tool_use_id: str) -> str | None:
        """What the model is told of call ``tool_use_id`` when it was not approved."""
        request = self._request_of(tool_use_id)
        if request is None or request.state == "approved":
            return None
        if request.state == "timed_out":
            waited = self._session.config.approval_timeout
            return (
                f"Nobody approved this {request.tool} call within {spoken(waited)}; it did not run."
            )
        said = f": {request.message}" if request.message else "."
        return f"The user denied this {request.tool} call; it did not run{said}"

    def ask_ahead(self, messages: list[Any]) -> None:
        """Ask now about the other calls of the paused model round that need approval."""
        last = messages[-1] if messages else {}
        if last.get("role") != "assistant":
            return
        for block in last.get("content") or []:
            use = block.get("toolUse") if isinstance(block, Mapping) else None
            if isinstance(use, Mapping):
                self.ask(str(use.get("toolUseId", "")), str(use.get("name", "")), use.get("input"))

    async def answers(self, interrupts: list[Interrupt]) -> list[InterruptResponseContent]:
        """Wait until each interrupt's request is answered; the responses to resume with."""
        requests: list[tuple[Interrupt, ApprovalRequest]] = []
        for interrupt in interrupts:
            request_id = self._by_interrupt.get(interrupt.id)
            if request_id is None:
                raise RuntimeError(f"an interrupt no approval asked for: {interrupt.name}")
            requests.append((interrupt, self._run.approvals[request_id]))
        while waiting := self._run.pending_approvals():
            names = ", ".join(dict.fromkeys(r.tool for r in waiting))
            self._view.set_step("waiting_for_approval", f"waiting for approval of {names}", 60)
            deadline = min(r.deadline for r in waiting)
            try:
                await workflow.wait_condition(
                    lambda: not any(r.state == "pending" for r in waiting),
                    timeout=max(deadline - workflow.now(), timedelta(0)),
                    timeout_summary="approval timeout",
                )
            except TimeoutError:
                for request in waiting:
                    if request.state == "pending" and request.deadline <= workflow.now():
                        self._settle(request, "timed_out", None, None)
        self._view.set_step("processing", "calling the model", 30)
        self._delivered.update(request.id for _, request in requests)
        return [
            {
                "interruptResponse": {
                    "interruptId": interrupt.id,
                    "response": {"approved": request.state == "approved"},
                }
            }
            for interrupt, request in requests
        ]

    def listing(self) -> list[ApprovalRequest]:
        """Every request of the running turn, pending ones first."""
        return sorted(self._run.approvals.values(), key=lambda r: r.state != "pending")

    # --------------------------------------------------------- the update

    def check(self, answer: ApprovalAnswer, inbox: Inbox) -> ApprovalRequest:
        """Validator of ``answer_approval``: the owner, a request that waits for an answer."""
        refused = inbox.admit_steering(answer.user_id, starts_turn=False)
        if refused is not None:
            raise refusal(refused.kind, refused.reason)
        request = self._run.approvals.get(answer.request_id)
        if request is None or request.state != "pending":
            state = "already answered" if request is not None else "not pending"
            raise refusal(
                Refusal.UNKNOWN_APPROVAL,
                f"no approval request {answer.request_id!r} waits for an answer ({state})",
            )
        return request

    def answer(self, answer: ApprovalAnswer, inbox: Inbox) -> ApprovalRequest:
        """Approve or deny the request; the paused turn goes on once all are answered."""
        request = self.check(answer, inbox)
        state = "approved" if answer.approved else "denied"
        message = None if answer.approved else (answer.message or "").strip() or None
        return self._settle(request, state, message, answer.user_id)

    # ------------------------------------------------------------ helpers

    def _classify(self, event: BeforeToolCallEvent, **kwargs: Any) -> ClassifierResult:
        """``HumanInTheLoop``'s classifier: a marked call becomes a request."""
        use = event.tool_use
        use_id, tool = str(use.get("toolUseId", "")), str(use.get("name", ""))
        request = self.ask(use_id, tool, use.get("input"))
        if request is None:
            return ClassifierResult(requires_human_in_the_loop=False)
        # The id Strands gives the intervention's interrupt for this call, to find it again.
        self._by_interrupt[event._interrupt_id(HumanInTheLoop.name)] = request.id
        return ClassifierResult(requires_human_in_the_loop=True, reason=request.reason)

    def ask(self, use_id: str, tool: str, arguments: Any) -> ApprovalRequest | None:
        """The request for call ``use_id`` (made now if the call needs one), or None."""
        known = self._request_of(use_id)
        if known is not None or self._definition is None or self._message is None:
            return known
        given = arguments if isinstance(arguments, Mapping) else {}
        config = self._session.config
        reason = self._definition.approval_reason(tool, given, config.require_approval)
        if reason is None:
            return None
        now = workflow.now()
        request = ApprovalRequest(
            id=workflow.uuid4().hex[:REQUEST_ID_CHARS],
            tool=tool,
            input=bounded_input(arguments),
            reason=reason,
            tool_use_id=use_id,
            message_id=self._message.message_id or "",
            asked_at=now,
            deadline=now + config.approval_timeout,
        )
        self._run.approvals[request.id] = request
        self._by_use[use_id] = request.id
        self._publish(APPROVAL_REQUIRED, request)
        return request

    def _request_of(self, use_id: str) -> ApprovalRequest | None:
        request_id = self._by_use.get(use_id)
        return self._run.approvals.get(request_id) if request_id else None

    def _settle(
        self, request: ApprovalRequest, state: str, message: str | None, by: str | None
    ) -> ApprovalRequest:
        request.state = state  # type: ignore[assignment]  # one of ApprovalState
        request.message, request.answered_by = message, by
        request.answered_at = workflow.now()
        self._publish(APPROVAL_ANSWERED, request)
        self._view.show()
        return request

    def _publish(self, kind: str, request: ApprovalRequest) -> None:
        message = self._message
        if message is not None and message.stream and message.message_id:
            item = {kind: request.model_dump(mode="json")}
            self._stream.topic(turn_topic(message.message_id)).publish(item)


class ApprovalHandlers:
    """The approval update and query of ``SessionWorkflow`` (mixed in)."""

    _approvals: Approvals
    _inbox: Inbox

    @workflow.update(name=ANSWER_APPROVAL)
    def answer_approval(self, answer: ApprovalAnswer) -> ApprovalRequest:
        """Approve or deny a pending tool call (``approved``; ``message`` tells the model
        why not); the answered request comes back."""
        return self._approvals.answer(answer, self._inbox)

    @answer_approval.validator
    def _validate_answer_approval(self, answer: ApprovalAnswer) -> None:
        self._approvals.check(answer, self._inbox)

    @workflow.query(name=APPROVALS_QUERY)
    def approvals(self, user_id: str | None = None) -> list[ApprovalRequest]:
        """The requests of the running turn, pending ones first (owner only, with user)."""
        self._inbox.check_caller(user_id)
        return self._approvals.listing()
