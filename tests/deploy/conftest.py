"""A dev server with Worker Versioning turned up for tests (fast drainage reporting)."""

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from models import search_attributes as sa
from tests.conftest import TEMPORAL_CLI

# Drainage is recomputed every second instead of every 3 minutes, after a 5 s grace period
# (defaults: 3 min each), so "v1 drains" is observable in a test.
VERSIONING_FLAGS = [
    "--dynamic-config-value",
    "system.enableDeploymentVersions=true",
    "--dynamic-config-value",
    'matching.wv.VersionDrainageStatusVisibilityGracePeriod="5s"',
    "--dynamic-config-value",
    'matching.wv.VersionDrainageStatusRefreshInterval="1s"',
]


@pytest.fixture(scope="session")
async def versioned_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of its own (other tests' workers are unversioned) for deployments."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=sa.ALL_KEYS,
        dev_server_log_level="error",
        dev_server_extra_args=VERSIONING_FLAGS,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def versioned_address(versioned_env: WorkflowEnvironment) -> str:
    """host:port of the versioned dev server."""
    return str(versioned_env.client.service_client.config.target_host)
