"""Reading one session's events with ListEvents, paged by hand (see the package docstring)."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from activities.memory.agentcore._constants import EVENT_KEY, KIND_KEY, KIND_MESSAGES, PAGE_SIZE
from activities.memory.agentcore._events import decode_messages, message_id, seq
from activities.memory.agentcore._ids import equals
from models import ChatMessage


@dataclass(frozen=True)
class SessionEvents:
    """The events of ``(actor, session)`` in memory ``memory_id``, read through ``client``.

    Every method makes blocking boto calls: run it in the store's ``_call``.
    """

    client: Any
    memory_id: str
    actor: str
    session: str

    def pages(
        self,
        *,
        filters: list[dict[str, Any]] | None = None,
        payloads: bool = True,
        max_pages: int | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """ListEvents pages, newest first as the service lists them, following ``nextToken``.

        ``maxResults`` bounds the events scanned per call and filters apply afterwards, so an
        empty page may still have a next one: only a missing ``nextToken`` ends the scan.
        """
        token: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {
                "memoryId": self.memory_id,
                "actorId": self.actor,
                "sessionId": self.session,
                "maxResults": PAGE_SIZE,
                "includePayloads": payloads,
            }
            if filters:
                params["filter"] = {"eventMetadata": filters}
            if token:
                params["nextToken"] = token
            response = self.client.list_events(**params)
            yield list(response.get("events") or [])
            pages += 1
            token = response.get("nextToken")
            if not token or (max_pages is not None and pages >= max_pages):
                return

    def recent_ids(self, *, max_pages: int) -> set[str]:
        """Message ids in the newest ``max_pages`` pages of message events (metadata only)."""
        found: set[str] = set()
        filters = [equals(KIND_KEY, KIND_MESSAGES)]
        for page in self.pages(filters=filters, payloads=False, max_pages=max_pages):
            for event in page:
                metadata = event.get("metadata") or {}
                for position in range(2):
                    value = metadata.get(f"message.{position}.id", {}).get("stringValue")
                    if value:
                        found.add(value)
        return found

    def event_written(self, key: str) -> bool:
        """Whether the newest page holds the event with idempotency key ``key``."""
        filters = [equals(EVENT_KEY, key)]
        pages = self.pages(filters=filters, payloads=False, max_pages=1)
        return any(page for page in pages)

    def messages(self) -> list[ChatMessage]:
        """Every message of the session, each id once, in ``seq`` order."""
        by_id: dict[str, ChatMessage] = {}
        for page in self.pages(filters=[equals(KIND_KEY, KIND_MESSAGES)]):
            for event in page:
                for message in decode_messages(event):
                    by_id.setdefault(message_id(message), message)
        return sorted(by_id.values(), key=seq)
