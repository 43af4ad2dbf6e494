"""The ``convoflow`` arguments: every subcommand, its flags, and the settings they make."""

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from models import validate_id
from models.settings import Settings

log = logging.getLogger("convoflow")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
HISTORY_PAGE = 500


class UsageError(Exception):
    """A command was called with arguments that cannot work."""


# ------------------------------------------------------------------ argument parsing


def _connection_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection (defaults from CONVOFLOW_* env vars)")
    group.add_argument("--address", dest="temporal_address", help="Temporal host:port")
    group.add_argument("--namespace", help="Temporal namespace")
    group.add_argument(
        "--profile",
        dest="temporal_profile",
        help="profile of the Temporal TOML config (TLS, mTLS, API key; see README)",
    )
    group.add_argument("--task-queue", dest="task_queue", help="worker task queue")
    group.add_argument("--data-dir", dest="data_dir", type=Path, help="data directory")
    group.add_argument("--model", help="model provider for new sessions (local, echo, ...)")
    group.add_argument("--memory", choices=["local", "agentcore"], help="memory backend")
    group.add_argument("--echo-delay-ms", dest="echo_delay_ms", type=float, help="echo pacing")
    group.add_argument(
        "--model-path", dest="local_model_path", type=Path, help="GGUF file for the local model"
    )
    group.add_argument(
        "--codec-key-file",
        dest="codec_key_file",
        type=Path,
        help="encrypt payloads with the keys in this file (CONVOFLOW_CODEC_KEY_FILE)",
    )
    group.add_argument("-v", "--verbose", action="store_true", help="log at INFO level to stderr")
    return parent


def _agent_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--agent", help="agent of a new session (default, assistant, ...; CONVOFLOW_AGENT)"
    )


def _approval_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--require-approval",
        dest="require_approval",
        action="append",
        default=[],
        metavar="TOOL",
        help="a new session asks before every call of TOOL (repeatable; adds to the agent's)",
    )


def _agents_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--agents",
        help="comma-separated modules defining agents, e.g. myapp.agents (CONVOFLOW_AGENTS)",
    )


def _session_options(with_json: bool = True) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--session", required=True, help="session id")
    parent.add_argument("--tenant", help="tenant id (default: CONVOFLOW_TENANT or 'default')")
    parent.add_argument("--user", help="user id (default: CONVOFLOW_USER)")
    if with_json:
        parent.add_argument("--json", action="store_true", help="print one JSON document")
    return parent


def _worker_options(worker: argparse.ArgumentParser) -> None:
    """Worker Versioning and tuning flags of ``convoflow worker`` (docs/OPERATIONS.md)."""
    deploy = worker.add_argument_group("worker versioning (unset: unversioned)")
    deploy.add_argument(
        "--deployment-name", dest="deployment_name", help="Worker Deployment to join"
    )
    deploy.add_argument("--build-id", dest="build_id", help="build id of this worker's version")
    tuning = worker.add_argument_group("tuning (docs/BENCHMARKS.md)")
    tuning.add_argument(
        "--max-cached-workflows", dest="max_cached_workflows", type=int, help="sticky cache size"
    )
    tuning.add_argument(
        "--workflow-pollers", dest="workflow_task_pollers", type=int, help="workflow task polls"
    )
    tuning.add_argument(
        "--activity-pollers", dest="activity_task_pollers", type=int, help="activity task polls"
    )
    tuning.add_argument(
        "--sticky-ratio",
        dest="nonsticky_to_sticky_poll_ratio",
        type=float,
        help="non-sticky per sticky workflow polls (0.2)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full ``convoflow`` argument parser."""
    conn = _connection_options()
    parser = argparse.ArgumentParser(
        prog="convoflow", description="Durable AI agent conversations on Temporal."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = commands.add_parser(
        "dev", parents=[conn], help="dev server + worker + chat in one command"
    )
    dev.add_argument("--port", type=int, default=7233, help="Temporal gRPC port (7233)")
    dev.add_argument("--ui-port", type=int, help="Web UI port (gRPC port + 1000)")
    dev.add_argument("--session", default="dev", help="session to chat in (default: dev)")
    dev.add_argument("--tenant", help="tenant id")
    dev.add_argument("--user", help="user id")
    dev.add_argument("--no-chat", action="store_true", help="run the stack without the chat")
    dev.add_argument(
        "--gateway-port", type=int, default=8080, help="port of the gateway and chat page (8080)"
    )
    dev.add_argument("--no-gateway", action="store_true", help="do not start the gateway")
    dev.add_argument(
        "--codec-server",
        action="store_true",
        help="encrypt payloads (a dev key in the data dir unless CONVOFLOW_CODEC_KEY_FILE)"
        " and start the codec server the Temporal UI decodes through",
    )
    dev.add_argument("--codec-port", type=int, default=8888, help="codec server port (8888)")
    _agent_option(dev)
    _agents_option(dev)

    worker = commands.add_parser("worker", parents=[conn], help="run a session worker")
    _worker_options(worker)
    _agents_option(worker)

    send = commands.add_parser(
        "send", parents=[conn, _session_options()], help="send a message, print the reply"
    )
    send.add_argument("--message-id", help="idempotency key (repeat it to retry safely)")
    _agent_option(send)
    _approval_option(send)
    send.add_argument("text", help="the message")

    submit = commands.add_parser(
        "submit", parents=[conn, _session_options()], help="queue a message without waiting"
    )
    submit.add_argument("--message-id", help="idempotency key")
    _agent_option(submit)
    _approval_option(submit)
    submit.add_argument("text", help="the message")

    history = commands.add_parser(
        "history", parents=[conn, _session_options()], help="print the kept messages"
    )
    history.add_argument("--limit", type=int, help="only the last N messages")
    history.add_argument(
        "--all", action="store_true", help="every message, from the memory store (paged)"
    )

    memory = commands.add_parser("memory", help="long-term memories of a user")
    memory_commands = memory.add_subparsers(dest="memory_command", required=True)
    for name, text in (("search", "memories relevant to a query"), ("list", "all memories")):
        sub = memory_commands.add_parser(name, parents=[conn], help=text)
        sub.add_argument("--actor", required=True, help="user id whose memories to read")
        sub.add_argument("--tenant", help="tenant id (default: CONVOFLOW_TENANT or 'default')")
        sub.add_argument("--memory-namespace", help="only this memory namespace")
        sub.add_argument("--limit", type=int, default=20, help="at most N records")
        sub.add_argument("--json", action="store_true", help="print one JSON document")
        if name == "search":
            sub.add_argument("query", help="what to look for")

    commands.add_parser("status", parents=[conn, _session_options()], help="session status")

    close = commands.add_parser(
        "close", parents=[conn, _session_options()], help="close (and archive) a session"
    )
    close.add_argument("--reason", default="closed by request", help="why")
    close.add_argument("--no-wait", action="store_true", help="do not wait for the archive")

    commands.add_parser(
        "cancel", parents=[conn, _session_options()], help="cancel the running turn"
    )
    commands.add_parser(
        "regenerate",
        parents=[conn, _session_options()],
        help="run the last message again, print the new reply",
    )
    approvals = commands.add_parser("approvals", help="tool calls waiting for approval")
    approval_commands = approvals.add_subparsers(dest="approvals_command", required=True)
    approval_commands.add_parser(
        "list", parents=[conn, _session_options()], help="the running turn's requests"
    )
    approve = approval_commands.add_parser(
        "approve", parents=[conn, _session_options()], help="let a pending tool call run"
    )
    approve.add_argument("request_id", metavar="ID", help="the request (from approvals list)")
    deny = approval_commands.add_parser(
        "deny", parents=[conn, _session_options()], help="refuse a pending tool call"
    )
    deny.add_argument("request_id", metavar="ID", help="the request (from approvals list)")
    deny.add_argument("--message", help="what the model is told (why not)")
    fork = commands.add_parser(
        "fork", parents=[conn, _session_options()], help="start a new session from this one"
    )
    fork.add_argument("--at", required=True, type=int, help="last message (seq) to copy")
    fork.add_argument("--to", required=True, help="id of the new session")

    sessions = commands.add_parser("sessions", parents=[conn], help="list sessions")
    sessions.add_argument("--tenant", help="only this tenant")
    sessions.add_argument("--all", action="store_true", help="include finished sessions")
    sessions.add_argument("--limit", type=int, default=100)
    sessions.add_argument("--json", action="store_true", help="print one JSON document")

    chat = commands.add_parser(
        "chat", parents=[conn, _session_options(with_json=False)], help="interactive chat"
    )
    _agent_option(chat)
    _approval_option(chat)

    replay = commands.add_parser(
        "replay", parents=[conn], help="replay histories against the current code"
    )
    replay.add_argument("files", nargs="*", type=Path, help="history JSON files")
    replay.add_argument("--workflow-id", action="append", default=[], help="a live session")
    replay.add_argument("--json", action="store_true", help="print one JSON document")
    _agents_option(replay)

    keygen = commands.add_parser(
        "codec-keygen", help="create a payload encryption key file, or rotate its key"
    )
    keygen.add_argument("--out", required=True, type=Path, help="key file (created or rotated)")
    keygen.add_argument("--key-id", help="id of the new key (default: time-based)")
    keygen.add_argument("--json", action="store_true", help="print one JSON document")
    keygen.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")

    codec = commands.add_parser(
        "codec-server", parents=[conn], help="remote codec endpoint for the Temporal UI and CLI"
    )
    codec.add_argument("--host", default="127.0.0.1", help="bind address (127.0.0.1)")
    codec.add_argument("--port", type=int, default=8888, help="port (8888)")
    codec.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        help="Web UI origin allowed by CORS (repeatable; default http://localhost:8233)",
    )
    codec.add_argument(
        "--insecure-dev",
        action="store_true",
        help="serve without a bearer token (local development only)",
    )

    gateway = commands.add_parser(
        "gateway", parents=[conn], help="HTTP gateway (AgentCore Runtime contract) on port 8080"
    )
    gateway.add_argument("--host", help="bind address (CONVOFLOW_GATEWAY_HOST, 127.0.0.1)")
    gateway.add_argument("--port", type=int, help="port (CONVOFLOW_GATEWAY_PORT, 8080)")
    gateway.add_argument(
        "--insecure-dev",
        action="store_true",
        help="accept requests without tokens, all as --tenant/--user (your machine only)",
    )
    gateway.add_argument("--tenant", help="tenant of every request with --insecure-dev")
    gateway.add_argument("--user", help="user of every request with --insecure-dev (dev)")

    token = commands.add_parser(
        "token", help="print a gateway token signed with CONVOFLOW_JWT_SECRET (HS256)"
    )
    token.add_argument("--user", required=True, help="user id (the sub claim)")
    token.add_argument("--tenant", required=True, help="tenant id")
    token.add_argument("--ttl", type=float, default=3600, help="lifetime in seconds (3600)")
    token.add_argument("--json", action="store_true", help="print one JSON document")
    token.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """Environment settings overridden by whichever flags were given."""
    names = (
        "temporal_address",
        "namespace",
        "temporal_profile",
        "task_queue",
        "data_dir",
        "model",
        "memory",
        "echo_delay_ms",
        "local_model_path",
        "codec_key_file",
        "deployment_name",
        "build_id",
        "workflow_task_pollers",
        "activity_task_pollers",
        "nonsticky_to_sticky_poll_ratio",
        "agent",
        "agents",
    )
    overrides = {name: getattr(args, name) for name in names if getattr(args, name, None)}
    if getattr(args, "max_cached_workflows", None) is not None:  # 0 is a valid size
        overrides["max_cached_workflows"] = args.max_cached_workflows
    for flag, field in (("tenant", "tenant"), ("user", "user")):
        if getattr(args, flag, None):
            overrides[field] = getattr(args, flag)
    return Settings(**overrides)


# ------------------------------------------------------------------------ output


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return json.loads(json.dumps(asdict(value), default=str))
    return value


def emit_json(value: Any) -> None:
    """Print one JSON document."""
    sys.stdout.write(json.dumps(_jsonable(value), ensure_ascii=False) + "\n")


def _report_error(args: argparse.Namespace, kind: str, message: str) -> None:
    if getattr(args, "json", False):
        emit_json({"error": {"type": kind, "message": message}})
    else:
        sys.stderr.write(f"convoflow: {message}\n")


# ---------------------------------------------------------------------- commands


def _user(settings: Settings) -> str | None:
    """The CLI's user (``--user``/``CONVOFLOW_USER``), checked like every id."""
    return None if settings.cli.user is None else validate_id("user id", settings.cli.user)
