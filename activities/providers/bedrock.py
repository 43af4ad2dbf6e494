"""The ``bedrock`` provider: Amazon Bedrock's Converse API through Strands' ``BedrockModel``.

Settings: ``CONVOFLOW_BEDROCK_MODEL_ID`` (a model or inference-profile id),
``CONVOFLOW_BEDROCK_REGION`` (default: the AWS configuration, then ``AWS_REGION``) and
``CONVOFLOW_BEDROCK_MAX_TOKENS``. Credentials come from the usual AWS chain on the worker.

Temporal owns retries: each model call is an activity retried with backoff by the session's
retry policy, so botocore must not retry inside an attempt (it would multiply attempts and hide
the time spent from Temporal). Terminal errors (bad request, no access, unknown model) are made
non-retryable by :mod:`activities.providers.errors`.
"""

from botocore.config import Config as BotocoreConfig  # type: ignore[import-untyped, unused-ignore]
from strands.models import BedrockModel, Model
from strands.models.bedrock import DEFAULT_READ_TIMEOUT

from activities.providers.errors import classified
from models.settings import Settings

PROVIDER = "Amazon Bedrock"

# Seconds to open a connection; a dead endpoint fails fast and Temporal retries.
CONNECT_TIMEOUT = 10.0
# Seconds to wait for the next bytes of a response (Strands' own default, 120 s): long enough
# for a large prompt's first token, short enough to fail inside the activity's timeout.
READ_TIMEOUT = float(DEFAULT_READ_TIMEOUT)


def bedrock_client_config() -> BotocoreConfig:
    """Botocore client settings: no retries (Temporal retries), bounded connect/read times."""
    return BotocoreConfig(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"mode": "standard", "max_attempts": 0},
        tcp_keepalive=True,
    )


def bedrock_model(settings: Settings) -> BedrockModel:
    """Strands' ``BedrockModel`` for ``settings`` (no error classification: see
    :func:`bedrock_provider`)."""
    return BedrockModel(
        model_id=settings.providers.bedrock_model_id,
        region_name=settings.providers.bedrock_region,
        max_tokens=settings.providers.bedrock_max_tokens,
        boto_client_config=bedrock_client_config(),
    )


def bedrock_provider(settings: Settings) -> Model:
    """The registered ``bedrock`` provider: :func:`bedrock_model` with terminal errors made
    non-retryable."""
    model = bedrock_model(settings)
    target = f"model {settings.providers.bedrock_model_id} in {model.client.meta.region_name}"
    return classified(model, provider=PROVIDER, target=target)
