"""The compose stack's one-shot search-attribute job, run for real against a fresh dev server
(the script is the compose file's own, with compose's ``$$`` escapes undone)."""

import asyncio
import os
from pathlib import Path

import yaml
from temporalio.testing import WorkflowEnvironment

from models import search_attributes as sa
from tests.conftest import TEMPORAL_CLI

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


async def run_script(script: str, address: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "NAMESPACE": "default",
        "PATH": f"{TEMPORAL_CLI.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    process = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        script,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_setup_job_registers_search_attributes_and_is_idempotent() -> None:
    service = yaml.safe_load(COMPOSE.read_text())["services"]["register-search-attributes"]
    assert service["entrypoint"] == ["/bin/sh", "-c"]
    script = service["command"][0].replace("$$", "$")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI), dev_server_log_level="error"
    )
    try:
        address = str(env.client.service_client.config.target_host)
        code, out = await run_script(script, address)
        assert code == 0, out
        code, out = await run_script(script, address)
        assert code == 0, out
        assert out.count("already registered") == len(sa.ALL_KEYS)
        process = await asyncio.create_subprocess_exec(
            str(TEMPORAL_CLI),
            "operator",
            "search-attribute",
            "list",
            "--address",
            address,
            stdout=asyncio.subprocess.PIPE,
        )
        listing, _ = await process.communicate()
        rows = dict(line.split()[:2] for line in listing.decode().splitlines()[1:] if line.strip())
        expected = dict(flag.split("=") for flag in sa.dev_server_flags()[1::2])
        assert {name: rows.get(name) for name in expected} == expected
    finally:
        await env.shutdown()
