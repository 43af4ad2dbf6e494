"""Shared fixtures: real Temporal servers (dev server and time-skipping), workers, clients."""

import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _pytest.terminal import TerminalReporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from agents import load_agents
from client import SessionClient
from models import search_attributes as sa
from models.settings import Settings
from tests.faults import figures
from tests.providers import TEST_PROVIDERS
from worker.client import client_plugins
from worker.run import running_worker

load_agents(["tests.agents"])  # before any worker is built: they register its tools

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"

_exit_status = 0

# Directories whose tests get a marker of the same name (`pytest -m faults`, `-m property`).
_MARKED_DIRECTORIES = {"tests/faults/": "faults", "tests/property/": "property"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the fault and property tests by directory."""
    for item in items:
        path = str(item.path).replace("\\", "/")
        for directory, marker in _MARKED_DIRECTORIES.items():
            if directory in path:
                item.add_marker(getattr(pytest.mark, marker))


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """Show the reliability figures (turns, kills, delays, examples) the suites measured."""
    lines = figures.summary_lines()
    if lines:
        terminalreporter.section("convoflow reliability figures")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remember the real exit status for the exit guard below."""
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Exit hard with the real status: the interpreter can abort at exit after Temporal work
    (temporalio/sdk-python#300), which would turn a green run red."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)


def make_settings(address: str, data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test worker/client on its own task queue."""
    values: dict[str, object] = {
        "temporal_address": address,
        "task_queue": f"tests-{uuid.uuid4().hex[:8]}",
        "data_dir": data_dir,
        "model": "echo",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (in memory) with our search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=sa.ALL_KEYS,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def dev_address(dev_env: WorkflowEnvironment) -> str:
    """host:port of the dev server."""
    return str(dev_env.client.service_client.config.target_host)


@pytest.fixture(scope="session")
async def dev_settings(dev_address: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the shared dev-server worker."""
    return make_settings(dev_address, tmp_path_factory.mktemp("convoflow-dev"))


@pytest.fixture(scope="session")
async def dev_client(dev_env: WorkflowEnvironment, dev_settings: Settings) -> Client:
    """A client of the dev server with our plugin (and the test providers)."""
    return await Client.connect(
        dev_settings.connection.temporal_address,
        plugins=client_plugins(dev_settings, TEST_PROVIDERS),
    )


@pytest.fixture(scope="session")
async def dev_worker(dev_client: Client, dev_settings: Settings) -> AsyncIterator[None]:
    """One session worker for all dev-server tests."""
    async with running_worker(dev_client, dev_settings, TEST_PROVIDERS):
        yield


@pytest.fixture(scope="session")
async def sessions(dev_client: Client, dev_settings: Settings, dev_worker: None) -> SessionClient:
    """A SessionClient against the dev server with a running worker."""
    return SessionClient(dev_client, dev_settings)


@pytest.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, for timers (a 24 h expiry takes milliseconds)."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def ts_settings(
    ts_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Settings for the time-skipping worker (no search attributes on that server)."""
    address = str(ts_env.client.service_client.config.target_host)
    return make_settings(address, tmp_path_factory.mktemp("convoflow-ts"), search_attributes=False)


@pytest.fixture(scope="session")
async def ts_client(ts_env: WorkflowEnvironment, ts_settings: Settings) -> Client:
    """The time-skipping env's client, with our plugin."""
    config = ts_env.client.config()
    config["plugins"] = client_plugins(ts_settings, TEST_PROVIDERS)
    return Client(**config)


@pytest.fixture(scope="session")
async def ts_sessions(ts_client: Client, ts_settings: Settings) -> AsyncIterator[SessionClient]:
    """A SessionClient on the time-skipping server with a running worker."""
    async with running_worker(ts_client, ts_settings, TEST_PROVIDERS):
        yield SessionClient(ts_client, ts_settings)
