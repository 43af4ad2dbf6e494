"""Every Convoflow process through TLS, mTLS and API-key checks, and each mistake as one line.

nginx (``tests/tls/nginx.py``) terminates TLS in front of the dev server; the worker,
``SessionClient``, the gateway and the ``convoflow`` CLI complete echo turns through it. A
wrong API key, a missing or foreign client certificate, an untrusted CA, a wrong server
name, an unreadable file or a key that does not fit each fail with one line that names the
setting, in process and on the CLI's stderr (exit code 1, no traceback).
"""

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from client import SessionClient
from gateway import build_gateway
from gateway.auth import make_token
from models.settings import Settings
from tests.conftest import BIN
from tests.helpers import new_session_id
from tests.tls.conftest import (
    API_KEY,
    SERVER_NAME,
    Cluster,
    Pki,
    clean_environ,
    profile_settings,
)
from tests.tls.nginx import Proxy
from worker.client import connect_client
from worker.connection import ConnectionConfigError
from worker.lifecycle import serving

GATEWAY_SECRET = "tls-gateway-secret-0123456789abcdef"
SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"


async def convoflow(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run the ``convoflow`` console script with exactly ``env``."""
    process = await asyncio.create_subprocess_exec(
        str(BIN / "convoflow"),
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def proxied_calls(proxy: Proxy) -> int:
    """How many gRPC calls nginx has passed on to the dev server so far."""
    if not proxy.access_log.exists():
        return 0
    return proxy.access_log.read_text().count("/temporal.api.workflowservice.v1.")


# ---------------------------------------------------------------- turns through the proxies


async def test_worker_and_session_client_through_the_proxy(cluster: Cluster) -> None:
    """The worker (fixture) and a SessionClient that connects itself, both by TOML profile."""
    before = proxied_calls(cluster.proxy)
    sessions = await SessionClient.connect(cluster.settings)
    session_id = new_session_id(cluster.name)
    reply = await sessions.send(session_id, "hello through TLS", tenant_id="acme", user_id="al")
    assert reply.reply == "echo: hello through TLS"
    history = await sessions.history(session_id, tenant_id="acme")
    assert [m.message for m in history] == [
        "hello through TLS",
        "echo: hello through TLS",
    ]
    assert proxied_calls(cluster.proxy) > before


async def test_cli_send_with_temporal_variables(cluster: Cluster) -> None:
    code, out, err = await convoflow(
        cluster.env, "send", "--session", new_session_id("cli"), "--json", "hi from the CLI"
    )
    assert code == 0, err
    assert '"reply": "echo: hi from the CLI"' in out or '"reply":"echo: hi from the CLI"' in out


async def test_cli_send_with_a_profile_setting(cluster: Cluster, config_home: Path) -> None:
    """``CONVOFLOW_TEMPORAL_PROFILE`` picks the profile; nothing else names the cluster."""
    env = {
        **clean_environ(config_home),
        "CONVOFLOW_TEMPORAL_CONFIG_FILE": str(cluster.config_file),
        "CONVOFLOW_TEMPORAL_PROFILE": cluster.profile,
        "CONVOFLOW_TASK_QUEUE": cluster.settings.connection.task_queue,
        "CONVOFLOW_DATA_DIR": str(cluster.settings.memory.data_dir),
        "CONVOFLOW_MODEL": "echo",
    }
    code, out, err = await convoflow(env, "send", "--session", new_session_id("prof"), "hello")
    assert code == 0, err
    assert out.strip() == "echo: hello"


async def test_gateway_connects_through_the_proxy(cluster: Cluster) -> None:
    """The gateway opens its own connection (lifespan) with the profile and serves a turn."""
    settings = cluster.settings.updated(jwt_secret=SecretStr(GATEWAY_SECRET))
    app = build_gateway(settings)
    token = make_token(GATEWAY_SECRET, user="alice", tenant="acme")
    session_id = new_session_id("gw")
    async with (
        serving(app, "127.0.0.1", 0) as url,
        httpx.AsyncClient(base_url=url, trust_env=False, timeout=60) as http,
    ):
        response = await http.post(
            "/invocations",
            json={"prompt": "hello gateway", "message_id": "m-1"},
            headers={"Authorization": f"Bearer {token}", SESSION_HEADER: session_id},
        )
    assert response.status_code == 200, response.text
    assert response.json()["reply"] == "echo: hello gateway"


async def test_convoflow_namespace_and_address_take_precedence(
    api_key_cluster: Cluster, dev_address: str
) -> None:
    """CONVOFLOW_TEMPORAL_ADDRESS beats the profile's address: here it points straight at
    the dev server, and the profile's TLS then fails there as plain gRPC would not."""
    settings = api_key_cluster.settings.updated(temporal_address=dev_address)
    with pytest.raises(ConnectionConfigError) as caught:
        await connect_client(settings)
    assert str(caught.value).startswith(f"TEMPORAL_TLS: {dev_address} did not answer TLS")


# ---------------------------------------------------------------- mistakes, one line each


@dataclass(frozen=True)
class Context:
    pki: Pki
    api_key: Proxy
    mtls: Proxy
    tmp: Path


@dataclass(frozen=True)
class Case:
    """Variables to connect with and the exact line expected."""

    env: dict[str, str]
    expected: str


def _api_key_env(ctx: Context, **extra: str) -> dict[str, str]:
    """Variables of the API-key proxy; ``extra`` overrides them ("" drops one)."""
    env = {
        "TEMPORAL_ADDRESS": ctx.api_key.address,
        "TEMPORAL_API_KEY": API_KEY,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ctx.pki.ca.cert),
        **extra,
    }
    return {key: value for key, value in env.items() if value}


def _mtls_env(ctx: Context, **extra: str) -> dict[str, str]:
    """Variables of the mTLS proxy; ``extra`` overrides them ("" drops one)."""
    env = {
        "TEMPORAL_ADDRESS": ctx.mtls.address,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ctx.pki.ca.cert),
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(ctx.pki.client.cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(ctx.pki.client.key),
        **extra,
    }
    return {key: value for key, value in env.items() if value}


def _wrong_api_key(ctx: Context) -> Case:
    return Case(
        _api_key_env(ctx, TEMPORAL_API_KEY="not-the-key"),
        f"TEMPORAL_API_KEY: {ctx.api_key.address} rejected the API key"
        " (UNAUTHENTICATED: invalid API key)",
    )


def _no_api_key(ctx: Context) -> Case:
    return Case(
        _api_key_env(ctx, TEMPORAL_API_KEY=""),
        f"TEMPORAL_API_KEY: {ctx.api_key.address} requires credentials and none are set"
        " (UNAUTHENTICATED: invalid API key)",
    )


def _untrusted_ca(ctx: Context) -> Case:
    return Case(
        _api_key_env(ctx, TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(ctx.pki.rogue_ca.cert)),
        f"TEMPORAL_TLS_SERVER_CA_CERT_PATH: TLS handshake with {ctx.api_key.address} failed:"
        " the server certificate is not signed by that CA",
    )


def _system_roots(ctx: Context) -> Case:
    return Case(
        _api_key_env(ctx, TEMPORAL_TLS_SERVER_CA_CERT_PATH=""),
        f"TEMPORAL_TLS_SERVER_CA_CERT_PATH: TLS handshake with {ctx.api_key.address} failed:"
        " the server certificate is not signed by a CA the system trusts"
        " (set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the cluster's CA)",
    )


def _wrong_server_name(ctx: Context) -> Case:
    return Case(
        _mtls_env(ctx, TEMPORAL_TLS_SERVER_NAME="other.example"),
        f"TEMPORAL_TLS_SERVER_NAME: the TLS certificate of {ctx.mtls.address} is not valid"
        " for 'other.example' (set TEMPORAL_TLS_SERVER_NAME to a name it holds)",
    )


def _plaintext_to_tls(ctx: Context) -> Case:
    return Case(
        _api_key_env(ctx, TEMPORAL_TLS="false", TEMPORAL_TLS_SERVER_CA_CERT_PATH=""),
        f"TEMPORAL_TLS: {ctx.api_key.address} did not answer plain gRPC; it probably requires"
        " TLS (TLS is off)",
    )


def _missing_client_cert(ctx: Context) -> Case:
    return Case(
        _mtls_env(ctx, TEMPORAL_TLS_CLIENT_CERT_PATH="", TEMPORAL_TLS_CLIENT_KEY_PATH=""),
        f"TEMPORAL_TLS_CLIENT_CERT_PATH: {ctx.mtls.address} requires a client certificate"
        " (mTLS) and none is set (set TEMPORAL_TLS_CLIENT_CERT_PATH and"
        " TEMPORAL_TLS_CLIENT_KEY_PATH)",
    )


def _foreign_client_cert(ctx: Context) -> Case:
    return Case(
        _mtls_env(
            ctx,
            TEMPORAL_TLS_CLIENT_CERT_PATH=str(ctx.pki.rogue_client.cert),
            TEMPORAL_TLS_CLIENT_KEY_PATH=str(ctx.pki.rogue_client.key),
        ),
        f"TEMPORAL_TLS_CLIENT_CERT_PATH: {ctx.mtls.address} rejected the client certificate"
        " (is it signed by a CA the server trusts?)",
    )


def _bad_cert_path(ctx: Context) -> Case:
    missing = ctx.tmp / "no-such-dir" / "client.pem"
    return Case(
        _mtls_env(ctx, TEMPORAL_TLS_CLIENT_CERT_PATH=str(missing)),
        f"TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read {missing}: No such file or directory",
    )


def _key_is_a_directory(ctx: Context) -> Case:
    return Case(
        _mtls_env(ctx, TEMPORAL_TLS_CLIENT_KEY_PATH=str(ctx.tmp)),
        f"TEMPORAL_TLS_CLIENT_KEY_PATH: cannot read {ctx.tmp}: Is a directory",
    )


def _key_not_pem(ctx: Context) -> Case:
    garbage = ctx.tmp / "garbage-key.pem"
    garbage.write_text("this is not a key\n")
    return Case(
        _mtls_env(ctx, TEMPORAL_TLS_CLIENT_KEY_PATH=str(garbage)),
        f"TEMPORAL_TLS_CLIENT_KEY_PATH: {garbage} is not a PEM private key"
        " (an unencrypted PEM key is needed)",
    )


def _key_of_another_cert(ctx: Context) -> Case:
    return Case(
        _mtls_env(ctx, TEMPORAL_TLS_CLIENT_KEY_PATH=str(ctx.pki.server.key)),
        f"TEMPORAL_TLS_CLIENT_KEY_PATH: the key in {ctx.pki.server.key} does not match the"
        f" client certificate {ctx.pki.client.cert}",
    )


def _cert_without_key(ctx: Context) -> Case:
    return Case(
        _mtls_env(ctx, TEMPORAL_TLS_CLIENT_KEY_PATH=""),
        "TEMPORAL_TLS_CLIENT_KEY_PATH: not set, but TEMPORAL_TLS_CLIENT_CERT_PATH is"
        " (a client certificate needs its key)",
    )


def _ca_not_pem(ctx: Context) -> Case:
    return Case(
        _mtls_env(ctx, TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(ctx.pki.client.key)),
        f"TEMPORAL_TLS_SERVER_CA_CERT_PATH: {ctx.pki.client.key} holds no PEM certificate",
    )


def _unknown_profile(ctx: Context) -> Case:
    return Case(
        {"TEMPORAL_PROFILE": "staging"},
        "TEMPORAL_PROFILE: profile 'staging' not found (no file at"
        f" {ctx.tmp / 'config-home' / 'temporalio' / 'temporal.toml'})",
    )


def _unreadable_key(ctx: Context) -> Case:
    key = ctx.tmp / "locked-key.pem"
    key.write_bytes(ctx.pki.client.key.read_bytes())
    key.chmod(0)
    return Case(
        _mtls_env(ctx, TEMPORAL_TLS_CLIENT_KEY_PATH=str(key)),
        f"TEMPORAL_TLS_CLIENT_KEY_PATH: cannot read {key}: Permission denied",
    )


CASES: dict[str, Callable[[Context], Case]] = {
    "wrong-api-key": _wrong_api_key,
    "no-api-key": _no_api_key,
    "untrusted-ca": _untrusted_ca,
    "system-roots-only": _system_roots,
    "wrong-server-name": _wrong_server_name,
    "plaintext-to-tls": _plaintext_to_tls,
    "missing-client-cert": _missing_client_cert,
    "foreign-client-cert": _foreign_client_cert,
    "bad-cert-path": _bad_cert_path,
    "key-is-a-directory": _key_is_a_directory,
    "key-not-pem": _key_not_pem,
    "key-of-another-cert": _key_of_another_cert,
    "cert-without-key": _cert_without_key,
    "ca-not-pem": _ca_not_pem,
    "unknown-profile": _unknown_profile,
    "unreadable-key": _unreadable_key,
}
# The CLI runs the cases the issue names; the in-process test runs them all.
CLI_CASES = [
    "wrong-api-key",
    "untrusted-ca",
    "missing-client-cert",
    "bad-cert-path",
    "key-not-pem",
    "unreadable-key",
]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _case(
    name: str, pki: Pki, api_key_proxy: Proxy, mtls_proxy: Proxy, tmp_path: Path
) -> tuple[Case, Path]:
    if name == "unreadable-key" and IS_ROOT:
        pytest.skip("root reads files whatever their mode; the directory case covers reads")
    config_home = tmp_path / "config-home"
    config_home.mkdir()
    return CASES[name](Context(pki, api_key_proxy, mtls_proxy, tmp_path)), config_home


@pytest.mark.parametrize("name", list(CASES))
async def test_each_mistake_is_one_line_naming_the_setting(
    name: str,
    pki: Pki,
    api_key_proxy: Proxy,
    mtls_proxy: Proxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case, config_home = _case(name, pki, api_key_proxy, mtls_proxy, tmp_path)
    for key in list(os.environ):
        if key.startswith(("TEMPORAL_", "CONVOFLOW_TEMPORAL_", "CONVOFLOW_NAMESPACE")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConnectionConfigError) as caught:
        await asyncio.wait_for(connect_client(Settings(data_dir=tmp_path)), 60)
    assert str(caught.value) == case.expected


@pytest.mark.parametrize("name", CLI_CASES)
async def test_cli_prints_the_line_and_exits_1(
    name: str, pki: Pki, api_key_proxy: Proxy, mtls_proxy: Proxy, tmp_path: Path
) -> None:
    case, config_home = _case(name, pki, api_key_proxy, mtls_proxy, tmp_path)
    env = {**clean_environ(config_home), **case.env, "CONVOFLOW_DATA_DIR": str(tmp_path)}
    code, out, err = await convoflow(env, "send", "--session", "s-1", "hi")
    assert code == 1, err
    assert "Traceback" not in err
    assert err == f"convoflow: {case.expected}\n"
    assert out == ""


async def test_cli_json_error_names_the_type(
    pki: Pki, api_key_proxy: Proxy, mtls_proxy: Proxy, tmp_path: Path
) -> None:
    case, config_home = _case("wrong-api-key", pki, api_key_proxy, mtls_proxy, tmp_path)
    env = {**clean_environ(config_home), **case.env, "CONVOFLOW_DATA_DIR": str(tmp_path)}
    code, out, err = await convoflow(env, "status", "--session", "s-1", "--json")
    assert code == 1 and "Traceback" not in err
    assert out.strip() == (
        '{"error": {"type": "ConnectionConfigError", "message": "' + case.expected + '"}}'
    )


@pytest.mark.parametrize(
    ("command", "name"),
    [(["worker"], "missing-client-cert"), (["gateway", "--port", "0"], "wrong-api-key")],
)
async def test_long_running_commands_fail_with_the_line(
    command: list[str],
    name: str,
    pki: Pki,
    api_key_proxy: Proxy,
    mtls_proxy: Proxy,
    tmp_path: Path,
) -> None:
    case, config_home = _case(name, pki, api_key_proxy, mtls_proxy, tmp_path)
    env = {
        **clean_environ(config_home),
        **case.env,
        "CONVOFLOW_DATA_DIR": str(tmp_path),
        "CONVOFLOW_JWT_SECRET": GATEWAY_SECRET,
    }
    code, _, err = await convoflow(env, *command)
    assert code == 1 and "Traceback" not in err
    assert err.splitlines()[-1] == f"convoflow: {case.expected}"


def test_profile_settings_resolve_like_the_sdk(
    config_file: Path, mtls_proxy: Proxy, pki: Pki, tmp_path: Path
) -> None:
    """Sanity check of the profile the fixtures use: address, SNI and the mTLS pair."""
    from worker.connection import connection_options

    options = connection_options(profile_settings(config_file, "mtls", tmp_path), environ={})
    assert options.target_host == mtls_proxy.address and options.namespace == "default"
    assert options.has_client_cert and options.api_key is None
    assert not isinstance(options.tls, bool) and options.tls.domain == SERVER_NAME
