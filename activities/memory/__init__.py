"""Memory backends behind one ``MemoryStore`` interface, and the activities that use them."""

from activities.memory.activities import MemoryActivities
from activities.memory.agentcore import (
    AgentCoreMemoryStore,
    MemoryBackendError,
    MemoryRejectedError,
    MemoryUnavailableError,
    open_agentcore_store,
)
from activities.memory.sqlite import SqliteMemoryStore
from activities.memory.store import MemoryStore

__all__ = [
    "AgentCoreMemoryStore",
    "MemoryActivities",
    "MemoryBackendError",
    "MemoryRejectedError",
    "MemoryStore",
    "MemoryUnavailableError",
    "SqliteMemoryStore",
    "open_agentcore_store",
]
