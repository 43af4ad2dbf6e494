"""The types a Convoflow user defines agents with: an agent, its tools and its MCP servers.

Everything here is plain data, checked when it is built (names) and when a worker registers
it (providers, duplicates: see :mod:`agents.registry`)::

    from datetime import timedelta
    from temporalio import activity
    from agents import AgentDefinition, ToolDefinition, tool_context

    @activity.defn
    async def lookup_order(order_id: str) -> str:
        \"\"\"Look up an order by its id.\"\"\"
        who = tool_context()          # tenant, user, session, idempotency key
        ...

    support = AgentDefinition(
        name="support",
        system_prompt="You help customers with their orders.",
        tools=[ToolDefinition(lookup_order, start_to_close_timeout=timedelta(seconds=10))],
    )
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.common import RetryPolicy

from models.ids import AGENT_NAME_PATTERN, TOOL_NAME_PATTERN
from worker._compat import activity_definition

if TYPE_CHECKING:
    from strands.tools.mcp import MCPClient

_NAME = re.compile(AGENT_NAME_PATTERN)
_TOOL_NAME = re.compile(TOOL_NAME_PATTERN)

ApprovalPolicy = Callable[[str, Mapping[str, Any]], bool | str | None]
"""Decides whether a tool call needs a person's approval: given the tool's name and the
model's arguments, a reason (or True) when it does, None or False when it does not. It runs
inside the session workflow, so it must be deterministic: no I/O, clock or randomness."""

DEFAULT_TOOL_TIMEOUT = timedelta(seconds=30)
DEFAULT_TOOL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)
"""A failing tool is tried three times, then the model gets the error as the tool's result."""


class AgentDefinitionError(ValueError):
    """An agent, tool or MCP server definition that cannot work; the text says what to fix."""


def _check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AgentDefinitionError(
            f"invalid {kind} name {name!r}: use 1-64 characters from A-Z a-z 0-9 _ -"
        )
    return name


def activity_name(fn: Callable[..., Any]) -> str | None:
    """The Temporal activity name of ``fn``, or None when it is not an activity."""
    definition = activity_definition(fn)
    return definition.name if definition is not None else None


@dataclass(frozen=True)
class ToolDefinition:
    """A Temporal activity the model may call, with the activity options of each call.

    The activity's name is the tool's name; its parameters (with type hints) are the tool's
    input schema and its docstring is the description the model reads. The arguments are
    checked against the schema before the activity is scheduled: arguments that do not fit
    are an error result the model sees. A tool that raises, or runs out of time, is retried
    by ``retry_policy``; after the last attempt the model gets the error text as the result.

    ``local=True`` runs the tool as a local activity, on the worker running the session: no
    round trip through the server's task queue (about one activity hop less per call), for
    fast tools (well under ten seconds) whose side effects are idempotent. A local activity
    has no heartbeat; a worker that dies during one runs it again on the next worker.
    """

    activity: Callable[..., Any]
    start_to_close_timeout: timedelta = DEFAULT_TOOL_TIMEOUT
    heartbeat_timeout: timedelta | None = None
    retry_policy: RetryPolicy = field(default_factory=lambda: DEFAULT_TOOL_RETRY)
    local: bool = False

    def __post_init__(self) -> None:
        """Check it is an async activity with a usable name."""
        name = activity_name(self.activity)
        label = getattr(self.activity, "__name__", repr(self.activity))
        if name is None:
            raise AgentDefinitionError(
                f"tool {label!r} is not a Temporal activity: decorate it with @activity.defn"
            )
        _check_name("tool", name)
        definition = activity_definition(self.activity)
        if definition is not None and not definition.is_async:
            raise AgentDefinitionError(f"tool {name!r} must be an async function (async def)")
        if self.start_to_close_timeout <= timedelta(0):
            raise AgentDefinitionError(f"tool {name!r}: start_to_close_timeout must be positive")
        if self.local and self.heartbeat_timeout is not None:
            raise AgentDefinitionError(f"tool {name!r}: a local tool has no heartbeat_timeout")

    @property
    def name(self) -> str:
        """The tool's (and activity's) name."""
        name = activity_name(self.activity)
        assert name is not None
        return name


@dataclass(frozen=True)
class MCPServer:
    """An MCP server whose tools an agent may call, each call an activity.

    ``connect`` runs on the worker (never in the workflow) and returns a Strands
    ``MCPClient``; :func:`stdio_server` and :func:`http_server` build the usual ones.
    With ``cache_tools`` the server's tools are listed once per workflow run, else before
    every model call. The name prefixes its activities (``{name}-list-tools``,
    ``{name}-call-tool``), so it is unique on a worker.
    """

    name: str
    connect: "Callable[[], MCPClient]"
    cache_tools: bool = True
    start_to_close_timeout: timedelta = DEFAULT_TOOL_TIMEOUT
    retry_policy: RetryPolicy = field(default_factory=lambda: DEFAULT_TOOL_RETRY)

    def __post_init__(self) -> None:
        """Check the name."""
        _check_name("MCP server", self.name)
        if not callable(self.connect):
            raise AgentDefinitionError(f"MCP server {self.name!r}: connect must be callable")


def stdio_server(
    name: str,
    command: str,
    args: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    cache_tools: bool = True,
    start_to_close_timeout: timedelta = DEFAULT_TOOL_TIMEOUT,
) -> MCPServer:
    """An MCP server the worker starts as a subprocess and talks to over stdio."""

    def connect() -> "MCPClient":
        from mcp import StdioServerParameters, stdio_client
        from strands.tools.mcp import MCPClient

        parameters = StdioServerParameters(
            command=command, args=list(args), env=dict(env) if env else None, cwd=cwd
        )
        return MCPClient(lambda: stdio_client(parameters))

    return MCPServer(
        name, connect, cache_tools=cache_tools, start_to_close_timeout=start_to_close_timeout
    )


def http_server(
    name: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    cache_tools: bool = True,
    start_to_close_timeout: timedelta = DEFAULT_TOOL_TIMEOUT,
) -> MCPServer:
    """An MCP server reached over streamable HTTP at ``url`` (e.g. ``http://host:8000/mcp``)."""

    def connect() -> "MCPClient":
        from strands.tools.mcp import MCPClient

        return MCPClient(url=url, headers=dict(headers) if headers else None)

    return MCPServer(
        name, connect, cache_tools=cache_tools, start_to_close_timeout=start_to_close_timeout
    )


@dataclass(frozen=True)
class AgentDefinition:
    """An agent a session can name in ``SessionConfig.agent``.

    ``model`` is a registered provider name (``echo``, ``local``, ``bedrock``, ``openai`` or
    one you registered); None uses the session's ``model``. ``system_prompt`` None uses the
    session's. ``context_messages`` None uses the session's window size. ``tools`` are
    :class:`ToolDefinition` (or bare activities, with the default options).
    ``max_tool_calls`` bounds the calls of one turn: past it, calls get an error result.
    ``require_approval`` marks calls that wait for a person: tool names (MCP tools too), or
    an :data:`ApprovalPolicy` deciding per call. A session can add tools, never remove these.
    """

    name: str
    model: str | None = None
    system_prompt: str | None = None
    tools: Sequence[ToolDefinition | Callable[..., Any]] = ()
    mcp_servers: Sequence[MCPServer] = ()
    context_messages: int | None = None
    max_tool_calls: int = 20
    description: str = ""
    require_approval: Sequence[str] | ApprovalPolicy = ()

    def __post_init__(self) -> None:
        """Check names and limits; wrap bare activities; refuse duplicate tool names."""
        _check_name("agent", self.name)
        tools = tuple(
            tool if isinstance(tool, ToolDefinition) else ToolDefinition(tool)
            for tool in self.tools
        )
        object.__setattr__(self, "tools", tools)
        object.__setattr__(self, "mcp_servers", tuple(self.mcp_servers))
        seen: set[str] = set()
        for tool in tools:
            if tool.name in seen:
                raise AgentDefinitionError(f"agent {self.name!r} has two tools named {tool.name!r}")
            seen.add(tool.name)
        servers = [server.name for server in self.mcp_servers]
        for server in servers:
            if servers.count(server) > 1:
                raise AgentDefinitionError(f"agent {self.name!r} names MCP server {server!r} twice")
        if self.context_messages is not None and not 0 <= self.context_messages <= 1_000:
            raise AgentDefinitionError(f"agent {self.name!r}: context_messages must be 0-1000")
        if not 0 <= self.max_tool_calls <= 1_000:
            raise AgentDefinitionError(f"agent {self.name!r}: max_tool_calls must be 0-1000")
        if self.model is not None and not isinstance(self.model, str):
            raise AgentDefinitionError(f"agent {self.name!r}: model must be a provider name")
        self._check_approvals(seen)

    def _check_approvals(self, tools: set[str]) -> None:
        rule = self.require_approval
        if callable(rule):
            return
        if isinstance(rule, str):
            raise AgentDefinitionError(
                f"agent {self.name!r}: require_approval must be a list of tool names"
            )
        names = tuple(rule)
        for name in names:
            if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
                raise AgentDefinitionError(
                    f"agent {self.name!r}: require_approval names an invalid tool {name!r}"
                )
            # MCP servers' tools are known only once listed: names are checked without them.
            if not self.mcp_servers and name not in tools:
                have = ", ".join(sorted(tools)) or "none"
                raise AgentDefinitionError(
                    f"agent {self.name!r}: require_approval names {name!r}, which is not one"
                    f" of its tools ({have})"
                )
        object.__setattr__(self, "require_approval", names)

    def approval_reason(
        self, tool: str, arguments: Mapping[str, Any], also: Sequence[str] = ()
    ) -> str | None:
        """Why a call of ``tool`` needs approval (``also``: the session's own list), or None."""
        rule = self.require_approval
        if callable(rule):
            decided = rule(tool, arguments)
            if decided:
                return decided if isinstance(decided, str) else f"{self.name} asks before {tool}"
        elif tool in rule:
            return f"agent {self.name} asks before every {tool} call"
        if tool in also:
            return f"this session asks before every {tool} call"
        return None

    @property
    def tool_definitions(self) -> tuple[ToolDefinition, ...]:
        """The tools, each a :class:`ToolDefinition`."""
        return tuple(tool for tool in self.tools if isinstance(tool, ToolDefinition))

    @property
    def uses_tools(self) -> bool:
        """Whether the agent has any tool or MCP server."""
        return bool(self.tools or self.mcp_servers)
