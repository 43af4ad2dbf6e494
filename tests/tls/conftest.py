"""Secured Temporal for real: nginx terminates TLS in front of the shared dev server.

Two proxies run for the whole session: one with server TLS and an API-key check (like
Temporal Cloud), one with mTLS. Each has a session worker that connects through it, and
two ways to reach it: a TOML profile (in-process clients) and ``TEMPORAL_*`` variables
(CLI subprocesses).
"""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from client import SessionClient
from models.settings import Settings
from tests.providers import TEST_PROVIDERS
from tests.tls.nginx import Proxy, nginx_binary, running_proxy
from tests.tls.pki import CertificateAuthority, Pem
from worker.client import connect_client
from worker.run import running_worker

API_KEY = "convoflow-test-api-key-0123456789"
SERVER_NAME = "temporal.convoflow.test"


@dataclass(frozen=True)
class Pki:
    """The test's certificates: a CA and what it issued, and a rogue CA with its own."""

    ca: Pem
    server: Pem
    client: Pem
    rogue_ca: Pem
    rogue_client: Pem


@dataclass(frozen=True)
class Cluster:
    """A secured endpoint: the proxy, a TOML profile for it, its variables and a worker."""

    name: str
    proxy: Proxy
    config_file: Path
    profile: str
    env: dict[str, str]
    settings: Settings
    sessions: SessionClient


def clean_environ(config_home: Path) -> dict[str, str]:
    """This process's environment without Temporal connection settings, and no TOML file
    (the default location moves to an empty ``config_home``)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TEMPORAL_")
        and key
        not in (
            "CONVOFLOW_TEMPORAL_ADDRESS",
            "CONVOFLOW_NAMESPACE",
            "CONVOFLOW_TEMPORAL_PROFILE",
            "CONVOFLOW_TEMPORAL_CONFIG_FILE",
        )
    }
    env["XDG_CONFIG_HOME"] = str(config_home)
    return env


@pytest.fixture(scope="session")
def nginx() -> str:
    """The nginx executable; without it the TLS tests skip."""
    binary = nginx_binary()
    if binary is None:
        pytest.skip(
            "nginx is not installed (scripts/system_deps.sh installs it): the TLS, mTLS and"
            " API-key tests need it as the TLS-terminating gRPC proxy"
        )
    return binary


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates generated for this run."""
    root = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(root / "ca")
    rogue = CertificateAuthority(root / "rogue", "Rogue CA")
    server = ca.issue(
        "server",
        SERVER_NAME,
        dns_names=(SERVER_NAME, "localhost"),
        ip_addresses=("127.0.0.1",),
    )
    return Pki(
        ca=ca.pem,
        server=server,
        client=ca.issue("client", "convoflow-worker", client=True),
        rogue_ca=rogue.pem,
        rogue_client=rogue.issue("client", "intruder", client=True),
    )


@pytest.fixture(scope="session")
def config_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty directory standing in for ``~/.config`` (no user ``temporal.toml``)."""
    return tmp_path_factory.mktemp("config-home")


@pytest.fixture(scope="session")
def api_key_proxy(
    nginx: str, pki: Pki, dev_address: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """nginx with server TLS that refuses requests without ``authorization: Bearer <key>``."""
    with running_proxy(
        tmp_path_factory.mktemp("nginx-api-key"), dev_address, pki.server, api_key=API_KEY
    ) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def mtls_proxy(
    nginx: str, pki: Pki, dev_address: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """nginx with ``ssl_verify_client on``: a client certificate from the CA is required."""
    with running_proxy(
        tmp_path_factory.mktemp("nginx-mtls"), dev_address, pki.server, client_ca=pki.ca.cert
    ) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def config_file(
    pki: Pki, api_key_proxy: Proxy, mtls_proxy: Proxy, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A ``temporal.toml`` with one profile per proxy, as the README shows."""
    path = tmp_path_factory.mktemp("profiles") / "temporal.toml"
    path.write_text(
        f"""\
[profile.cloud]
address = "{api_key_proxy.address}"
namespace = "default"
api_key = "{API_KEY}"

[profile.cloud.tls]
server_ca_cert_path = "{pki.ca.cert}"

[profile.mtls]
address = "{mtls_proxy.address}"
namespace = "default"

[profile.mtls.tls]
server_name = "{SERVER_NAME}"
server_ca_cert_path = "{pki.ca.cert}"
client_cert_path = "{pki.client.cert}"
client_key_path = "{pki.client.key}"
"""
    )
    return path


def profile_settings(
    config_file: Path, profile: str, data_dir: Path, task_queue: str | None = None
) -> Settings:
    """Settings that reach Temporal only through a TOML profile."""
    return Settings(
        temporal_config_file=config_file,
        temporal_profile=profile,
        task_queue=task_queue or f"tls-{uuid.uuid4().hex[:8]}",
        data_dir=data_dir,
        model="echo",
    )


@dataclass(frozen=True)
class _ClusterSpec:
    name: str
    profile: str
    proxy: Proxy
    variables: dict[str, str]


async def _cluster(
    spec: _ClusterSpec,
    config_file: Path,
    config_home: Path,
    data_dir: Path,
) -> AsyncIterator[Cluster]:
    settings = profile_settings(config_file, spec.profile, data_dir)
    client = await connect_client(settings, TEST_PROVIDERS)
    env = {
        **clean_environ(config_home),
        **spec.variables,
        "TEMPORAL_ADDRESS": spec.proxy.address,
        "CONVOFLOW_TASK_QUEUE": settings.connection.task_queue,
        "CONVOFLOW_DATA_DIR": str(data_dir),
        "CONVOFLOW_MODEL": "echo",
    }
    async with running_worker(client, settings, TEST_PROVIDERS):
        yield Cluster(
            name=spec.name,
            proxy=spec.proxy,
            config_file=config_file,
            profile=spec.profile,
            env=env,
            settings=settings,
            sessions=SessionClient(client, settings),
        )


@pytest.fixture(scope="session")
async def api_key_cluster(
    pki: Pki,
    api_key_proxy: Proxy,
    config_file: Path,
    config_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Cluster]:
    """The API-key proxy with a worker connected through it (profile ``cloud``)."""
    spec = _ClusterSpec(
        "api-key",
        "cloud",
        api_key_proxy,
        {"TEMPORAL_API_KEY": API_KEY, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.ca.cert)},
    )
    async for cluster in _cluster(
        spec, config_file, config_home, tmp_path_factory.mktemp("api-key")
    ):
        yield cluster


@pytest.fixture(scope="session")
async def mtls_cluster(
    pki: Pki,
    mtls_proxy: Proxy,
    config_file: Path,
    config_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Cluster]:
    """The mTLS proxy with a worker connected through it (profile ``mtls``)."""
    spec = _ClusterSpec(
        "mtls",
        "mtls",
        mtls_proxy,
        {
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.ca.cert),
            "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME,
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki.client.cert),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki.client.key),
        },
    )
    async for cluster in _cluster(spec, config_file, config_home, tmp_path_factory.mktemp("mtls")):
        yield cluster


@pytest.fixture(params=["api-key", "mtls"])
def cluster(request: pytest.FixtureRequest) -> Cluster:
    """Each secured cluster in turn."""
    name = "api_key_cluster" if request.param == "api-key" else "mtls_cluster"
    found: Cluster = request.getfixturevalue(name)
    return found
