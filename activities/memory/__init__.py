"""Memory backends behind one ``MemoryStore`` interface, and the activities that use them."""

from activities.memory.activities import MemoryActivities
from activities.memory.sqlite import SqliteMemoryStore
from activities.memory.store import MemoryStore

__all__ = ["MemoryActivities", "MemoryStore", "SqliteMemoryStore"]
