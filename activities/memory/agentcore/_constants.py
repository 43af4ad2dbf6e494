"""Every constant of the AgentCore store: wire keys, service limits, id patterns, defaults."""

import re
from collections.abc import Mapping
from typing import Any, Final

from bedrock_agentcore.memory.constants import MessageRole

from models.memory import MemoryKind

DEFAULT_NAMESPACES: Final[Mapping[MemoryKind, str]] = {
    "fact": "/facts/{actorId}/",
    "preference": "/preferences/{actorId}/",
    "summary": "/summaries/{actorId}/{sessionId}/",
}

# Metadata keys of our events (see the package docstring).
KIND_KEY: Final = "convoflow.kind"
EVENT_KEY: Final = "convoflow.event"
REPLY_TO_KEY: Final = "reply_to"
KIND_MESSAGES: Final = "messages"
KIND_SUMMARY: Final = "summary"
KIND_TOOL_RESULT: Final = "tool_result"
TOOL_CALL_KEY: Final = "convoflow.tool_call"  # digest of the call's message and tool-use ids
BLOB_VERSION: Final = 1

PAGE_SIZE: Final = 100  # ListEvents' maximum maxResults
MAX_QUERY_CHARS: Final = 10_000  # RetrieveMemoryRecords' searchQuery limit
LIST_SCAN_LIMIT: Final = 1_000  # long-term records read per namespace by list_memories

MEMORY_ID = re.compile(
    r"(arn:(aws|aws-cn|aws-us-gov):bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:memory/)?"
    r"[a-zA-Z][a-zA-Z0-9-_]{0,99}-[a-zA-Z0-9]{10}"
)
METADATA_VALUE = re.compile(r"[a-zA-Z0-9\s._:/=+@-]{0,256}")
ACTOR_PART_MAX = 120  # two parts + "t-", ":u-" stay within actorId's 255 characters
SESSION_PART_MAX = 98  # "s-" + part within sessionId's 100 characters
HASHED = "_h"
ROLES: Final[Mapping[str, MessageRole]] = {
    "user": MessageRole.USER,
    "assistant": MessageRole.ASSISTANT,
}
NO_RETRIES: Final[Mapping[str, Any]] = {"total_max_attempts": 1, "mode": "standard"}
