"""Identifiers: validation of tenant/session/message ids and the workflow id built from them."""

import re

ID_MAX_LENGTH = 128
ID_PATTERN = r"^[A-Za-z0-9._-]{0,127}[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$"
"""1-128 characters from A-Z a-z 0-9 . _ - (with ``max_length``), at least one not a dot."""
AGENT_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""Agent and tool names (what Bedrock and OpenAI accept as tool names)."""
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
"""A tool's name as a session may name it (MCP servers' tools included)."""
_ID_RE = re.compile(ID_PATTERN)
WORKFLOW_ID_PREFIX = "convoflow"


class InvalidIdError(ValueError):
    """An id that does not match ``[A-Za-z0-9._-]{1,128}`` or is made of dots only."""


def validate_id(kind: str, value: str) -> str:
    """Return ``value`` if it is a valid id, else raise :class:`InvalidIdError` naming ``kind``.

    Ids of dots only (``.``, ``..``) are refused: in a URL path they mean "this" and "parent".
    """
    if not isinstance(value, str) or len(value) > ID_MAX_LENGTH or not _ID_RE.fullmatch(value):
        raise InvalidIdError(
            f"invalid {kind} {value!r}: use 1-128 characters from A-Z a-z 0-9 . _ -, not only dots"
        )
    return value


def session_workflow_id(tenant_id: str, session_id: str) -> str:
    """Workflow id of a session: ``convoflow:{tenant_id}:{session_id}``."""
    validate_id("tenant id", tenant_id)
    validate_id("session id", session_id)
    return f"{WORKFLOW_ID_PREFIX}:{tenant_id}:{session_id}"


def parse_session_workflow_id(workflow_id: str) -> tuple[str, str]:
    """Split a session workflow id into ``(tenant_id, session_id)``."""
    prefix, sep, rest = workflow_id.partition(":")
    tenant_id, sep2, session_id = rest.partition(":")
    if prefix != WORKFLOW_ID_PREFIX or not sep or not sep2:
        raise InvalidIdError(f"not a convoflow session workflow id: {workflow_id!r}")
    return validate_id("tenant id", tenant_id), validate_id("session id", session_id)
