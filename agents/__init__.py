"""Bring your own agent: agents defined in code, tools as Temporal activities, MCP servers.

Define agents in your own module and start a worker with it
(``convoflow worker --agents myapp.agents``); a session names its agent in
``SessionConfig.agent`` (``--agent`` on the CLI). See the README, "Writing an agent".
"""

from agents.builtin import (
    ASSISTANT_AGENT,
    BUILTIN_AGENTS,
    DEFAULT_AGENT,
    calculator,
    current_time,
    recall_memory,
)
from agents.context import ToolContextError, ToolContextInterceptor, tool_context
from agents.definition import (
    DEFAULT_TOOL_RETRY,
    DEFAULT_TOOL_TIMEOUT,
    AgentDefinition,
    AgentDefinitionError,
    MCPServer,
    ToolDefinition,
    http_server,
    stdio_server,
)
from agents.registry import AgentRegistry, load_agents, register_agent, registry
from models.tools import ToolCall, ToolContext

__all__ = [
    "ASSISTANT_AGENT",
    "BUILTIN_AGENTS",
    "DEFAULT_AGENT",
    "DEFAULT_TOOL_RETRY",
    "DEFAULT_TOOL_TIMEOUT",
    "AgentDefinition",
    "AgentDefinitionError",
    "AgentRegistry",
    "MCPServer",
    "ToolCall",
    "ToolContext",
    "ToolContextError",
    "ToolContextInterceptor",
    "ToolDefinition",
    "calculator",
    "current_time",
    "http_server",
    "load_agents",
    "recall_memory",
    "register_agent",
    "registry",
    "stdio_server",
    "tool_context",
]
