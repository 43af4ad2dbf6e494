"""Building what a client sends: the message (checked as the session would check it) and
the workflow input and search attributes of a session it may open."""

import uuid
from typing import Any

from pydantic import ValidationError
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from client.errors import MessageRejectedError
from models import ChatMessage, Refusal, SessionConfig, SessionInput, validate_id
from models import search_attributes as sa
from models.settings import Settings
from workflows.inbound import InvalidMessageError, describe_validation_error, parse_inbound


def new_message_id() -> str:
    """A fresh idempotency key for a message."""
    return uuid.uuid4().hex


def build_message(
    session_id: str,
    text: str,
    user_id: str | None,
    message_id: str | None,
    metadata: dict[str, Any] | None,
    config: SessionConfig | None,
    *,
    stream: bool,
) -> ChatMessage:
    """Build the message and check it as the session would, before anything is sent.

    The limits are those of ``config`` (the config a new session would start with).
    """
    try:
        message = ChatMessage(
            message_id=message_id or new_message_id(),
            message=text,
            user_id=user_id,
            metadata=metadata,
            stream=stream,
        )
        # The caller checks its own message: as far as it knows, it is the owner.
        parse_inbound(message, config or SessionConfig(), session_id, user_id)
    except ValidationError as err:
        raise MessageRejectedError(
            describe_validation_error(err), Refusal.INVALID_MESSAGE
        ) from None
    except InvalidMessageError as err:
        raise MessageRejectedError(str(err), Refusal.INVALID_MESSAGE) from None
    return message


def session_input(
    settings: Settings,
    session_id: str,
    tenant_id: str,
    user_id: str | None,
    config: SessionConfig | None,
    initial_context: dict[str, Any] | None,
) -> SessionInput:
    """The workflow input of a new session (settings fill in what ``config`` leaves unset)."""
    # The model only when this client was told one (CONVOFLOW_MODEL, --model): otherwise
    # the worker decides, never whatever this process happens to default to.
    providers = settings.providers
    defaults: dict[str, Any] = {"search_attributes": settings.worker.search_attributes}
    for name in ("model", "agent"):
        if name in providers.model_fields_set:
            defaults[name] = getattr(providers, name)
    given = config or SessionConfig()
    unset = {name: value for name, value in defaults.items() if name not in given.model_fields_set}
    config = given.model_copy(update=unset)
    return SessionInput(
        session_id=validate_id("session id", session_id),
        tenant_id=validate_id("tenant id", tenant_id),
        user_id=validate_id("user id", user_id) if user_id is not None else None,
        config=config,
        initial_context=initial_context,
    )


def search_attributes_for(
    settings: Settings, tenant_id: str, user_id: str | None
) -> TypedSearchAttributes:
    """The search attributes a new session starts with."""
    if not settings.worker.search_attributes:
        return TypedSearchAttributes.empty
    pairs: list[SearchAttributePair[str]] = [
        SearchAttributePair(sa.TENANT, tenant_id),
        SearchAttributePair(sa.STATUS, "active"),
    ]
    if user_id is not None:
        pairs.append(SearchAttributePair(sa.USER, user_id))
    return TypedSearchAttributes(pairs)
