"""Which setting wins: our CONVOFLOW_* settings, the TEMPORAL_* variables, the TOML profile.

No server needed: ``connection_options`` resolves with the SDK's own loader
(``temporalio.envconfig``) and an explicit environment.
"""

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from models.settings import Settings
from tests.tls.conftest import Pki
from worker.connection import ConnectionConfigError, connection_options


@pytest.fixture
def toml(tmp_path: Path, pki: Pki) -> Path:
    path = tmp_path / "temporal.toml"
    path.write_text(
        f"""\
[profile.default]
address = "default-host:7233"
namespace = "default-ns"

[profile.cloud]
address = "cloud-host:7233"
namespace = "cloud-ns"
api_key = "profile-key"

[profile.cloud.grpc_meta]
x-team = "agents"

[profile.mtls]
address = "mtls-host:7233"

[profile.mtls.tls]
server_name = "temporal.internal"
server_ca_cert_path = "{pki.ca.cert}"
client_cert_path = "{pki.client.cert}"
client_key_path = "{tmp_path / "missing-key.pem"}"
"""
    )
    return path


def settings(**values: object) -> Settings:
    return Settings(**values)


def test_nothing_configured_is_the_local_dev_server(tmp_path: Path) -> None:
    options = connection_options(settings(), {"XDG_CONFIG_HOME": str(tmp_path)})
    assert (options.target_host, options.namespace) == ("localhost:7233", "default")
    assert options.tls is False and options.api_key is None


def test_temporal_variables_are_read(tmp_path: Path) -> None:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path),
        "TEMPORAL_ADDRESS": "env-host:7233",
        "TEMPORAL_NAMESPACE": "env-ns",
        "TEMPORAL_API_KEY": "env-key",
    }
    options = connection_options(settings(), env)
    assert (options.target_host, options.namespace) == ("env-host:7233", "env-ns")
    # An API key alone turns TLS on with the system's roots (Temporal Cloud).
    assert options.api_key == "env-key" and options.tls is True


def test_convoflow_settings_beat_variables_and_profile(toml: Path) -> None:
    env = {"TEMPORAL_ADDRESS": "env-host:7233", "TEMPORAL_NAMESPACE": "env-ns"}
    options = connection_options(
        settings(temporal_address="ours:7233", namespace="our-ns", temporal_config_file=toml),
        env,
    )
    assert (options.target_host, options.namespace) == ("ours:7233", "our-ns")


def test_variables_beat_the_profile(toml: Path) -> None:
    env = {"TEMPORAL_PROFILE": "cloud", "TEMPORAL_API_KEY": "env-key"}
    options = connection_options(settings(temporal_config_file=toml), env)
    assert (options.target_host, options.namespace) == ("cloud-host:7233", "cloud-ns")
    assert options.api_key == "env-key"
    assert dict(options.rpc_metadata) == {"x-team": "agents"}


def test_profile_setting_beats_temporal_profile(toml: Path) -> None:
    options = connection_options(
        settings(temporal_config_file=toml, temporal_profile="cloud"),
        {"TEMPORAL_PROFILE": "default"},
    )
    assert options.target_host == "cloud-host:7233" and options.api_key == "profile-key"
    default = connection_options(settings(temporal_config_file=toml), {})
    assert (default.target_host, default.namespace) == ("default-host:7233", "default-ns")


def test_config_file_setting_beats_temporal_config_file(toml: Path, tmp_path: Path) -> None:
    env = {"TEMPORAL_CONFIG_FILE": str(tmp_path / "elsewhere.toml")}
    options = connection_options(settings(temporal_config_file=toml), env)
    assert options.target_host == "default-host:7233"
    with pytest.raises(ConnectionConfigError) as caught:
        connection_options(settings(), env)
    assert str(caught.value) == (
        f"TEMPORAL_CONFIG_FILE: cannot read {tmp_path / 'elsewhere.toml'}:"
        " No such file or directory"
    )


def test_tls_disabled_wins_over_an_api_key(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "TEMPORAL_API_KEY": "k", "TEMPORAL_TLS": "false"}
    assert connection_options(settings(), env).tls is False


def test_profile_mistakes_name_the_profile_key(toml: Path, tmp_path: Path, pki: Pki) -> None:
    with pytest.raises(ConnectionConfigError) as caught:
        connection_options(settings(temporal_config_file=toml, temporal_profile="mtls"), {})
    assert str(caught.value) == (
        f"tls.client_key_path of profile 'mtls' ({toml}): cannot read"
        f" {tmp_path / 'missing-key.pem'}: No such file or directory"
    )
    # The variable overrides the profile's key path, and then everything resolves.
    options = connection_options(
        settings(temporal_config_file=toml, temporal_profile="mtls"),
        {"TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki.client.key)},
    )
    assert isinstance(options.tls, TLSConfig) and options.tls.domain == "temporal.internal"
    assert options.tls.client_private_key == pki.client.key.read_bytes()


def test_unknown_profile_and_bad_toml(toml: Path, tmp_path: Path) -> None:
    with pytest.raises(ConnectionConfigError) as caught:
        connection_options(settings(temporal_config_file=toml, temporal_profile="prod"), {})
    assert str(caught.value) == f"CONVOFLOW_TEMPORAL_PROFILE: profile 'prod' not found in {toml}"
    broken = tmp_path / "broken.toml"
    broken.write_text("[profile.default\n")
    with pytest.raises(ConnectionConfigError) as caught:
        connection_options(settings(temporal_config_file=broken), {})
    message = str(caught.value)
    assert message.startswith(f"CONVOFLOW_TEMPORAL_CONFIG_FILE {broken}: ") and "\n" not in message


def test_profile_is_a_convoflow_setting(monkeypatch: pytest.MonkeyPatch, toml: Path) -> None:
    monkeypatch.setenv("CONVOFLOW_TEMPORAL_PROFILE", "cloud")
    monkeypatch.setenv("CONVOFLOW_TEMPORAL_CONFIG_FILE", str(toml))
    options = connection_options(Settings(), {})
    assert options.target_host == "cloud-host:7233"
