"""An in-process fake of the Amazon Bedrock AgentCore Memory data plane, behind botocore.

``FakeAgentCore().attach(client)`` registers a ``before-send.bedrock-agentcore`` hook on a real
botocore ``bedrock-agentcore`` client. Botocore still validates every request against the real
API model and serialises it to REST-JSON; the hook answers the HTTP request from memory, and
botocore parses that HTTP response. Code under test therefore runs its real requests and
response parsing, without a network.

Implemented, following the real service's behaviour:

- ``CreateEvent``: stores the event; a repeated ``clientToken`` returns the first event and
  writes nothing.
- ``ListEvents``: newest first. ``maxResults`` (default 20, at most 100) bounds the events
  *scanned* per call and ``filter.eventMetadata`` (``EQUALS_TO``, ``EXISTS``, ``NOT_EXISTS``;
  all must hold) applies afterwards, so a page can be empty and still carry a ``nextToken``.
  ``includePayloads=false`` omits ``payload``.
- ``RetrieveMemoryRecords``: records in ``namespace`` (exact) or under ``namespacePath``
  (prefix), scored by the share of query words in the record (a stand-in for semantic
  search: records sharing no word are left out), best first, at most ``topK``.
- ``ListMemoryRecords``: the same namespace selection, newest first, paged.
- Server-side validation: botocore checks types, required members and minimums before
  sending; the fake checks the rest of the model's constraints (``max`` lengths and sizes,
  string patterns) and answers ``ValidationException`` like the service.
- A memory id the fake does not hold answers ``ResourceNotFoundException``; :meth:`fail`
  queues error responses (any code and HTTP status) for an operation's next calls.

Long-term records are added with :meth:`add_record`, standing in for AgentCore's strategies.
"""

import itertools
import json
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped, unused-ignore]

_WORD = re.compile(r"\w+")


class _Raw:
    """The raw body botocore reads an ``AWSResponse`` from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


@dataclass
class _Record:
    record_id: str
    namespace: str
    text: str
    strategy_id: str
    created_at: float


@dataclass
class _Memory:
    events: dict[tuple[str, str], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: list[_Record] = field(default_factory=list)


def _words(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text) if len(word) > 1}


def _timestamp(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class FakeAgentCore:
    """The AgentCore Memory data plane, in memory (see the module docstring)."""

    def __init__(self, *memory_ids: str) -> None:
        """Hold the given memory resources (empty)."""
        self.memories = {memory_id: _Memory() for memory_id in memory_ids}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._failures: dict[str, deque[tuple[int, str, str]]] = defaultdict(deque)
        self._ids = itertools.count(1)

    def attach(self, client: Any) -> "FakeAgentCore":
        """Answer every request ``client`` sends from this fake."""
        self._model = client.meta.service_model
        client.meta.events.register(
            "before-send.bedrock-agentcore", self._handle, unique_id=f"fake-agentcore-{id(self)}"
        )
        return self

    # --- test controls ----------------------------------------------------------------------

    def fail(self, operation: str, code: str, status: int, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``operation`` with error ``code``."""
        for _ in range(times):
            self._failures[operation].append((status, code, f"injected {code}"))

    def add_record(
        self,
        memory_id: str,
        namespace: str,
        text: str,
        *,
        strategy_id: str = "semantic-AbCdEf1234",
        created_at: datetime | None = None,
    ) -> str:
        """Add a long-term record (as a strategy would); return its id."""
        record_id = f"mem-{next(self._ids):036d}"
        stamp = (created_at or datetime.now(UTC)).timestamp()
        self.memories[memory_id].records.append(
            _Record(record_id, namespace, text, strategy_id, stamp)
        )
        return record_id

    def events(self, memory_id: str, actor_id: str, session_id: str) -> list[dict[str, Any]]:
        """Stored events of one session, oldest first."""
        return list(self.memories[memory_id].events[(actor_id, session_id)])

    def calls(self, operation: str) -> list[dict[str, Any]]:
        """Parameters (body and URI labels) of every request of ``operation``."""
        return [params for name, params in self.requests if name == operation]

    # --- HTTP -------------------------------------------------------------------------------

    def _handle(self, request: Any, event_name: str, **_: Any) -> AWSResponse:
        operation = event_name.rsplit(".", 1)[-1]
        path = [unquote(part) for part in urlsplit(request.url).path.split("/") if part]
        body = request.body or b"{}"
        params: dict[str, Any] = json.loads(body.decode() if isinstance(body, bytes) else body)
        labels = {"memoryId": path[1]}
        if operation == "ListEvents":
            labels.update(actorId=path[3], sessionId=path[5])
        params.update(labels)
        self.requests.append((operation, params))
        if self._failures[operation]:
            status, code, message = self._failures[operation].popleft()
            return self._error(request.url, status, code, message)
        invalid = self._invalid(self._model.operation_model(operation).input_shape, params, "")
        if invalid:
            return self._error(request.url, 400, "ValidationException", invalid)
        memory = self.memories.get(params["memoryId"])
        if memory is None:
            message = f"Memory {params['memoryId']} not found"
            return self._error(request.url, 404, "ResourceNotFoundException", message)
        handler = getattr(self, f"_{operation}", None)
        if handler is None:
            raise NotImplementedError(f"FakeAgentCore does not implement {operation}")
        status, payload = handler(memory, params)
        return self._response(request.url, status, payload)

    def _invalid(self, shape: Any, value: Any, path: str) -> str | None:
        """The first constraint ``value`` breaks (``max``, ``pattern``), as the service words it."""
        limit = shape.metadata.get("max")
        problem = None
        if shape.type_name == "structure" and isinstance(value, dict):
            if shape.metadata.get("document"):
                return None
            for name, member in shape.members.items():
                if name in value:
                    found = self._invalid(member, value[name], f"{path}.{name}".lstrip("."))
                    if found:
                        return found
        elif shape.type_name == "list" and isinstance(value, list):
            if limit is not None and len(value) > limit:
                problem = f"Member must have length less than or equal to {limit}"
            for index, item in enumerate(value):
                found = self._invalid(shape.member, item, f"{path}.{index + 1}")
                if found:
                    return found
        elif shape.type_name == "map" and isinstance(value, dict):
            if limit is not None and len(value) > limit:
                problem = f"Member must have length less than or equal to {limit}"
            for key, item in value.items():
                found = self._invalid(shape.key, key, f"{path}.key") or self._invalid(
                    shape.value, item, f"{path}.{key}"
                )
                if found:
                    return found
        elif shape.type_name == "string" and isinstance(value, str):
            pattern = shape.metadata.get("pattern")
            if limit is not None and len(value) > limit:
                problem = f"Member must have length less than or equal to {limit}"
            elif pattern is not None and not re.fullmatch(pattern, value):
                problem = f"Member must satisfy regular expression pattern: {pattern}"
        if problem is None:
            return None
        return (
            f"1 validation error detected: Value at '{path}' failed to satisfy constraint:"
            f" {problem}"
        )

    @staticmethod
    def _response(url: str, status: int, payload: dict[str, Any]) -> AWSResponse:
        headers = {"content-type": "application/json", "x-amzn-requestid": "fake"}
        return AWSResponse(url, status, headers, _Raw(json.dumps(payload).encode()))

    @staticmethod
    def _error(url: str, status: int, code: str, message: str) -> AWSResponse:
        headers = {"content-type": "application/json", "x-amzn-errortype": code}
        body = {"message": message}
        if code == "ValidationException":
            body["reason"] = "FieldValidationFailed"
        return AWSResponse(url, status, headers, _Raw(json.dumps(body).encode()))

    # --- operations -------------------------------------------------------------------------

    def _CreateEvent(self, memory: _Memory, params: dict[str, Any]) -> tuple[int, Any]:
        token = params.get("clientToken")
        if token and token in memory.tokens:
            return 201, {"event": memory.tokens[token]}
        stamp = _timestamp(params["eventTimestamp"])
        event: dict[str, Any] = {
            "memoryId": params["memoryId"],
            "actorId": params["actorId"],
            "sessionId": params["sessionId"],
            "eventId": f"{int(stamp * 1000):013d}#{next(self._ids):08x}",
            "eventTimestamp": stamp,
            "payload": params["payload"],
        }
        for optional in ("branch", "metadata"):
            if optional in params:
                event[optional] = params[optional]
        memory.events[(params["actorId"], params["sessionId"])].append(event)
        if token:
            memory.tokens[token] = event
        return 201, {"event": event}

    def _ListEvents(self, memory: _Memory, params: dict[str, Any]) -> tuple[int, Any]:
        stored = memory.events.get((params["actorId"], params["sessionId"]), [])
        newest_first = [
            event
            for _, event in sorted(
                enumerate(stored),
                key=lambda pair: (pair[1]["eventTimestamp"], pair[0]),
                reverse=True,
            )
        ]
        start = int(params.get("nextToken") or 0)
        end = start + int(params.get("maxResults") or 20)
        filters = (params.get("filter") or {}).get("eventMetadata") or []
        page = [dict(e) for e in newest_first[start:end] if self._matches(e, filters)]
        if params.get("includePayloads") is False:
            for event in page:
                event.pop("payload", None)
        result: dict[str, Any] = {"events": page}
        if end < len(newest_first):
            result["nextToken"] = str(end)
        return 200, result

    @staticmethod
    def _matches(event: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
        metadata = event.get("metadata") or {}
        for expression in filters:
            key = expression["left"]["metadataKey"]
            operator = expression["operator"]
            if operator == "EXISTS" and key not in metadata:
                return False
            if operator == "NOT_EXISTS" and key in metadata:
                return False
            if operator == "EQUALS_TO":
                wanted = expression["right"]["metadataValue"]["stringValue"]
                if metadata.get(key, {}).get("stringValue") != wanted:
                    return False
        return True

    @staticmethod
    def _selected(memory: _Memory, params: dict[str, Any]) -> list[_Record]:
        if "namespace" in params:
            return [r for r in memory.records if r.namespace == params["namespace"]]
        path = params["namespacePath"]
        return [r for r in memory.records if r.namespace.startswith(path)]

    @staticmethod
    def _summary(record: _Record, score: float | None = None) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "memoryRecordId": record.record_id,
            "content": {"text": record.text},
            "memoryStrategyId": record.strategy_id,
            "namespaces": [record.namespace],
            "createdAt": record.created_at,
        }
        if score is not None:
            summary["score"] = score
        return summary

    def _RetrieveMemoryRecords(self, memory: _Memory, params: dict[str, Any]) -> tuple[int, Any]:
        criteria = params["searchCriteria"]
        query = _words(criteria["searchQuery"])
        scored = []
        for record in self._selected(memory, params):
            overlap = len(query & _words(record.text))
            if query and overlap:
                scored.append((overlap / len(query), record))
        scored.sort(key=lambda pair: (-pair[0], pair[1].record_id))
        limit = min(int(criteria.get("topK") or 10), int(params.get("maxResults") or 20))
        return 200, {"memoryRecordSummaries": [self._summary(r, s) for s, r in scored[:limit]]}

    def _ListMemoryRecords(self, memory: _Memory, params: dict[str, Any]) -> tuple[int, Any]:
        records = sorted(self._selected(memory, params), key=lambda r: -r.created_at)
        start = int(params.get("nextToken") or 0)
        end = start + int(params.get("maxResults") or 20)
        result: dict[str, Any] = {
            "memoryRecordSummaries": [self._summary(r) for r in records[start:end]]
        }
        if end < len(records):
            result["nextToken"] = str(end)
        return 200, result
