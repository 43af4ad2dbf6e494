"""Our ids as AgentCore's ``actorId``/``sessionId`` (see the package docstring), and metadata.

Escaping is injective: ``_`` becomes ``_u`` and ``.`` becomes ``_d``; an escaped id over its
limit becomes ``_h`` + 40 hex digits of its SHA-256, which escaping never produces.
"""

import hashlib
import re
from typing import Any

from bedrock_agentcore.memory.models import StringValue

from activities.memory.agentcore._constants import (
    ACTOR_PART_MAX,
    HASHED,
    METADATA_VALUE,
    SESSION_PART_MAX,
)
from models.ids import validate_id


def _escape(value: str, limit: int) -> str:
    escaped = value.replace("_", "_u").replace(".", "_d")
    if len(escaped) <= limit:
        return escaped
    return HASHED + hashlib.sha256(value.encode()).hexdigest()[:40]


def _unescape(value: str) -> str | None:
    if value.startswith(HASHED):
        return None
    return re.sub(r"_([ud])", lambda m: "_" if m.group(1) == "u" else ".", value)


def agentcore_actor_id(tenant_id: str, user_id: str | None) -> str:
    """The AgentCore ``actorId`` of a user of a tenant (``t-<tenant>:u-<user>``).

    A session without a user belongs to its tenant's anonymous actor,
    ``t-<tenant>:anonymous``.
    """
    tenant = _escape(validate_id("tenant id", tenant_id), ACTOR_PART_MAX)
    if user_id is None:
        return f"t-{tenant}:anonymous"
    return f"t-{tenant}:u-{_escape(validate_id('user id', user_id), ACTOR_PART_MAX)}"


def agentcore_session_id(session_id: str) -> str:
    """The AgentCore ``sessionId`` of a session (``s-<session>``)."""
    return f"s-{_escape(validate_id('session id', session_id), SESSION_PART_MAX)}"


def session_id_from_agentcore(value: str) -> str | None:
    """Our session id back from an AgentCore ``sessionId`` (``None`` if hashed or foreign)."""
    if not value.startswith("s-"):
        return None
    return _unescape(value[2:])


# --- metadata and keys ----------------------------------------------------------------------


def digest(*parts: str) -> str:
    """SHA-256 (hex) of the parts joined by newlines: an event's idempotency key."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def meta(value: str) -> StringValue:
    """An event metadata value."""
    return {"stringValue": value}


def equals(key: str, value: str) -> dict[str, Any]:
    """A ListEvents metadata filter: ``key`` equals ``value``."""
    return {
        "left": {"metadataKey": key},
        "operator": "EQUALS_TO",
        "right": {"metadataValue": {"stringValue": value}},
    }


def fits_metadata(value: str) -> bool:
    """Whether ``value`` is a valid event metadata value."""
    return METADATA_VALUE.fullmatch(value) is not None
