"""Settings shared by the worker, the CLI and the Python client: env vars ``CONVOFLOW_*``."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where Temporal is, which model and memory to use, and worker tuning.

    Every field reads ``CONVOFLOW_<NAME>`` from the environment; CLI flags override them.
    """

    model_config = SettingsConfigDict(env_prefix="CONVOFLOW_", extra="ignore")

    temporal_address: str = Field("localhost:7233", description="Temporal frontend host:port")
    namespace: str = Field("default", description="Temporal namespace")
    task_queue: str = Field("convoflow", description="Task queue of the session workers")
    tenant: str = Field("default", description="Tenant of CLI session commands")
    user: str | None = Field(None, description="User of CLI session commands")
    model: str = Field("echo", description="Model provider for new sessions")
    memory: Literal["local", "agentcore"] = Field("local", description="Memory backend")
    data_dir: Path = Field(Path(".convoflow"), description="Embedded server and store files")
    echo_delay_ms: float = Field(0.0, ge=0, description="Pause before each echo token")
    search_attributes: bool = Field(True, description="Sessions upsert Convoflow* attributes")
    max_concurrent_workflow_tasks: int = Field(100, ge=1)
    max_concurrent_activities: int = Field(100, ge=1)
    max_cached_workflows: int = Field(1000, ge=0, description="Sticky cache size")
    graceful_shutdown_seconds: float = Field(10.0, ge=0)

    @property
    def memory_db_path(self) -> Path:
        """SQLite file of the embedded memory store."""
        return self.data_dir / "memory.db"
