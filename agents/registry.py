"""The agents a worker serves: built-ins plus those loaded from the user's modules.

One registry per process (:data:`registry`): the worker registers every agent's tool
activities and MCP servers from it, and the session workflow (which runs in the same
process) looks its agent up in it. ``convoflow worker --agents myapp.agents`` (or
``CONVOFLOW_AGENTS=myapp.agents``) imports the module; every module-level
:class:`AgentDefinition` in it (and every one in a module-level ``AGENTS`` list) is
registered. A bad definition stops the worker with one line saying what to fix.
"""

import importlib
import os
import sys
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from agents.builtin import BUILTIN_AGENTS
from agents.definition import AgentDefinition, AgentDefinitionError, MCPServer, ToolDefinition

if TYPE_CHECKING:
    from strands.tools.mcp import MCPClient


class AgentRegistry:
    """Agents by name, with their tools and MCP servers checked for conflicts."""

    def __init__(self, agents: Iterable[AgentDefinition] = BUILTIN_AGENTS) -> None:
        """Start with ``agents`` (the built-ins by default)."""
        self._agents: dict[str, AgentDefinition] = {}
        self.default_model = "local"
        self._tools: dict[str, ToolDefinition] = {}
        self._servers: dict[str, MCPServer] = {}
        for agent in agents:
            self.register(agent)

    def register(self, agent: AgentDefinition) -> None:
        """Add ``agent``; registering the very same definition again does nothing.

        Raises :class:`AgentDefinitionError` when another agent already has the name, or a
        tool or MCP server name is taken by a different definition.
        """
        if not isinstance(agent, AgentDefinition):
            raise AgentDefinitionError(f"not an AgentDefinition: {agent!r}")
        existing = self._agents.get(agent.name)
        if existing is agent:
            return
        if existing is not None:
            raise AgentDefinitionError(f"two different agents are named {agent.name!r}")
        for tool in agent.tool_definitions:
            known = self._tools.get(tool.name)
            if known is not None and known.activity is not tool.activity:
                raise AgentDefinitionError(
                    f"tool name {tool.name!r} of agent {agent.name!r} is already used by "
                    "another activity; give one of them another name"
                )
        for server in agent.mcp_servers:
            known_server = self._servers.get(server.name)
            if known_server is not None and known_server is not server:
                raise AgentDefinitionError(
                    f"MCP server name {server.name!r} of agent {agent.name!r} is already "
                    "used by a different server definition"
                )
        self._agents[agent.name] = agent
        for tool in agent.tool_definitions:
            self._tools.setdefault(tool.name, tool)
        for server in agent.mcp_servers:
            self._servers.setdefault(server.name, server)

    def get(self, name: str) -> AgentDefinition | None:
        """The agent called ``name``, if any."""
        return self._agents.get(name)

    def names(self) -> list[str]:
        """Every agent's name, sorted."""
        return sorted(self._agents)

    def unknown_agent_message(self, name: str) -> str:
        """What a session naming an unknown agent is told."""
        return f"no agent {name[:64]!r} on this worker; agents: {', '.join(self.names())}"

    def tool_activities(self) -> list[Callable[..., Any]]:
        """Every tool's activity, once each (the worker registers them)."""
        return [tool.activity for tool in self._tools.values()]

    def mcp_clients(self) -> "dict[str, Callable[[], MCPClient]]":
        """Every MCP server's client factory, by server name (for ``StrandsPlugin``)."""
        return {name: server.connect for name, server in self._servers.items()}

    def set_default_model(self, provider: str) -> None:
        """The provider of sessions that name none (the worker's ``CONVOFLOW_MODEL``)."""
        self.default_model = provider

    def check_providers(self, providers: Collection[str]) -> None:
        """Raise :class:`AgentDefinitionError` if an agent names an unknown model provider."""
        for agent in self._agents.values():
            if agent.model is not None and agent.model not in providers:
                raise AgentDefinitionError(
                    f"agent {agent.name!r} uses model provider {agent.model!r}, which is not "
                    f"registered (providers: {', '.join(sorted(providers))})"
                )


registry = AgentRegistry()
"""The process's agents (built-ins, plus every module loaded with :func:`load_agents`)."""


def register_agent(agent: AgentDefinition) -> AgentDefinition:
    """Register ``agent`` in the process registry; returns it (usable at module level)."""
    registry.register(agent)
    return agent


def agents_in(module: Any) -> list[AgentDefinition]:
    """The agents a module defines: module-level definitions and its ``AGENTS`` list."""
    found: list[AgentDefinition] = []
    listed = getattr(module, "AGENTS", None)
    candidates = [*vars(module).values(), *(listed if isinstance(listed, list | tuple) else [])]
    for value in candidates:
        if isinstance(value, AgentDefinition) and all(value is not a for a in found):
            found.append(value)
    return found


def load_agents(
    modules: Iterable[str], target: AgentRegistry | None = None
) -> list[AgentDefinition]:
    """Import each module and register the agents it defines; return them.

    The current directory is importable (as for ``python -m``), so
    ``convoflow dev --agents examples.support`` works from a checkout. Raises
    :class:`AgentDefinitionError` (one line) for a module that cannot be imported, that
    defines no agent, or a bad definition.
    """
    target = target or registry
    loaded: list[AgentDefinition] = []
    for name in modules:
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(name)
        except AgentDefinitionError as err:
            raise AgentDefinitionError(f"agents module {name!r}: {err}") from None
        except Exception as err:
            raise AgentDefinitionError(
                f"cannot import agents module {name!r}: {type(err).__name__}: {err}"
            ) from None
        agents = agents_in(module)
        if not agents:
            raise AgentDefinitionError(
                f"agents module {name!r} defines no AgentDefinition at module level"
            )
        for agent in agents:
            try:
                target.register(agent)
            except AgentDefinitionError as err:
                raise AgentDefinitionError(f"agents module {name!r}: {err}") from None
        loaded.extend(agents)
    return loaded
