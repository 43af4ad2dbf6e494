"""Running a session worker: workflow, model activities (via the plugin) and memory activities."""

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import timedelta
from typing import Any

from strands.tools.mcp import MCPClient
from temporalio.client import Client
from temporalio.strands_agents import StrandsPlugin
from temporalio.worker import Worker

from activities.memory import (
    MemoryActivities,
    MemoryStore,
    SqliteMemoryStore,
    open_agentcore_store,
)
from activities.memory.summary import SummaryActivities
from activities.providers import ProviderFactory, model_factories, provider_names
from agents import AgentRegistry, ToolContextInterceptor, load_agents, registry
from models.settings import Settings
from worker.deployment import deployment_version, worker_options
from worker.lifecycle import stop_signals
from workflows.session import SessionWorkflow

log = logging.getLogger("convoflow.worker")


def open_memory_store(settings: Settings) -> MemoryStore:
    """The memory backend chosen by ``settings.memory.backend``."""
    if settings.memory.backend == "agentcore":
        return open_agentcore_store(settings)
    return SqliteMemoryStore(settings.memory.memory_db_path)


class MCPServersPlugin(StrandsPlugin):
    """The agents' MCP servers on the worker: ``StrandsPlugin(mcp_clients=...)`` registers
    ``{server}-list-tools`` and ``{server}-call-tool`` for each (models come from the
    client's plugin, so this one registers none)."""

    def __init__(self, mcp_clients: dict[str, Callable[[], MCPClient]]) -> None:
        """Serve the MCP servers ``mcp_clients`` connects to."""
        super().__init__(models={}, mcp_clients=mcp_clients)


def load_worker_agents(settings: Settings, models: Collection[str] | None = None) -> AgentRegistry:
    """The process's agents with ``settings.worker.agents`` loaded, checked against the model
    providers ``models`` (raises :class:`AgentDefinitionError`, one line, if one is bad)."""
    load_agents(settings.worker.agent_modules)
    registry.check_providers(models if models is not None else provider_names())
    registry.set_default_model(settings.providers.model)
    return registry


def build_worker(
    client: Client,
    settings: Settings,
    store: MemoryStore,
    extra_providers: dict[str, ProviderFactory] | None = None,
    *,
    extra_workflows: Sequence[type] = (),
    extra_activities: Sequence[Callable[..., Any]] = (),
) -> Worker:
    """A worker for the session workflow and memory activities on the task queue.

    Model activities come from the Strands plugin on ``client``; memory extraction uses the
    same providers (plus ``extra_providers``). Every agent's tool activities and MCP servers
    are registered (agents from ``settings.worker.agents`` are loaded first; a bad definition raises
    :class:`agents.AgentDefinitionError`). Benchmarks add their floor workflow through
    ``extra_workflows``/``extra_activities``.
    """
    models = model_factories(settings, extra_providers)
    agents = load_worker_agents(settings, models)
    memory = MemoryActivities(store, models)
    mcp = agents.mcp_clients()
    summaries = SummaryActivities(store, models)
    return Worker(
        client,
        task_queue=settings.connection.task_queue,
        workflows=[SessionWorkflow, *extra_workflows],
        activities=[
            *memory.all(),
            *summaries.all(),
            *agents.tool_activities(),
            *extra_activities,
        ],
        interceptors=[ToolContextInterceptor(store)],
        plugins=[MCPServersPlugin(mcp)] if mcp else [],
        max_concurrent_workflow_tasks=settings.worker.max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.worker.max_concurrent_activities,
        max_cached_workflows=settings.worker.max_cached_workflows,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker.graceful_shutdown_seconds),
        # A heartbeat (and so a cancel) reaches the server within cancel_check_seconds; the
        # SDK's defaults (30-60 s) would let a cancelled model call run on that long.
        max_heartbeat_throttle_interval=heartbeat_throttle(settings, timedelta(seconds=60)),
        default_heartbeat_throttle_interval=heartbeat_throttle(settings, timedelta(seconds=30)),
        **worker_options(settings),
    )


def heartbeat_throttle(settings: Settings, default: timedelta) -> timedelta:
    """How often heartbeats go to the server: ``cancel_check_seconds`` (0: the SDK default)."""
    seconds = settings.providers.cancel_check_seconds
    return timedelta(seconds=seconds) if seconds > 0 else default


@contextlib.asynccontextmanager
async def running_worker(
    client: Client,
    settings: Settings,
    extra_providers: dict[str, ProviderFactory] | None = None,
) -> AsyncIterator[Worker]:
    """Run a worker (and its memory store) for the duration of the ``async with`` block."""
    store = open_memory_store(settings)
    worker = build_worker(client, settings, store, extra_providers)
    try:
        async with worker:
            yield worker
    finally:
        await store.close()


async def run_worker(client: Client, settings: Settings) -> None:
    """Run a worker until SIGINT/SIGTERM, then shut down gracefully."""
    async with stop_signals() as stop, running_worker(client, settings):
        log.info(
            "worker polling task queue %r on %s (namespace %s)",
            settings.connection.task_queue,
            settings.connection.temporal_address,
            settings.connection.namespace,
        )
        version = deployment_version(settings)
        if version is not None:
            log.info("deployment version %s (sessions pinned)", version.to_canonical_string())
        await stop.wait()
        log.info("shutting down: finishing in-flight tasks")
