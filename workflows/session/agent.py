"""The session's agent: the model, prompt, window and tools a turn uses, and what its tool
calls show while they run (status step, stream events) and after (the reply's record).

The agent is looked up by name (``SessionConfig.agent``) in the worker's registry
(:mod:`agents.registry`). Tools are Temporal activities wrapped by ``activity_as_tool``
(summary ``tool: <name>``, the tool's own timeout and retries); MCP servers are
``TemporalMCPClient`` handles, kept for the run so ``cache_tools`` lists them once. Strands
runs the tool loop; this module only watches it through hooks.
"""

import json
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from strands.hooks import AfterToolCallEvent, BeforeModelCallEvent, BeforeToolCallEvent
    from strands.tools.decorator import FunctionToolMetadata
    from strands.tools.executors import SequentialToolExecutor
    from strands.types.tools import AgentTool, ToolGenerator, ToolUse
    from temporalio.strands_agents import TemporalAgent, TemporalMCPClient
    from temporalio.strands_agents.workflow import activity_as_tool

from agents.context import scheduling, set_scheduling
from agents.definition import AgentDefinition, ToolDefinition
from agents.registry import registry
from models import ChatMessage, SessionInput
from models.session import WORKER_MODEL
from models.stream import TOOL_END, TOOL_START, turn_topic
from models.tools import ToolContext
from worker._compat import ToolResultEvent
from workflows.inbound import describe_validation_error
from workflows.session.approvals import Approvals
from workflows.session.options import AGENTS_PATCH, LOCAL_ACTIVITY_ERRORS, root_message
from workflows.session.view import SessionView
from workflows.stream import SessionStream
from workflows.tool_calls import TOOL_CALLS, bounded_input, bounded_text, result_text, tool_calls_of

STREAM_RESULT_CHARS = 500
"""Characters of a tool result a stream event carries."""
LIMIT_GRACE = 3
"""Tool calls refused past the limit before the turn is stopped."""
EXECUTOR_COPIES = ("messages", "system_prompt", "tool_config")
"""What Strands' tool executor copies into the invocation state for older tools. They are
JSON, so the next model activity's input would carry the whole context twice; no tool of a
session reads them (its context comes from :func:`agents.tool_context`)."""

# Built once per process: a tool's Strands wrapper and input model depend only on its
# definition (names, schema, activity options), never on the session.
_BUILT: dict[int, tuple[AgentTool, type[BaseModel]]] = {}


def _built(definition: ToolDefinition) -> tuple[AgentTool, type[BaseModel]]:
    built = _BUILT.get(id(definition))
    if built is None:
        inner = activity_as_tool(
            definition.activity,
            start_to_close_timeout=definition.start_to_close_timeout,
            heartbeat_timeout=definition.heartbeat_timeout,
            retry_policy=definition.retry_policy,
            summary=f"tool: {definition.name}",
        )
        built = _BUILT[id(definition)] = (
            inner,
            FunctionToolMetadata(definition.activity).input_model,
        )
    return built


def check_arguments(
    name: str, model: type[BaseModel], given: Any
) -> tuple[dict[str, Any] | None, str | None]:
    """``(arguments, None)`` when ``given`` fits the tool's schema, else ``(None, why)``."""
    if not isinstance(given, dict):
        return None, f"invalid arguments for {name}: expected a JSON object"
    unknown = sorted(set(given) - set(model.model_fields))
    if unknown:
        takes = ", ".join(model.model_fields) or "no arguments"
        return None, f"invalid arguments for {name}: unknown {unknown}; it takes {takes}"
    try:
        checked = model.model_validate(given)
    except ValidationError as err:
        return None, f"invalid arguments for {name}: {describe_validation_error(err)}"
    return {field: getattr(checked, field) for field in model.model_fields}, None


class SessionTool(AgentTool):
    """A tool activity as the session's model sees it: arguments checked against the
    schema first (a mismatch is an error result, no activity), then ``activity_as_tool``
    runs it with the call's :class:`ToolContext` in its header."""

    def __init__(self, definition: ToolDefinition, agent: "SessionAgent") -> None:
        """Wrap ``definition`` for ``agent``'s session."""
        super().__init__()
        self._inner, self._model = _built(definition)
        self._agent = agent
        self._definition = definition

    @property
    def tool_name(self) -> str:
        """The activity's name."""
        return self._inner.tool_name

    @property
    def tool_spec(self) -> Any:
        """The schema derived from the activity's signature and docstring."""
        return self._inner.tool_spec

    @property
    def tool_type(self) -> str:
        """What Strands calls this kind of tool."""
        return "convoflow_activity"

    async def stream(
        self, tool_use: ToolUse, invocation_state: dict[str, Any], **kwargs: Any
    ) -> ToolGenerator:
        """Check the arguments, then run the activity (errors become error results)."""
        arguments, problem = check_arguments(self.tool_name, self._model, tool_use.get("input"))
        if arguments is None:
            yield ToolResultEvent(
                {
                    "toolUseId": tool_use["toolUseId"],
                    "status": "error",
                    "content": [{"text": problem or "invalid arguments"}],
                }
            )
            return
        call: ToolUse = {**tool_use, "input": arguments}
        with scheduling(self._agent.context_for(tool_use["toolUseId"], self.tool_name)):
            if self._definition.local:
                yield await self._run_locally(call)
                return
            async for event in self._inner.stream(call, invocation_state, **kwargs):
                yield event

    async def _run_locally(self, call: ToolUse) -> ToolResultEvent:
        """The tool as a local activity (``ToolDefinition.local``), its error as a result."""
        definition, use_id = self._definition, call["toolUseId"]
        try:
            result = await workflow.execute_local_activity(
                self.tool_name,
                args=list(call["input"].values()),
                start_to_close_timeout=definition.start_to_close_timeout,
                retry_policy=definition.retry_policy,
                summary=f"tool: {self.tool_name}",
            )
        except LOCAL_ACTIVITY_ERRORS as err:
            text = root_message(err)
            return ToolResultEvent(
                {"toolUseId": use_id, "status": "error", "content": [{"text": text}]}
            )
        text = result if isinstance(result, str) else json.dumps(result, default=str)
        return ToolResultEvent(
            {"toolUseId": use_id, "status": "success", "content": [{"text": text}]}
        )


class SessionAgent:
    """What the session's agent definition means for each turn."""

    def __init__(
        self,
        session: SessionInput,
        view: SessionView,
        stream: SessionStream,
        approvals: Approvals,
    ) -> None:
        """Look the agent up (it may be missing: see :meth:`refusal`)."""
        self._session = session
        self.approvals = approvals
        self._view = view
        self._stream = stream
        self.definition: AgentDefinition | None = registry.get(session.config.agent)
        if session.config.model == WORKER_MODEL:
            # The worker decides a model nobody asked for, once: the session keeps it (and
            # carries it across continue-as-new), so status() names it.
            session.config.model = (
                self.definition.model if self.definition and self.definition.model else None
            ) or registry.default_model
        self._tools: list[Any] | None = None
        self._message: ChatMessage | None = None
        self._calls = 0
        self._running: dict[str, str] = {}

    @property
    def name(self) -> str:
        """The agent's name, as the session configured it."""
        return self._session.config.agent

    def refusal(self) -> str | None:
        """Why this session cannot run (its agent is not on this worker), or None."""
        if self.definition is None:
            return registry.unknown_agent_message(self.name)
        return None

    def _defined(self) -> AgentDefinition:
        if self.definition is None:
            raise ApplicationError(self.refusal() or "unknown agent", type="UnknownAgent")
        return self.definition

    @property
    def model(self) -> str:
        """The provider of the turn: the agent's, else the session's."""
        return self._defined().model or self._session.config.model

    @property
    def system_prompt(self) -> str:
        """The agent's system prompt, else the session's."""
        return self._defined().system_prompt or self._session.config.system_prompt

    @property
    def context_messages(self) -> int:
        """How many earlier messages the model sees."""
        window = self._defined().context_messages
        return self._session.config.context_messages if window is None else window

    def options(self) -> dict[str, Any]:
        """Extra ``TemporalAgent`` arguments: the tools (none for an agent without any)."""
        definition = self._defined()
        if not definition.uses_tools or not workflow.patched(AGENTS_PATCH):
            return {}
        if self._tools is None:
            mcp = [
                TemporalMCPClient(
                    server.name,
                    cache_tools=server.cache_tools,
                    start_to_close_timeout=server.start_to_close_timeout,
                    retry_policy=server.retry_policy,
                    summary=f"mcp {server.name}",
                )
                for server in definition.mcp_servers
            ]
            self._tools = [*(SessionTool(t, self) for t in definition.tool_definitions), *mcp]
        # One call after the other, in the turn's own task: a cancel of the turn then
        # reaches the running tool's activity directly, and calls run in a fixed order.
        options: dict[str, Any] = {
            "tools": list(self._tools),
            "tool_executor": SequentialToolExecutor(),
        }
        if (approval := self.approvals.intervention(definition)) is not None:
            options["interventions"] = [approval]
        return options

    def begin(self, agent: TemporalAgent, message: ChatMessage) -> None:
        """Watch ``agent``'s tool calls for the turn answering ``message``."""
        self._message, self._calls, self._running = message, 0, {}
        self.approvals.begin(message)
        if self._tools:
            agent.hooks.add_callback(BeforeToolCallEvent, self._before_tool)
            agent.hooks.add_callback(AfterToolCallEvent, self._after_tool)
            agent.hooks.add_callback(BeforeModelCallEvent, self._before_model)

    def end(self) -> None:
        """The turn is over (answered, failed or cancelled): forget its calls."""
        set_scheduling(None)
        self.approvals.end()
        self._message, self._running = None, {}

    def finish(self, new_messages: list[Any]) -> dict[str, Any]:
        """The reply's metadata about the turn's tool calls (empty when it made none)."""
        if not self._tools:
            return {}
        calls = tool_calls_of(new_messages)
        extra: dict[str, Any] = {"agent": self.name}
        if calls:
            extra[TOOL_CALLS] = [call.model_dump(mode="json") for call in calls]
        return extra

    def context_for(self, tool_use_id: str, tool_name: str) -> ToolContext:
        """Who the call acts for: the session's ids, never anything the model wrote."""
        session, message = self._session, self._message
        return ToolContext(
            tenant_id=session.tenant_id,
            session_id=session.session_id,
            user_id=session.user_id,
            message_id=(message.message_id if message else None) or "",
            tool_use_id=tool_use_id,
            tool_name=tool_name,
            agent=self.name,
        )

    # ------------------------------------------------------------------ hooks

    def _before_tool(self, event: BeforeToolCallEvent) -> None:
        use = event.tool_use
        use_id, name = str(use.get("toolUseId", "")), str(use.get("name", ""))
        if self.approvals.waiting(use):
            return  # the turn pauses before this call; it comes here again once answered
        self._calls += 1
        self._publish(
            TOOL_START, toolUseId=use_id, name=name, input=bounded_input(use.get("input"))
        )
        limit = self._defined().max_tool_calls
        if self._calls > limit:
            event.cancel_tool = f"the limit of {limit} tool calls per turn is reached; answer now"
            return
        # MCP tools schedule their activity right after this hook, in this task.
        set_scheduling(self.context_for(use_id, name))
        self._running[use_id] = name
        self._show()

    def _after_tool(self, event: AfterToolCallEvent) -> None:
        set_scheduling(None)
        for key in EXECUTOR_COPIES:
            event.invocation_state.pop(key, None)
        use_id = str(event.tool_use.get("toolUseId", ""))
        name = self._running.pop(use_id, str(event.tool_use.get("name", "")))
        if (denied := self.approvals.denial(use_id)) is not None:
            event.result = {"toolUseId": use_id, "status": "error", "content": [{"text": denied}]}
        result = event.result
        self._publish(
            TOOL_END,
            toolUseId=use_id,
            name=name,
            status="success" if result.get("status") == "success" else "error",
            result=bounded_text(result_text(result), STREAM_RESULT_CHARS),
        )
        self._show()

    def _before_model(self, event: BeforeModelCallEvent) -> None:
        limit = self._defined().max_tool_calls
        if self._calls > limit + LIMIT_GRACE:
            raise ApplicationError(
                f"the model kept calling tools past the limit of {limit} per turn",
                type="ToolCallLimit",
                non_retryable=True,
            )

    def _show(self) -> None:
        if self._running:
            names = ", ".join(dict.fromkeys(self._running.values()))
            self._view.set_step("processing", f"running tool {names}", 60)
        else:
            self._view.set_step("processing", "calling the model", 30)

    def _publish(self, kind: str, **fields: Any) -> None:
        message = self._message
        if message is not None and message.stream and message.message_id:
            self._stream.topic(turn_topic(message.message_id)).publish({kind: fields})
