"""The ``openai`` provider: any OpenAI-compatible chat-completions endpoint through Strands'
``OpenAIModel`` (OpenAI itself, vLLM, Ollama, a llama.cpp server, LiteLLM, ...).

Settings: ``CONVOFLOW_OPENAI_BASE_URL`` (e.g. ``http://localhost:8000/v1``; default: the
openai client's, i.e. ``OPENAI_BASE_URL`` or OpenAI), ``CONVOFLOW_OPENAI_API_KEY`` (default:
``OPENAI_API_KEY``; a local server that wants no key gets a placeholder),
``CONVOFLOW_OPENAI_MODEL_ID`` and ``CONVOFLOW_OPENAI_MAX_TOKENS``.

The openai client's own retries are off (Temporal retries the activity) and its timeouts are
bounded. The openai package is imported only when the provider is built: it takes ~0.4 s.
"""

import os
from typing import TYPE_CHECKING

from strands.models import Model
from temporalio.exceptions import ApplicationError

from activities.providers.errors import classified
from models.settings import Settings

if TYPE_CHECKING:
    from strands.models.openai import OpenAIModel

PROVIDER = "the OpenAI-compatible endpoint"

# Sent as the API key to a server at a custom base URL when no key is configured: local
# servers ignore it, but the openai client refuses to run without one.
PLACEHOLDER_API_KEY = "convoflow-no-key"

# Seconds to open a connection, and to wait for the next bytes of a response.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0


def _base_url(settings: Settings) -> str | None:
    return settings.providers.openai_base_url or os.environ.get("OPENAI_BASE_URL") or None


def openai_model(settings: Settings) -> "OpenAIModel":
    """Strands' ``OpenAIModel`` for ``settings`` (no error classification: see
    :func:`openai_provider`).

    Raises a non-retryable ``ApplicationError`` when no API key is configured for OpenAI
    itself (no base URL): every attempt would fail the same way.
    """
    import openai
    from strands.models.openai import OpenAIModel

    base_url = _base_url(settings)
    api_key = settings.providers.openai_api_key or os.environ.get("OPENAI_API_KEY") or None
    if api_key is None:
        if base_url is None:
            raise ApplicationError(
                "The openai provider has no API key: set CONVOFLOW_OPENAI_API_KEY or "
                "OPENAI_API_KEY, or CONVOFLOW_OPENAI_BASE_URL for a local server.",
                type="MissingAPIKey",
                non_retryable=True,
            )
        api_key = PLACEHOLDER_API_KEY
    return OpenAIModel(
        client_args={
            "api_key": api_key,
            "base_url": base_url,
            "max_retries": 0,
            "timeout": openai.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        },
        model_id=settings.providers.openai_model_id,
        params={"max_tokens": settings.providers.openai_max_tokens},
    )


def openai_provider(settings: Settings) -> Model:
    """The registered ``openai`` provider: :func:`openai_model` with terminal errors made
    non-retryable."""
    model = openai_model(settings)
    where = _base_url(settings) or "api.openai.com"
    return classified(
        model, provider=PROVIDER, target=f"model {settings.providers.openai_model_id} at {where}"
    )
