"""Settings by role keep every CONVOFLOW_* variable and CLI flag they had in one flat model."""

import json

import pytest
from pydantic import SecretStr

from cli.parser import build_parser, settings_from
from models.settings import ENV_PREFIX, FLAT_NAMES, ROLES, Settings

# Every variable of the flat Settings before the split, with its role and field now.
ENV_VARS: dict[str, tuple[str, str]] = {
    "CONVOFLOW_TEMPORAL_ADDRESS": ("connection", "temporal_address"),
    "CONVOFLOW_NAMESPACE": ("connection", "namespace"),
    "CONVOFLOW_TEMPORAL_PROFILE": ("connection", "temporal_profile"),
    "CONVOFLOW_TEMPORAL_CONFIG_FILE": ("connection", "temporal_config_file"),
    "CONVOFLOW_TASK_QUEUE": ("connection", "task_queue"),
    "CONVOFLOW_TENANT": ("cli", "tenant"),
    "CONVOFLOW_USER": ("cli", "user"),
    "CONVOFLOW_MODEL": ("providers", "model"),
    "CONVOFLOW_AGENT": ("providers", "agent"),
    "CONVOFLOW_AGENTS": ("worker", "agents"),
    "CONVOFLOW_GATEWAY_AGENTS": ("gateway", "gateway_agents"),
    "CONVOFLOW_MEMORY": ("memory", "backend"),
    "CONVOFLOW_DATA_DIR": ("memory", "data_dir"),
    "CONVOFLOW_ECHO_DELAY_MS": ("providers", "echo_delay_ms"),
    "CONVOFLOW_SEARCH_ATTRIBUTES": ("worker", "search_attributes"),
    "CONVOFLOW_MAX_CONCURRENT_WORKFLOW_TASKS": ("worker", "max_concurrent_workflow_tasks"),
    "CONVOFLOW_MAX_CONCURRENT_ACTIVITIES": ("worker", "max_concurrent_activities"),
    "CONVOFLOW_MAX_CACHED_WORKFLOWS": ("worker", "max_cached_workflows"),
    "CONVOFLOW_GRACEFUL_SHUTDOWN_SECONDS": ("worker", "graceful_shutdown_seconds"),
    "CONVOFLOW_DEPLOYMENT_NAME": ("worker", "deployment_name"),
    "CONVOFLOW_BUILD_ID": ("worker", "build_id"),
    "CONVOFLOW_WORKFLOW_TASK_POLLERS": ("worker", "workflow_task_pollers"),
    "CONVOFLOW_ACTIVITY_TASK_POLLERS": ("worker", "activity_task_pollers"),
    "CONVOFLOW_NONSTICKY_TO_STICKY_POLL_RATIO": ("worker", "nonsticky_to_sticky_poll_ratio"),
    "CONVOFLOW_STICKY_SCHEDULE_TO_START_SECONDS": ("worker", "sticky_schedule_to_start_seconds"),
    "CONVOFLOW_AGENTCORE_MEMORY_ID": ("memory", "agentcore_memory_id"),
    "CONVOFLOW_AGENTCORE_REGION": ("memory", "agentcore_region"),
    "CONVOFLOW_AGENTCORE_NAMESPACES": ("memory", "agentcore_namespaces"),
    "CONVOFLOW_LOCAL_MODEL_PATH": ("providers", "local_model_path"),
    "CONVOFLOW_LOCAL_MAX_TOKENS": ("providers", "local_max_tokens"),
    "CONVOFLOW_LOCAL_CONTEXT_TOKENS": ("providers", "local_context_tokens"),
    "CONVOFLOW_LOCAL_THREADS": ("providers", "local_threads"),
    "CONVOFLOW_LOCAL_TEMPERATURE": ("providers", "local_temperature"),
    "CONVOFLOW_LOCAL_SEED": ("providers", "local_seed"),
    "CONVOFLOW_BEDROCK_MODEL_ID": ("providers", "bedrock_model_id"),
    "CONVOFLOW_BEDROCK_REGION": ("providers", "bedrock_region"),
    "CONVOFLOW_BEDROCK_MAX_TOKENS": ("providers", "bedrock_max_tokens"),
    "CONVOFLOW_OPENAI_BASE_URL": ("providers", "openai_base_url"),
    "CONVOFLOW_OPENAI_API_KEY": ("providers", "openai_api_key"),
    "CONVOFLOW_OPENAI_MODEL_ID": ("providers", "openai_model_id"),
    "CONVOFLOW_OPENAI_MAX_TOKENS": ("providers", "openai_max_tokens"),
    "CONVOFLOW_CANCEL_CHECK_SECONDS": ("providers", "cancel_check_seconds"),
    "CONVOFLOW_CODEC_KEY_FILE": ("codec", "codec_key_file"),
    "CONVOFLOW_CODEC_KEYS": ("codec", "codec_keys"),
    "CONVOFLOW_CODEC_ENCODE_FAILURES": ("codec", "codec_encode_failures"),
    "CONVOFLOW_CODEC_SERVER_TOKEN": ("codec", "codec_server_token"),
    "CONVOFLOW_GATEWAY_HOST": ("gateway", "gateway_host"),
    "CONVOFLOW_GATEWAY_PORT": ("gateway", "gateway_port"),
    "CONVOFLOW_JWT_SECRET": ("gateway", "jwt_secret"),
    "CONVOFLOW_JWT_JWKS_PATH": ("gateway", "jwt_jwks_path"),
    "CONVOFLOW_JWT_JWKS_URL": ("gateway", "jwt_jwks_url"),
    "CONVOFLOW_JWT_ISSUER": ("gateway", "jwt_issuer"),
    "CONVOFLOW_JWT_AUDIENCE": ("gateway", "jwt_audience"),
    "CONVOFLOW_JWT_TENANT_CLAIM": ("gateway", "jwt_tenant_claim"),
    "CONVOFLOW_JWT_USER_CLAIM": ("gateway", "jwt_user_claim"),
    "CONVOFLOW_JWT_LEEWAY_SECONDS": ("gateway", "jwt_leeway_seconds"),
    "CONVOFLOW_GATEWAY_MAX_BODY_BYTES": ("gateway", "gateway_max_body_bytes"),
    "CONVOFLOW_GATEWAY_MAX_PROMPT_CHARS": ("gateway", "gateway_max_prompt_chars"),
    "CONVOFLOW_GATEWAY_RATE_PER_USER": ("gateway", "gateway_rate_per_user"),
    "CONVOFLOW_GATEWAY_BURST": ("gateway", "gateway_burst"),
    "CONVOFLOW_GATEWAY_QUEUE_DEPTH": ("gateway", "gateway_queue_depth"),
    "CONVOFLOW_TEMPORAL_UI_URL": ("gateway", "temporal_ui_url"),
    "CONVOFLOW_METRICS_PORT": ("metrics", "metrics_port"),
    "CONVOFLOW_METRICS_HOST": ("metrics", "metrics_host"),
}

# A value each variable accepts (as text, the way the environment gives it).
SAMPLES: dict[str, str] = {
    "CONVOFLOW_MEMORY": "agentcore",
    "CONVOFLOW_AGENTCORE_NAMESPACES": '{"fact": "/f/{actorId}/"}',
    "CONVOFLOW_GATEWAY_AGENTS": '["default", "support"]',
    "CONVOFLOW_SEARCH_ATTRIBUTES": "false",
    "CONVOFLOW_CODEC_ENCODE_FAILURES": "false",
    "CONVOFLOW_LOCAL_TEMPERATURE": "1.5",
}


def _sample(name: str, role: str, field: str) -> str:
    if name in SAMPLES:
        return SAMPLES[name]
    annotation = str(ROLES[role].model_fields[field].annotation)
    if "int" in annotation:
        return "4242"
    if "float" in annotation:
        return "42.5"
    return f"/tmp/{field}" if "Path" in annotation else f"value-{field}"


def _plain(value: object) -> object:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def test_every_setting_is_listed() -> None:
    # A new setting must be added here (and so documented as a variable) on purpose.
    assert {ENV_PREFIX + name.upper() for name in FLAT_NAMES} == set(ENV_VARS)


@pytest.mark.parametrize(("name", "where"), sorted(ENV_VARS.items()))
def test_each_variable_sets_its_role_field(
    name: str, where: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    role, field = where
    text = _sample(name, role, field)
    monkeypatch.setenv(name, text)
    value = _plain(getattr(getattr(Settings(), role), field))
    default = ROLES[role].model_fields[field].default
    assert value != default
    assert str(value).lower() == text.lower() or isinstance(value, dict | list | float | int)
    # The same value given as a flat name (the way CLI flags arrive) lands in the same place.
    monkeypatch.delenv(name)
    given: object = json.loads(text) if text[:1] in "{[" else text
    flat = Settings(**{name.removeprefix(ENV_PREFIX).lower(): given})
    assert _plain(getattr(getattr(flat, role), field)) == value
    # And a child process gets it back from to_env().
    assert flat.to_env()[name] == text


FLAGS: dict[str, tuple[list[str], str, str, object]] = {
    "--address": (["--address", "h:1"], "connection", "temporal_address", "h:1"),
    "--namespace": (["--namespace", "ns"], "connection", "namespace", "ns"),
    "--profile": (["--profile", "cloud"], "connection", "temporal_profile", "cloud"),
    "--task-queue": (["--task-queue", "q"], "connection", "task_queue", "q"),
    "--model": (["--model", "echo"], "providers", "model", "echo"),
    "--memory": (["--memory", "agentcore"], "memory", "backend", "agentcore"),
    "--echo-delay-ms": (["--echo-delay-ms", "5"], "providers", "echo_delay_ms", 5.0),
    "--tenant": (["--tenant", "acme"], "cli", "tenant", "acme"),
    "--user": (["--user", "alice"], "cli", "user", "alice"),
}


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_cli_flags_override_their_setting(flag: str) -> None:
    argv, role, field, expected = FLAGS[flag]
    args = build_parser().parse_args(["status", "--session", "s", *argv])
    assert getattr(getattr(settings_from(args), role), field) == expected


def test_updated_keeps_explicit_fields_and_validates() -> None:
    settings = Settings(namespace="prod")
    moved = settings.updated(temporal_address="elsewhere:7233")
    assert moved.connection.temporal_address == "elsewhere:7233"
    assert moved.connection.namespace == "prod"
    # connection precedence reads which fields were set explicitly
    assert {"namespace", "temporal_address"} <= moved.connection.model_fields_set
    with pytest.raises(ValueError, match="unknown setting"):
        settings.updated(no_such_thing=1)
    with pytest.raises(ValueError):
        settings.updated(gateway_port=70_000)
