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

**Tool results.** ``save_tool_result`` writes the whole result of one tool call as a blob-only
event (``convoflow.kind=tool_result``, so nothing is extracted from it) under the session's
actor, with ``convoflow.tool_call`` = SHA-256 of the call's message and tool-use ids (model-made
ids need not fit the metadata pattern); the event key covers the text, so a repeat writes
nothing and a different text (a retried call) a newer event. ``tool_result`` filters on
``convoflow.tool_call`` and returns the newest; another user's or tenant's read names another
actor and finds nothing.

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

**Modules.** ``_constants`` (keys, limits, defaults), ``_errors`` (the errors and the
classification of AWS failures), ``_ids`` (id mapping, metadata helpers), ``_events`` (events:
grouping, encoding, decoding), ``_session_events`` (ListEvents paging), ``_long_term``
(namespaces, search and list of records) and ``_store`` (the store itself); import from this
package, not from them.
"""

from activities.memory.agentcore._constants import (
    BLOB_VERSION,
    DEFAULT_NAMESPACES,
    EVENT_KEY,
    KIND_KEY,
    KIND_MESSAGES,
    KIND_SUMMARY,
    LIST_SCAN_LIMIT,
    MAX_QUERY_CHARS,
    PAGE_SIZE,
    REPLY_TO_KEY,
)
from activities.memory.agentcore._errors import (
    MemoryBackendError,
    MemoryRejectedError,
    MemoryUnavailableError,
)
from activities.memory.agentcore._ids import (
    agentcore_actor_id,
    agentcore_session_id,
    session_id_from_agentcore,
)
from activities.memory.agentcore._store import AgentCoreMemoryStore, open_agentcore_store

__all__ = [
    "BLOB_VERSION",
    "DEFAULT_NAMESPACES",
    "EVENT_KEY",
    "KIND_KEY",
    "KIND_MESSAGES",
    "KIND_SUMMARY",
    "LIST_SCAN_LIMIT",
    "MAX_QUERY_CHARS",
    "PAGE_SIZE",
    "REPLY_TO_KEY",
    "AgentCoreMemoryStore",
    "MemoryBackendError",
    "MemoryRejectedError",
    "MemoryUnavailableError",
    "agentcore_actor_id",
    "agentcore_session_id",
    "open_agentcore_store",
    "session_id_from_agentcore",
]
