"""Long-term memory: namespaces, the targets read for an actor, and search/list of records.

AgentCore's strategies write the records; this module only reads them, with ``namespace=``
(exact) or ``namespace_path=`` (templates with ``{sessionId}``, up to that placeholder).
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from bedrock_agentcore.memory.session import MemorySessionManager

from activities.memory.agentcore._constants import (
    DEFAULT_NAMESPACES,
    LIST_SCAN_LIMIT,
    MAX_QUERY_CHARS,
)
from activities.memory.agentcore._ids import (
    agentcore_actor_id,
    agentcore_session_id,
    session_id_from_agentcore,
)
from models.memory import ActorRef, MemoryKind, MemoryRecord

T = TypeVar("T")


class Caller(Protocol):
    """The store's ``_call``: run blocking SDK work in a thread, mapping AWS failures."""

    def __call__(self, action: str, fn: Callable[[], T]) -> Awaitable[T]: ...


def resolve_namespaces(namespaces: Mapping[MemoryKind, str] | None) -> dict[MemoryKind, str]:
    """The default templates overridden by ``namespaces``; each must contain ``{actorId}``."""
    resolved: dict[MemoryKind, str] = {**DEFAULT_NAMESPACES, **(namespaces or {})}
    for kind, template in resolved.items():
        if "{actorId}" not in template:
            raise ValueError(f"namespace template for {kind!r} must contain {{actorId}}")
    return resolved


@dataclass(frozen=True)
class _Target:
    """A namespace to read: exact (``namespace=``) or a path prefix (``namespace_path=``)."""

    kind: MemoryKind
    value: str
    is_path: bool

    @property
    def namespace(self) -> str | None:
        return None if self.is_path else self.value

    @property
    def namespace_path(self) -> str | None:
        return self.value if self.is_path else None


class LongTermMemory:
    """Search and list an actor's long-term records in the namespaces ``namespaces`` names."""

    def __init__(
        self, namespaces: dict[MemoryKind, str], manager: MemorySessionManager, call: Caller
    ) -> None:
        """Read through ``manager``, every SDK call made with ``call``."""
        self.namespaces = namespaces
        self._manager = manager
        self._call = call

    def namespace_for(
        self, actor: ActorRef, kind: MemoryKind, session_id: str | None = None
    ) -> str:
        """The namespace holding ``actor``'s records of ``kind`` (summaries: of one session)."""
        resolved = self.namespaces[kind].replace(
            "{actorId}", agentcore_actor_id(actor.tenant_id, actor.actor_id)
        )
        if "{sessionId}" in resolved:
            if session_id is None:
                raise ValueError(f"the {kind} namespace needs a session id")
            resolved = resolved.replace("{sessionId}", agentcore_session_id(session_id))
        return resolved

    def _template_target(self, kind: MemoryKind, template: str, actor_id: str) -> _Target:
        resolved = template.replace("{actorId}", actor_id)
        is_path = "{sessionId}" in resolved
        if is_path:
            resolved = resolved[: resolved.index("{sessionId}")]
        if "{" in resolved or "}" in resolved:
            raise ValueError(
                f"namespace template {template!r}: only {{actorId}} and {{sessionId}} are known"
            )
        return _Target(kind, resolved, is_path)

    def _targets(self, actor: ActorRef, namespaces: Sequence[str] | None) -> list[_Target]:
        """Namespaces to read for ``actor``; each must lie inside the actor's own space."""
        actor_id = agentcore_actor_id(actor.tenant_id, actor.actor_id)
        if namespaces is None:
            return [
                self._template_target(kind, template, actor_id)
                for kind, template in self.namespaces.items()
            ]
        targets = []
        for namespace in namespaces:
            target = self._template_target(self._kind_of(namespace, actor_id), namespace, actor_id)
            if f"/{actor_id}/" not in target.value:
                raise ValueError(
                    f"namespace {namespace!r} is not scoped to actor {actor_id!r}; pass a"
                    " template with {actorId} or a namespace this store returned"
                )
            targets.append(target)
        return targets

    def _kind_of(self, namespace: str, actor_id: str) -> MemoryKind:
        for kind, template in self.namespaces.items():
            if namespace == template:
                return kind
            prefix = self._template_target(kind, template, actor_id).value
            if namespace.startswith(prefix):
                return kind
        return "fact"

    def _record(self, raw: Any, target: _Target, actor_id: str) -> MemoryRecord:
        """Our record from one of the SDK's (a dict-like ``memoryRecordSummary``)."""
        namespace = (raw.get("namespaces") or [target.value])[0]
        kind = self._kind_of(namespace, actor_id) if namespace != target.value else target.kind
        session_id = None
        if kind == "summary":
            prefix = self._template_target(kind, self.namespaces[kind], actor_id).value
            if namespace.startswith(prefix) and namespace != prefix:
                session_id = session_id_from_agentcore(namespace[len(prefix) :].split("/")[0])
        created_at = raw.get("createdAt")
        score = raw.get("score")
        return MemoryRecord(
            record_id=str(raw["memoryRecordId"]),
            namespace=namespace,
            kind=kind,
            text=str((raw.get("content") or {}).get("text", "")),
            session_id=session_id,
            created_at=created_at.astimezone(UTC) if isinstance(created_at, datetime) else None,
            score=float(score) if score is not None else None,
        )

    async def search_records(
        self, actor: ActorRef, query: str, *, top_k: int, namespaces: list[str] | None
    ) -> list[MemoryRecord]:
        """Semantic search in each namespace (in parallel), merged by score, best first."""
        text = query.strip()[:MAX_QUERY_CHARS]
        if not text:
            return []
        actor_id = agentcore_actor_id(actor.tenant_id, actor.actor_id)
        targets = self._targets(actor, namespaces)

        async def search(target: _Target) -> list[MemoryRecord]:
            found = await self._call(
                "search_memories",
                lambda: self._manager.search_long_term_memories(
                    text,
                    top_k=top_k,
                    max_results=top_k,
                    namespace=target.namespace,
                    namespace_path=target.namespace_path,
                ),
            )
            return [self._record(raw, target, actor_id) for raw in found]

        results = await asyncio.gather(*(search(target) for target in targets))
        merged: dict[str, MemoryRecord] = {}
        for record in (record for found in results for record in found):
            merged.setdefault(record.record_id, record)
        ranked = sorted(merged.values(), key=lambda r: -(r.score or 0.0))
        return ranked[:top_k]

    async def list_records(
        self, actor: ActorRef, *, namespace: str | None, limit: int
    ) -> list[MemoryRecord]:
        """Records of ``actor`` (in ``namespace``, or in every configured one), newest first."""
        actor_id = agentcore_actor_id(actor.tenant_id, actor.actor_id)
        targets = self._targets(actor, None if namespace is None else [namespace])

        async def listing(target: _Target) -> list[MemoryRecord]:
            found = await self._call(
                "list_memories",
                lambda: self._manager.list_long_term_memory_records(
                    max_results=LIST_SCAN_LIMIT,
                    namespace=target.namespace,
                    namespace_path=target.namespace_path,
                ),
            )
            return [self._record(raw, target, actor_id) for raw in found]

        results = await asyncio.gather(*(listing(target) for target in targets))
        merged: dict[str, MemoryRecord] = {}
        for record in (record for found in results for record in found):
            merged.setdefault(record.record_id, record)
        oldest = datetime.min.replace(tzinfo=UTC)
        ranked = sorted(merged.values(), key=lambda r: r.created_at or oldest, reverse=True)
        return ranked[:limit]
