"""The production memory store: Amazon Bedrock AgentCore Memory (``CONVOFLOW_MEMORY=agentcore``).

Built on the ``bedrock-agentcore`` SDK's :class:`MemorySessionManager`. What goes where:

**Ids.** AgentCore addresses short-term memory by ``(actorId, sessionId)`` inside one memory
resource, and long-term memory by namespaces built from ``{actorId}`` (and ``{sessionId}``).
Our ids (``[A-Za-z0-9._-]{1,128}``) do not fit the API's patterns (no ``.``, must start with a
letter or digit, ``sessionId`` at most 100 characters), so they are mapped, injectively:

=====================  ==============================================  =======================
ours                   AgentCore                                       example
=====================  ==============================================  =======================
tenant + user          ``actorId = t-<tenant>:u-<user>``               ``t-acme:u-alice``
tenant, no user        ``actorId = t-<tenant>:anonymous``              ``t-acme:anonymous``
session                ``sessionId = s-<session>``                     ``s-chat_d1`` (chat.1)
=====================  ==============================================  =======================

``<x>`` is the id with ``_`` written ``_u`` and ``.`` written ``_d`` (``-``, letters and digits
unchanged), so distinct ids never meet; an escaped id longer than 120 characters (98 for a
session) becomes ``_h`` + 40 hex digits of its SHA-256 (``_h`` never comes out of the
escaping). Every actor carries its tenant, and so does every namespace built from it: tenants
never share events or long-term records. A session's events live under the actor of its
``SessionRef.user_id``, so reads must name the same user the writes named.

**Messages** (``record_messages``) become events written with ``add_turns``: a user message
and the reply that follows it (``reply_to`` = its id) share one event; any other message
(system, error, a lone reply) gets its own. An event's payload is a ``conversational`` item
per non-empty user/assistant text (what AgentCore's strategies extract long-term memories
from) plus one ``blob`` holding the rest of each :class:`ChatMessage` as JSON (system and
error texts live only there, so they are never extracted), which rebuilds the messages
exactly. Its metadata (at most 15 keys; values ``[a-zA-Z0-9\\s._:/=+@-]{0,256}``) is::

    convoflow.kind   messages | summary
    convoflow.event  64 hex digits: SHA-256 of memory, actor, session and the event's message ids
    message.N.id / message.N.seq / message.N.role   for N = 0, 1 (the event's messages)
    reply_to         the user message id the event answers, when the event holds a reply

**Idempotency.** Temporal retries activities, so a write may be repeated, also after a partial
failure. Two guards:

1. Before writing, the store reads the metadata of the newest message events (one ListEvents
   call per 100 messages being written; the service lists newest first) and drops messages
   whose id is already there. A retry therefore writes only what the failed attempt did not,
   and the returned count is exact, as with SQLite.
2. ``convoflow.event`` is sent as CreateEvent's ``clientToken``: AgentCore ignores a repeated
   token, which covers two attempts racing each other (an attempt that timed out while its
   request was still in flight). ``add_turns`` takes no token, so a ``provide-client-params``
   hook on the SDK's botocore client copies it from the metadata.

Reads drop repeated message ids as well, for anything that slips past both.

**Reads.** ListEvents is paged by hand (``maxResults=100``, ``nextToken``): its
``maxResults`` bounds the events *scanned* per call and metadata filters apply afterwards, so
a filtered page can be empty and still have a next page; the SDK's ``list_events`` stops at
an empty page and ``get_last_k_turns`` drops our metadata, so neither is used. Ordering comes
from ``seq``, never from the service. ``recent_messages`` and ``list_messages`` read the
whole session (one call per 100 events); ``find_reply`` filters on ``reply_to`` and stops at
the first page holding the reply.

**Archive.** ``archive_session`` writes a blob-only event (``convoflow.kind=summary``, so
nothing is extracted from it) holding the :class:`SessionSummary`; ``session_summary``
returns the newest such event's summary, so a later archive replaces an earlier one.

**Long-term memory** is AgentCore's: its strategies extract facts, preferences and session
summaries from the conversational payloads into namespaces configured on the memory
resource. :meth:`AgentCoreMemoryStore.save_memories` therefore stores nothing and returns 0:
BatchCreateMemoryRecords exists, but records written beside the strategies' own would
duplicate them, and it cannot be made idempotent by our ``record_id`` (the service assigns
record ids). Search and list go through ``search_long_term_memories`` and
``list_long_term_memory_records`` with ``namespace=`` (exact) or, for templates with
``{sessionId}`` (all sessions of an actor), ``namespace_path=`` up to that placeholder; the
deprecated ``namespace_prefix`` is never used. Default templates: ``/facts/{actorId}/``,
``/preferences/{actorId}/``, ``/summaries/{actorId}/{sessionId}/``.

**Errors.** Botocore's own retries are off (``total_max_attempts=1``): Temporal retries the
activity. Missing memory, access denied and invalid input raise
:class:`MemoryRejectedError` (non-retryable); throttling, quota, 5xx and network failures
raise :class:`MemoryUnavailableError` (retryable). Both are Temporal ``ApplicationError``\\s
whose message names the memory id, region and operation. Every boto call runs in a thread.
"""

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import boto3  # type: ignore[import-untyped, unused-ignore]
from bedrock_agentcore.memory.constants import BlobMessage, ConversationalMessage, MessageRole
from bedrock_agentcore.memory.models import StringValue
from bedrock_agentcore.memory.session import MemorySessionManager
from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]
from botocore.exceptions import (  # type: ignore[import-untyped, unused-ignore]
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from temporalio.exceptions import ApplicationError

from activities.memory.store import MemoryStore
from models import ChatMessage, SessionRef, SessionSummary
from models.ids import validate_id
from models.memory import ActorRef, MemoryKind, MemoryRecord
from models.settings import Settings

T = TypeVar("T")

DEFAULT_NAMESPACES: Final[Mapping[MemoryKind, str]] = {
    "fact": "/facts/{actorId}/",
    "preference": "/preferences/{actorId}/",
    "summary": "/summaries/{actorId}/{sessionId}/",
}

# Metadata keys of our events (see the module docstring).
KIND_KEY: Final = "convoflow.kind"
EVENT_KEY: Final = "convoflow.event"
REPLY_TO_KEY: Final = "reply_to"
KIND_MESSAGES: Final = "messages"
KIND_SUMMARY: Final = "summary"
BLOB_VERSION: Final = 1

PAGE_SIZE: Final = 100  # ListEvents' maximum maxResults
MAX_QUERY_CHARS: Final = 10_000  # RetrieveMemoryRecords' searchQuery limit
LIST_SCAN_LIMIT: Final = 1_000  # long-term records read per namespace by list_memories

_MEMORY_ID = re.compile(
    r"(arn:(aws|aws-cn|aws-us-gov):bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:memory/)?"
    r"[a-zA-Z][a-zA-Z0-9-_]{0,99}-[a-zA-Z0-9]{10}"
)
_METADATA_VALUE = re.compile(r"[a-zA-Z0-9\s._:/=+@-]{0,256}")
_ACTOR_PART_MAX = 120  # two parts + "t-", ":u-" stay within actorId's 255 characters
_SESSION_PART_MAX = 98  # "s-" + part within sessionId's 100 characters
_HASHED = "_h"
_ROLES: Final[Mapping[str, MessageRole]] = {
    "user": MessageRole.USER,
    "assistant": MessageRole.ASSISTANT,
}
_NO_RETRIES: Final[Mapping[str, Any]] = {"total_max_attempts": 1, "mode": "standard"}


# --- errors ---------------------------------------------------------------------------------


class MemoryBackendError(ApplicationError):
    """A memory backend call failed; ``non_retryable`` tells Temporal whether to retry it."""

    def __init__(
        self, message: str, *, memory_id: str, operation: str, code: str, retryable: bool
    ) -> None:
        """Build the error; its Temporal ``type`` is the class name."""
        super().__init__(message, type=type(self).__name__, non_retryable=not retryable)
        self.memory_id = memory_id
        self.operation = operation
        self.code = code

    @property
    def retryable(self) -> bool:
        """Whether a later attempt may succeed."""
        return not self.non_retryable


class MemoryUnavailableError(MemoryBackendError):
    """A transient failure (throttling, quota, 5xx, network): the activity is retried."""

    def __init__(self, message: str, *, memory_id: str, operation: str, code: str) -> None:
        """Build a retryable error."""
        super().__init__(
            message, memory_id=memory_id, operation=operation, code=code, retryable=True
        )


class MemoryRejectedError(MemoryBackendError):
    """A request that cannot succeed as sent (no such memory, no access, invalid input)."""

    def __init__(self, message: str, *, memory_id: str, operation: str, code: str) -> None:
        """Build a non-retryable error."""
        super().__init__(
            message, memory_id=memory_id, operation=operation, code=code, retryable=False
        )


_RETRYABLE_CODES = frozenset(
    {
        "ThrottledException",  # AgentCore's name (HTTP 429)
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceQuotaExceededException",
        "ServiceException",
        "InternalServerException",
        "ServiceUnavailableException",
        "RetryableConflictException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_REJECTED_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "ValidationException",
        "InvalidInputException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
    }
)
_REJECTED_HINTS: Final[Mapping[str, str]] = {
    "ResourceNotFoundException": (
        "check CONVOFLOW_AGENTCORE_MEMORY_ID and CONVOFLOW_AGENTCORE_REGION"
    ),
    "AccessDeniedException": "check the worker's IAM permissions for bedrock-agentcore",
}


# --- id mapping -----------------------------------------------------------------------------


def _escape(value: str, limit: int) -> str:
    escaped = value.replace("_", "_u").replace(".", "_d")
    if len(escaped) <= limit:
        return escaped
    return _HASHED + hashlib.sha256(value.encode()).hexdigest()[:40]


def _unescape(value: str) -> str | None:
    if value.startswith(_HASHED):
        return None
    return re.sub(r"_([ud])", lambda m: "_" if m.group(1) == "u" else ".", value)


def agentcore_actor_id(tenant_id: str, user_id: str | None) -> str:
    """The AgentCore ``actorId`` of a user of a tenant (``t-<tenant>:u-<user>``).

    A session without a user belongs to its tenant's anonymous actor,
    ``t-<tenant>:anonymous``.
    """
    tenant = _escape(validate_id("tenant id", tenant_id), _ACTOR_PART_MAX)
    if user_id is None:
        return f"t-{tenant}:anonymous"
    return f"t-{tenant}:u-{_escape(validate_id('user id', user_id), _ACTOR_PART_MAX)}"


def agentcore_session_id(session_id: str) -> str:
    """The AgentCore ``sessionId`` of a session (``s-<session>``)."""
    return f"s-{_escape(validate_id('session id', session_id), _SESSION_PART_MAX)}"


def session_id_from_agentcore(value: str) -> str | None:
    """Our session id back from an AgentCore ``sessionId`` (``None`` if hashed or foreign)."""
    if not value.startswith("s-"):
        return None
    return _unescape(value[2:])


# --- events ---------------------------------------------------------------------------------


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _meta(value: str) -> StringValue:
    return {"stringValue": value}


def _equals(key: str, value: str) -> dict[str, Any]:
    return {
        "left": {"metadataKey": key},
        "operator": "EQUALS_TO",
        "right": {"metadataValue": {"stringValue": value}},
    }


def _fits_metadata(value: str) -> bool:
    return _METADATA_VALUE.fullmatch(value) is not None


def _seq(message: ChatMessage) -> int:
    assert message.seq is not None  # record_messages refuses messages without one
    return message.seq


def _message_id(message: ChatMessage) -> str:
    assert message.message_id is not None  # record_messages refuses messages without one
    return message.message_id


def _group_turns(messages: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """A user message and the reply right after it share an event; the rest go alone."""
    groups: list[list[ChatMessage]] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        following = messages[index + 1] if index + 1 < len(messages) else None
        if (
            following is not None
            and message.role == "user"
            and message.reply_to is None
            and following.reply_to == message.message_id
        ):
            groups.append([message, following])
            index += 2
        else:
            groups.append([message])
            index += 1
    return groups


@dataclass
class _Event:
    """One CreateEvent call: what ``add_turns`` gets, and the event's idempotency key."""

    key: str
    payload: list[ConversationalMessage | BlobMessage]
    metadata: dict[str, StringValue]
    timestamp: datetime


def _message_event(memory_id: str, actor: str, session: str, group: list[ChatMessage]) -> _Event:
    ids = [_message_id(message) for message in group]
    key = _digest(memory_id, actor, session, "messages", *ids)
    payload: list[ConversationalMessage | BlobMessage] = []
    entries: list[dict[str, Any]] = []
    metadata: dict[str, StringValue] = {KIND_KEY: _meta(KIND_MESSAGES), EVENT_KEY: _meta(key)}
    for position, message in enumerate(group):
        entry = message.model_dump(mode="json", exclude_none=True)
        role = _ROLES.get(message.role)
        if role is not None and message.message:
            payload.append(ConversationalMessage(message.message, role))
            del entry["message"]  # the conversational item carries the text
        entries.append(entry)
        metadata[f"message.{position}.id"] = _meta(ids[position])
        metadata[f"message.{position}.seq"] = _meta(str(_seq(message)))
        metadata[f"message.{position}.role"] = _meta(message.role)
        if message.reply_to is not None and _fits_metadata(message.reply_to):
            metadata[REPLY_TO_KEY] = _meta(message.reply_to)
    blob = {"convoflow": BLOB_VERSION, "messages": entries}
    payload.append(BlobMessage(json.dumps(blob, separators=(",", ":"), ensure_ascii=False)))
    timestamp = group[0].timestamp or datetime.now(UTC)
    return _Event(key=key, payload=payload, metadata=metadata, timestamp=timestamp)


def _blob(event: Mapping[str, Any]) -> dict[str, Any] | None:
    for item in event.get("payload") or []:
        if "blob" in item:
            data = item["blob"]
            try:
                document = json.loads(data) if isinstance(data, str) else data
            except ValueError:
                return None
            if isinstance(document, dict) and document.get("convoflow") == BLOB_VERSION:
                return document
    return None


def _decode_messages(event: Mapping[str, Any]) -> list[ChatMessage]:
    """The messages of one of our message events (none for anything else)."""
    document = _blob(event)
    if document is None or "messages" not in document:
        return []
    texts = iter(
        item["conversational"]["content"].get("text", "")
        for item in event.get("payload") or []
        if "conversational" in item
    )
    messages = []
    for entry in document["messages"]:
        data = dict(entry)
        if "message" not in data:
            data["message"] = next(texts, "")
        messages.append(ChatMessage.model_validate(data))
    return messages


def _decode_summary(event: Mapping[str, Any]) -> SessionSummary | None:
    document = _blob(event)
    if document is None or "summary" not in document:
        return None
    return SessionSummary.model_validate(document["summary"])


def _inject_client_token(params: dict[str, Any], **_: Any) -> None:
    """``provide-client-params`` hook: our event key becomes CreateEvent's ``clientToken``."""
    key = (params.get("metadata") or {}).get(EVENT_KEY, {}).get("stringValue")
    if key and "clientToken" not in params:
        params["clientToken"] = key


# --- long-term memory -----------------------------------------------------------------------


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


class AgentCoreMemoryStore(MemoryStore):
    """Memory store on an AgentCore Memory resource (see the module docstring for the mapping).

    ``boto3_session`` supplies credentials (default: the standard chain); ``client_config``
    is merged into the client's config, except retries, which stay off. ``namespaces`` maps
    each memory kind to the namespace template of the strategy producing it; templates may
    use ``{actorId}`` and ``{sessionId}``.
    """

    def __init__(
        self,
        memory_id: str,
        *,
        region_name: str | None = None,
        boto3_session: boto3.Session | None = None,
        namespaces: Mapping[MemoryKind, str] | None = None,
        client_config: Config | None = None,
    ) -> None:
        """Build the SDK session manager (and its botocore client) for ``memory_id``."""
        if not _MEMORY_ID.fullmatch(memory_id):
            raise ValueError(
                f"invalid AgentCore memory id {memory_id!r}: expected a memory id such as"
                " 'convoflow-AbCdEf1234' or its ARN"
            )
        self.memory_id = memory_id
        self.namespaces: dict[MemoryKind, str] = {**DEFAULT_NAMESPACES, **(namespaces or {})}
        for kind, template in self.namespaces.items():
            if "{actorId}" not in template:
                raise ValueError(f"namespace template for {kind!r} must contain {{actorId}}")
        config = Config(connect_timeout=5, read_timeout=20)
        if client_config is not None:
            config = config.merge(client_config)
        config = config.merge(Config(retries=dict(_NO_RETRIES)))
        self._manager = MemorySessionManager(
            memory_id,
            region_name=region_name,
            boto3_session=boto3_session,
            boto_client_config=config,
        )
        self.region = self._manager.region_name
        self._client.meta.events.register(
            "provide-client-params.bedrock-agentcore.CreateEvent",
            _inject_client_token,
            unique_id="convoflow-client-token",
        )

    @property
    def manager(self) -> MemorySessionManager:
        """The SDK session manager this store writes and searches through."""
        return self._manager

    @property
    def client(self) -> Any:
        """The botocore ``bedrock-agentcore`` client the SDK built (for ListEvents and tests).

        The SDK has no public accessor for it; ``_data_plane_client`` is where 1.x keeps it.
        """
        return self._client

    @property
    def _client(self) -> Any:
        return self._manager._data_plane_client

    # --- plumbing ---------------------------------------------------------------------------

    async def _call(self, action: str, fn: Callable[[], T]) -> T:
        """Run blocking SDK/boto work in a thread, mapping AWS failures to our errors."""
        try:
            return await asyncio.to_thread(fn)
        except ClientError as err:
            raise self._client_error(action, err) from err
        except ParamValidationError as err:
            raise self._rejected(action, "ParamValidationError", str(err)) from err
        except (
            NoCredentialsError,
            PartialCredentialsError,
            CredentialRetrievalError,
            NoRegionError,
        ) as err:
            raise self._rejected(action, type(err).__name__, str(err)) from err
        except BotoCoreError as err:  # connection errors, timeouts, truncated reads
            raise MemoryUnavailableError(
                self._describe(action, type(err).__name__, str(err)),
                memory_id=self.memory_id,
                operation=action,
                code=type(err).__name__,
            ) from err

    def _describe(self, operation: str, code: str, detail: str) -> str:
        return (
            f"AgentCore memory {self.memory_id!r} ({self.region}): {operation} failed:"
            f" {code}: {detail}"
        )

    def _rejected(self, operation: str, code: str, detail: str) -> MemoryRejectedError:
        message = self._describe(operation, code, detail)
        if code in _REJECTED_HINTS:
            message += f" ({_REJECTED_HINTS[code]})"
        return MemoryRejectedError(
            message, memory_id=self.memory_id, operation=operation, code=code
        )

    def _client_error(self, action: str, err: Any) -> MemoryBackendError:
        error = err.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        detail = str(error.get("Message") or err)
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        operation = str(getattr(err, "operation_name", None) or action)
        if code in _REJECTED_CODES:
            retryable = False
        elif code in _RETRYABLE_CODES:
            retryable = True
        else:  # unknown codes: server faults and throttling retry, other client errors do not
            retryable = status is None or status >= 500 or status == 429
        if not retryable:
            return self._rejected(operation, code, detail)
        return MemoryUnavailableError(
            self._describe(operation, code, detail),
            memory_id=self.memory_id,
            operation=operation,
            code=code,
        )

    def address(self, session: SessionRef) -> tuple[str, str]:
        """``(actorId, sessionId)`` of a session's events."""
        return (
            agentcore_actor_id(session.tenant_id, session.user_id),
            agentcore_session_id(session.session_id),
        )

    def _pages(
        self,
        actor: str,
        session: str,
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
                "actorId": actor,
                "sessionId": session,
                "maxResults": PAGE_SIZE,
                "includePayloads": payloads,
            }
            if filters:
                params["filter"] = {"eventMetadata": filters}
            if token:
                params["nextToken"] = token
            response = self._client.list_events(**params)
            yield list(response.get("events") or [])
            pages += 1
            token = response.get("nextToken")
            if not token or (max_pages is not None and pages >= max_pages):
                return

    def _recent_ids(self, actor: str, session: str, *, max_pages: int) -> set[str]:
        """Message ids in the newest ``max_pages`` pages of message events (metadata only)."""
        found: set[str] = set()
        filters = [_equals(KIND_KEY, KIND_MESSAGES)]
        for page in self._pages(
            actor, session, filters=filters, payloads=False, max_pages=max_pages
        ):
            for event in page:
                metadata = event.get("metadata") or {}
                for position in range(2):
                    value = metadata.get(f"message.{position}.id", {}).get("stringValue")
                    if value:
                        found.add(value)
        return found

    def _event_written(self, actor: str, session: str, key: str) -> bool:
        """Whether the newest page holds the event with idempotency key ``key``."""
        filters = [_equals(EVENT_KEY, key)]
        pages = self._pages(actor, session, filters=filters, payloads=False, max_pages=1)
        return any(page for page in pages)

    def _write(self, actor: str, session: str, event: _Event) -> None:
        self._manager.add_turns(
            actor,
            session,
            event.payload,
            metadata=event.metadata,
            event_timestamp=event.timestamp,
        )

    def _all_messages(self, actor: str, session: str) -> list[ChatMessage]:
        by_id: dict[str, ChatMessage] = {}
        for page in self._pages(actor, session, filters=[_equals(KIND_KEY, KIND_MESSAGES)]):
            for event in page:
                for message in _decode_messages(event):
                    by_id.setdefault(_message_id(message), message)
        return sorted(by_id.values(), key=_seq)

    # --- conversation -----------------------------------------------------------------------

    async def record_messages(self, session: SessionRef, messages: list[ChatMessage]) -> int:
        """Write messages as turn events, skipping ids already written; count the new ones."""
        unique: dict[str, ChatMessage] = {}
        for message in messages:
            if message.message_id is None or message.seq is None:
                raise ValueError("only messages accepted by a session (id and seq set) are stored")
            unique.setdefault(message.message_id, message)
        if not unique:
            return 0
        actor, session_id = self.address(session)

        def write() -> int:
            stored = self._recent_ids(actor, session_id, max_pages=1 + len(unique) // PAGE_SIZE)
            fresh = [message for key, message in unique.items() if key not in stored]
            written = 0
            for group in _group_turns(fresh):
                self._write(
                    actor, session_id, _message_event(self.memory_id, actor, session_id, group)
                )
                written += len(group)
            return written

        return await self._call("record_messages", write)

    async def recent_messages(self, session: SessionRef, limit: int) -> list[ChatMessage]:
        """The last ``limit`` messages by ``seq``, oldest first (reads the whole session)."""
        actor, session_id = self.address(session)
        messages = await self._call(
            "recent_messages", lambda: self._all_messages(actor, session_id)
        )
        return messages[-limit:] if limit > 0 else []

    async def list_messages(
        self, session: SessionRef, *, after_seq: int = -1, limit: int = 100
    ) -> list[ChatMessage]:
        """Up to ``limit`` messages with ``seq > after_seq``, in ``seq`` order."""
        actor, session_id = self.address(session)
        messages = await self._call("list_messages", lambda: self._all_messages(actor, session_id))
        return [message for message in messages if _seq(message) > after_seq][:limit]

    async def find_reply(self, session: SessionRef, message_id: str) -> ChatMessage | None:
        """The message whose ``reply_to`` is ``message_id`` (filtered on ``reply_to``)."""
        actor, session_id = self.address(session)
        key, value = (
            (REPLY_TO_KEY, message_id) if _fits_metadata(message_id) else (KIND_KEY, KIND_MESSAGES)
        )

        def read() -> ChatMessage | None:
            for page in self._pages(actor, session_id, filters=[_equals(key, value)]):
                found = [
                    message
                    for event in page
                    for message in _decode_messages(event)
                    if message.reply_to == message_id
                ]
                if found:
                    return min(found, key=_seq)
            return None

        return await self._call("find_reply", read)

    async def archive_session(self, session: SessionRef, summary: SessionSummary) -> None:
        """Write the summary as a blob event (``convoflow.kind=summary``), once per summary."""
        actor, session_id = self.address(session)
        body = summary.model_dump(mode="json")
        key = _digest(
            self.memory_id, actor, session_id, "summary", json.dumps(body, sort_keys=True)
        )
        event = _Event(
            key=key,
            payload=[
                BlobMessage(
                    json.dumps({"convoflow": BLOB_VERSION, "summary": body}, separators=(",", ":"))
                )
            ],
            metadata={KIND_KEY: _meta(KIND_SUMMARY), EVENT_KEY: _meta(key)},
            timestamp=datetime.now(UTC),
        )

        def write() -> None:
            if not self._event_written(actor, session_id, key):
                self._write(actor, session_id, event)

        await self._call("archive_session", write)

    async def session_summary(self, session: SessionRef) -> SessionSummary | None:
        """The newest archived summary of the session, if any."""
        actor, session_id = self.address(session)

        def read() -> SessionSummary | None:
            best: tuple[datetime, SessionSummary] | None = None
            for page in self._pages(actor, session_id, filters=[_equals(KIND_KEY, KIND_SUMMARY)]):
                for event in page:
                    summary = _decode_summary(event)
                    stamp = event.get("eventTimestamp")
                    if summary is None or not isinstance(stamp, datetime):
                        continue
                    if best is None or stamp > best[0]:
                        best = (stamp, summary)
            return None if best is None else best[1]

        return await self._call("session_summary", read)

    # --- long-term memory -------------------------------------------------------------------

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

    async def save_memories(self, actor: ActorRef, records: list[MemoryRecord]) -> int:
        """Store nothing: AgentCore's strategies extract long-term memories themselves."""
        return 0

    async def search_memories(
        self, actor: ActorRef, query: str, *, top_k: int = 5, namespaces: list[str] | None = None
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

    async def list_memories(
        self, actor: ActorRef, *, namespace: str | None = None, limit: int = 100
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

    async def close(self) -> None:
        """Close the client's connection pool."""
        await asyncio.to_thread(self._client.close)


def open_agentcore_store(settings: Settings) -> AgentCoreMemoryStore:
    """The AgentCore store the settings describe (``CONVOFLOW_AGENTCORE_*``)."""
    if not settings.memory.agentcore_memory_id:
        raise ValueError(
            "the agentcore memory backend needs a memory id: set CONVOFLOW_AGENTCORE_MEMORY_ID"
            " (and CONVOFLOW_AGENTCORE_REGION, default us-east-1)"
        )
    return AgentCoreMemoryStore(
        settings.memory.agentcore_memory_id,
        region_name=settings.memory.agentcore_region,
        namespaces=settings.memory.agentcore_namespaces,
    )
