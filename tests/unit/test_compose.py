"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine): check that the
YAML parses and agrees with the code: services, ports, env names, search attributes."""

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from models import search_attributes as sa
from models.settings import ENV_PREFIX, FLAT_NAMES, GatewaySettings, Settings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "postgresql",
    "temporal",
    "temporal-ui",
    "register-search-attributes",
    "worker",
    "gateway",
}
OURS = ("worker", "gateway")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The parsed compose file (with its YAML anchors and merge keys resolved)."""
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def env_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict of strings."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {str(key): str(value) for key, value in environment.items()}


def published(service: dict[str, Any]) -> dict[int, int]:
    """Container port -> host port for ``HOST:CONTAINER`` mappings."""
    ports: dict[int, int] = {}
    for mapping in service.get("ports", []):
        host, container = str(mapping).rsplit(":", 1)
        ports[int(container)] = int(host.rsplit(":", 1)[-1])
    return ports


def test_services_volumes_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition["condition"] in (
                "service_healthy",
                "service_completed_successfully",
                "service_started",
            )
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], dependency
    for name in ("postgresql", "temporal", "worker", "gateway"):
        assert services[name]["healthcheck"]["test"], name
    assert services["register-search-attributes"]["restart"] == "no"

    declared = set(compose["volumes"])
    used = {
        str(mount).split(":", 1)[0]
        for service in services.values()
        for mount in service.get("volumes", [])
    }
    assert declared == {"postgres-data", "convoflow-data"}
    assert used == declared  # named volumes only, each one used


def test_our_services_use_only_real_settings(compose: dict[str, Any]) -> None:
    fields = set(FLAT_NAMES)
    prefix = ENV_PREFIX
    for name in OURS:
        service = compose["services"][name]
        assert service["build"] == "." and service["image"] == "convoflow:latest"
        assert service["command"][:2] == ["convoflow", name]
        for key in env_of(service):
            assert key.startswith(prefix), key
            assert key[len(prefix) :].lower() in fields, f"{name}: {key} is not a setting"
        env = Settings.model_validate(
            {
                key[len(prefix) :].lower(): value
                for key, value in env_of(service).items()
                if "${" not in value
            }
        )
        host, port = env.connection.temporal_address.rsplit(":", 1)
        assert host == "temporal" and int(port) in published(compose["services"]["temporal"])
        assert env.memory.data_dir == Path("/data")


def test_ports_match_settings(compose: dict[str, Any]) -> None:
    services = compose["services"]
    gateway = env_of(services["gateway"])
    assert gateway["CONVOFLOW_GATEWAY_HOST"] == "0.0.0.0"
    port = int(gateway["CONVOFLOW_GATEWAY_PORT"])
    # AgentCore contract: the runtime calls port 8080
    assert port == GatewaySettings.model_fields["gateway_port"].default == 8080
    assert published(services["gateway"]) == {port: port}
    assert "CONVOFLOW_JWT_SECRET" in gateway and ":?" in gateway["CONVOFLOW_JWT_SECRET"]
    assert f":{port}/ping" in " ".join(services["gateway"]["healthcheck"]["test"])

    worker = env_of(services["worker"])
    metrics = int(worker["CONVOFLOW_METRICS_PORT"])
    assert worker["CONVOFLOW_METRICS_HOST"] == "0.0.0.0"
    assert published(services["worker"]) == {metrics: metrics}
    assert f":{metrics}/metrics" in " ".join(services["worker"]["healthcheck"]["test"])

    assert published(services["temporal"]) == {7233: 7233}
    assert published(services["temporal-ui"]) == {8080: 8233}
    assert env_of(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"
    # Every published host port is distinct.
    hosts = [host for service in services.values() for host in published(service).values()]
    assert len(hosts) == len(set(hosts))


def test_setup_job_registers_exactly_our_search_attributes(compose: dict[str, Any]) -> None:
    script = "\n".join(compose["services"]["register-search-attributes"]["command"])
    pairs = dict(re.findall(r"(Convoflow\w+)=(\w+)", script))
    flags = sa.dev_server_flags()
    expected = dict(flag.split("=") for flag in flags[1::2])
    assert pairs == expected
    assert set(pairs) == {key.name for key in sa.ALL_KEYS}
    assert "search-attribute create" in script
    # $ is escaped for compose, so the shell (not compose) expands these.
    assert "$$NAMESPACE" in script and re.search(r"(?<!\$)\$NAMESPACE", script) is None


def test_temporal_uses_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    temporal = env_of(services["temporal"])
    postgres = env_of(services["postgresql"])
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert temporal["DB"] == "postgres12" and temporal["POSTGRES_SEEDS"] == "postgresql"
    assert temporal["POSTGRES_USER"] == postgres["POSTGRES_USER"]
    assert temporal["POSTGRES_PWD"] == postgres["POSTGRES_PASSWORD"]


def test_dockerfile_installs_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        name.rstrip("*") for name in project["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package
    assert "pip install ." in dockerfile
    assert re.search(r"^EXPOSE 8080 9464$", dockerfile, re.MULTILINE)
    assert 'CMD ["convoflow", "gateway"]' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".convoflow", ".git"} <= set(ignored)
    assert not set(packages) & set(ignored)
