"""The worker's Prometheus endpoint: Temporal SDK metrics plus Convoflow's own, after turns."""

import re
import socket
from pathlib import Path

import httpx
import pytest

from client import SessionClient, TurnFailedError
from models import SessionConfig
from tests.conftest import make_settings
from tests.helpers import eventually, new_session_id
from tests.providers import TEST_PROVIDERS
from worker.client import connect_client
from worker.run import running_worker


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of every sample of metric ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(match.group(2))
    return total


async def test_worker_serves_sdk_and_convoflow_metrics(dev_address: str, tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(dev_address, tmp_path, metrics_port=port)
    client = await connect_client(settings, TEST_PROVIDERS, metrics=True)
    sessions = SessionClient(client, settings)
    async with running_worker(client, settings, TEST_PROVIDERS):
        await sessions.send(new_session_id("metrics"), "count these words please")
        failing = SessionConfig(model="failing", model_max_attempts=1)
        with pytest.raises(TurnFailedError):
            await sessions.send(new_session_id("metrics"), "please fail", config=failing)

        async def scrape() -> str:
            async with httpx.AsyncClient(trust_env=False) as http:
                return (await http.get(f"http://127.0.0.1:{port}/metrics")).text

        text = await eventually(scrape, lambda body: "convoflow_errors" in body)
    assert sample(text, "convoflow_turns", model="echo", outcome="ok") >= 1
    assert sample(text, "convoflow_turns", model="failing", outcome="failed") >= 1
    assert sample(text, "convoflow_errors", model="failing") >= 1
    assert sample(text, "convoflow_turn_latency_count", model="echo") >= 1
    assert sample(text, "convoflow_model_tokens", model="echo", direction="output") >= 1
    assert sample(text, "convoflow_model_tokens", model="echo", direction="input") >= 1
    # The SDK's own metrics come from the same endpoint.
    assert sample(text, "temporal_workflow_task_execution_latency_count") >= 1
    assert sample(text, "temporal_activity_execution_latency_count") >= 1
