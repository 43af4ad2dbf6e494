"""The ``convoflow`` command line: dev stack, worker, and session commands.

Data commands take ``--json`` and then print exactly one JSON document (errors included).
Exit codes: 0 ok, 1 failure (turn failed, not found, Temporal unreachable), 2 bad input.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from client.chat import chat_loop
from client.errors import (
    ConvoflowError,
    MessageRejectedError,
    SessionNotFoundError,
    TurnFailedError,
)
from client.session_client import SessionClient
from models import ActorRef, ChatMessage, InvalidIdError, SessionRef, validate_id
from models.settings import Settings
from worker.client import connect_client
from worker.codec import CodecConfigError, codec_from_settings, write_new_key
from worker.codec_server import (
    DEFAULT_CORS_ORIGINS,
    build_codec_app,
    codec_server,
    serve_until_stopped,
)
from worker.dev_server import DevServerError, dev_server
from worker.replay import load_history, replay_histories
from worker.run import open_memory_store, run_worker, running_worker

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


def _session_options(with_json: bool = True) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--session", required=True, help="session id")
    parent.add_argument("--tenant", help="tenant id (default: CONVOFLOW_TENANT or 'default')")
    parent.add_argument("--user", help="user id (default: CONVOFLOW_USER)")
    if with_json:
        parent.add_argument("--json", action="store_true", help="print one JSON document")
    return parent


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
    dev.add_argument("--no-chat", action="store_true", help="run server and worker only")

    commands.add_parser("worker", parents=[conn], help="run a session worker")

    send = commands.add_parser(
        "send", parents=[conn, _session_options()], help="send a message, print the reply"
    )
    send.add_argument("--message-id", help="idempotency key (repeat it to retry safely)")
    send.add_argument("text", help="the message")

    submit = commands.add_parser(
        "submit", parents=[conn, _session_options()], help="queue a message without waiting"
    )
    submit.add_argument("--message-id", help="idempotency key")
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

    sessions = commands.add_parser("sessions", parents=[conn], help="list sessions")
    sessions.add_argument("--tenant", help="only this tenant")
    sessions.add_argument("--all", action="store_true", help="include finished sessions")
    sessions.add_argument("--limit", type=int, default=100)
    sessions.add_argument("--json", action="store_true", help="print one JSON document")

    commands.add_parser(
        "chat", parents=[conn, _session_options(with_json=False)], help="interactive chat"
    )

    replay = commands.add_parser(
        "replay", parents=[conn], help="replay histories against the current code"
    )
    replay.add_argument("files", nargs="*", type=Path, help="history JSON files")
    replay.add_argument("--workflow-id", action="append", default=[], help="a live session")
    replay.add_argument("--json", action="store_true", help="print one JSON document")

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
        "task_queue",
        "data_dir",
        "model",
        "memory",
        "echo_delay_ms",
        "local_model_path",
        "codec_key_file",
    )
    overrides = {name: getattr(args, name) for name in names if getattr(args, name, None)}
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
    return None if settings.user is None else validate_id("user id", settings.user)


async def _send(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    reply = await sessions.send(
        args.session,
        args.text,
        tenant_id=settings.tenant,
        user_id=_user(settings),
        message_id=args.message_id,
    )
    if args.json:
        emit_json(reply)
    else:
        sys.stdout.write(reply.reply + "\n")
    return EXIT_OK


async def _submit(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    message_id = await sessions.submit(
        args.session,
        args.text,
        tenant_id=settings.tenant,
        user_id=_user(settings),
        message_id=args.message_id,
    )
    if args.json:
        emit_json({"message_id": message_id, "session_id": args.session, "queued": True})
    else:
        sys.stdout.write(f"queued {message_id}\n")
    return EXIT_OK


async def _stored_messages(settings: Settings, session_id: str) -> list[ChatMessage]:
    """Every message of a session from the memory store, paging through it."""
    store = open_memory_store(settings)
    ref = SessionRef(tenant_id=settings.tenant, session_id=session_id)
    messages: list[ChatMessage] = []
    try:
        while True:
            after = messages[-1].seq if messages and messages[-1].seq is not None else -1
            page = await store.list_messages(ref, after_seq=after, limit=HISTORY_PAGE)
            messages.extend(page)
            if len(page) < HISTORY_PAGE:
                return messages
    finally:
        await store.close()


async def _history(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must be zero or more")
    if args.all:
        messages = await _stored_messages(settings, args.session)
        if not messages:
            raise SessionNotFoundError(f"no stored messages for session {args.session!r}")
        if args.limit is not None:
            messages = messages[-args.limit :] if args.limit else []
    else:
        messages = await sessions.history(
            args.session, tenant_id=settings.tenant, limit=args.limit, user_id=_user(settings)
        )
    if args.json:
        emit_json(messages)
        return EXIT_OK
    if messages and messages[0].seq:
        sys.stdout.write(f"({messages[0].seq} earlier messages are in the memory store)\n")
    for message in messages:
        stamp = message.timestamp.isoformat(timespec="seconds") if message.timestamp else ""
        sys.stdout.write(f"[{message.seq}] {stamp} {message.role}: {message.message}\n")
    return EXIT_OK


async def _status(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    status = await sessions.status(args.session, tenant_id=settings.tenant, user_id=_user(settings))
    if args.json:
        emit_json(status)
        return EXIT_OK
    sys.stdout.write(
        f"{status.tenant_id}/{status.session_id}: {status.status} ({status.current_step}, "
        f"{status.progress}%)\n"
        f"messages {status.total_messages} ({status.message_count} kept), turns {status.turns},"
        f" queued {status.queued}, run {status.run}\n"
        f"last activity {status.last_activity.isoformat(timespec='seconds')}, "
        f"expires {status.expires_at.isoformat(timespec='seconds')}\n"
    )
    for issue in status.issues:
        sys.stdout.write(f"issue: {issue}\n")
    return EXIT_OK


async def _close(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    summary = await sessions.close(
        args.session, tenant_id=settings.tenant, reason=args.reason, wait=not args.no_wait
    )
    if args.json:
        emit_json(summary if summary is not None else {"session_id": args.session, "closing": True})
    elif summary is None:
        sys.stdout.write(f"closing {args.session}\n")
    else:
        sys.stdout.write(
            f"{summary.session_id} {summary.status}: {summary.reason} "
            f"({summary.turns} turns, {summary.total_messages} messages archived)\n"
        )
    return EXIT_OK


async def _sessions(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    rows = await sessions.list_sessions(
        tenant_id=args.tenant, running_only=not args.all, limit=args.limit
    )
    if args.json:
        emit_json(rows)
        return EXIT_OK
    for row in rows:
        started = row.start_time.isoformat(timespec="seconds") if row.start_time else "-"
        sys.stdout.write(
            f"{row.tenant_id}/{row.session_id}\t{row.status}\tuser={row.user_id or '-'}"
            f"\tmessages={row.message_count if row.message_count is not None else '-'}"
            f"\tstarted={started}\n"
        )
    if not rows:
        sys.stdout.write("no sessions\n")
    return EXIT_OK


async def _chat(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    await chat_loop(sessions, args.session, tenant_id=settings.tenant, user_id=_user(settings))
    return EXIT_OK


async def _memory(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    actor = ActorRef(
        tenant_id=validate_id("tenant id", settings.tenant),
        actor_id=validate_id("actor id", args.actor),
    )
    store = open_memory_store(settings)
    try:
        if args.memory_command == "search":
            namespaces = [args.memory_namespace] if args.memory_namespace else None
            records = await store.search_memories(
                actor, args.query, top_k=args.limit, namespaces=namespaces
            )
        else:
            records = await store.list_memories(
                actor, namespace=args.memory_namespace, limit=args.limit
            )
    finally:
        await store.close()
    if args.json:
        emit_json(records)
        return EXIT_OK
    for record in records:
        score = f" (score {record.score:.2f})" if record.score is not None else ""
        sys.stdout.write(f"[{record.kind}] {record.text}{score}  {record.namespace}\n")
    if not records:
        sys.stdout.write("no memories\n")
    return EXIT_OK


async def _replay(args: argparse.Namespace, settings: Settings) -> int:
    if not args.files and not args.workflow_id:
        raise UsageError("give history files and/or --workflow-id")
    histories = [(str(path), load_history(path)) for path in args.files]
    if args.workflow_id:
        client = await connect_client(settings)
        for workflow_id in args.workflow_id:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
            histories.append((f"live:{workflow_id}", history))
    outcomes = await replay_histories(histories, settings)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    if args.json:
        emit_json({"replayed": len(outcomes), "failed": len(failed), "results": outcomes})
    else:
        for outcome in outcomes:
            mark = "ok  " if outcome.ok else "FAIL"
            sys.stdout.write(f"{mark} {outcome.source} ({outcome.workflow_id})\n")
            if outcome.error:
                sys.stdout.write(f"     {outcome.error}\n")
        sys.stdout.write(f"{len(outcomes) - len(failed)}/{len(outcomes)} replayed cleanly\n")
    return EXIT_FAILED if failed else EXIT_OK


def _codec_keygen(args: argparse.Namespace) -> int:
    existed = args.out.exists()
    ring = write_new_key(args.out, args.key_id)
    if args.json:
        emit_json(
            {"key_file": str(args.out), "current": ring.current, "key_ids": sorted(ring.keys)}
        )
    else:
        action = "rotated" if existed else "created"
        sys.stdout.write(
            f"{action} {args.out}: new key {ring.current!r} is current"
            f" ({len(ring.keys)} key(s) kept for decryption)\n"
            f"use it with CONVOFLOW_CODEC_KEY_FILE={args.out} (or --codec-key-file)\n"
        )
    return EXIT_OK


async def _codec_server(args: argparse.Namespace, settings: Settings) -> int:
    codec = codec_from_settings(settings)
    if codec is None:
        raise UsageError("no codec keys: set CONVOFLOW_CODEC_KEY_FILE or --codec-key-file")
    token = settings.codec_server_token.get_secret_value() if settings.codec_server_token else None
    if args.insecure_dev:
        token = None  # explicit: no auth (local development only)
    elif not token:
        raise UsageError("set CONVOFLOW_CODEC_SERVER_TOKEN, or pass --insecure-dev (local only)")
    origins = args.cors_origin or list(DEFAULT_CORS_ORIGINS)
    app = build_codec_app(codec, token=token, cors_origins=origins, insecure=args.insecure_dev)
    sys.stderr.write(
        f"codec server on http://{args.host}:{args.port} (current key {codec.current_key_id!r},"
        f" CORS {', '.join(origins)}{', NO AUTH' if not token else ''})\n"
        f"UI: temporal server start-dev --ui-codec-endpoint http://{args.host}:{args.port}\n"
    )
    await serve_until_stopped(codec_server(app, args.host, args.port))
    return EXIT_OK


async def _gateway(args: argparse.Namespace, settings: Settings) -> int:
    from client.auth import AuthConfigError
    from client.gateway import serve_gateway

    updates: dict[str, Any] = {}
    if args.host:
        updates["gateway_host"] = args.host
    if args.port is not None:
        updates["gateway_port"] = args.port
    settings = settings.model_copy(update=updates)

    def ready(url: str) -> None:
        sys.stderr.write(
            f"Convoflow gateway on {url} (POST /invocations, GET /ping,"
            f" GET /sessions/ID/history|status); Temporal at {settings.temporal_address},"
            f" task queue {settings.task_queue!r}\n"
        )

    try:
        await serve_gateway(
            settings, insecure_dev=args.insecure_dev, ready=ready, log_requests=args.verbose
        )
    except AuthConfigError as err:
        raise UsageError(str(err)) from None
    return EXIT_OK


def _token(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from client.auth import AuthConfigError, token_from_settings

    if args.ttl <= 0:
        raise UsageError("--ttl must be positive")
    try:
        token = token_from_settings(
            settings, user=args.user, tenant=args.tenant, ttl_seconds=args.ttl
        )
    except AuthConfigError as err:
        raise UsageError(str(err)) from None
    if args.json:
        emit_json({"token": token, "expires_at": int(time.time() + args.ttl)})
    else:
        sys.stdout.write(token + "\n")
    return EXIT_OK


async def _worker(settings: Settings) -> int:
    client = await connect_client(settings, metrics=True)
    await run_worker(client, settings)
    return EXIT_OK


async def _dev(args: argparse.Namespace, settings: Settings) -> int:
    async with dev_server(settings.data_dir, port=args.port, ui_port=args.ui_port) as server:
        settings = settings.model_copy(update={"temporal_address": server.address})
        client = await connect_client(settings, metrics=True)
        async with running_worker(client, settings):
            sys.stderr.write(
                f"Temporal dev server at {server.address} (state in {server.db_path})\n"
                f"Temporal UI: {server.ui_url}/namespaces/{settings.namespace}/workflows\n"
                f"Worker on task queue {settings.task_queue!r}, model {settings.model!r}\n"
            )
            if args.no_chat:
                sys.stderr.write("Press Ctrl-C to stop.\n")
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, stop.set)
                await stop.wait()
            else:
                await chat_loop(
                    SessionClient(client, settings),
                    args.session,
                    tenant_id=settings.tenant,
                    user_id=_user(settings),
                )
            sys.stderr.write("Stopping worker and dev server…\n")
    return EXIT_OK


async def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command; translate errors into messages and exit codes."""
    try:
        settings = settings_from(args)
        if args.command == "dev":
            return await _dev(args, settings)
        if args.command == "worker":
            return await _worker(settings)
        if args.command == "replay":
            return await _replay(args, settings)
        if args.command == "gateway":
            return await _gateway(args, settings)
        if args.command == "token":
            return _token(args, settings)
        if args.command == "codec-keygen":
            return _codec_keygen(args)
        if args.command == "codec-server":
            return await _codec_server(args, settings)
        if args.command == "memory":
            return await _memory(args, settings)
        handlers = {
            "send": _send,
            "submit": _submit,
            "history": _history,
            "status": _status,
            "close": _close,
            "sessions": _sessions,
            "chat": _chat,
        }
        sessions = await SessionClient.connect(settings)
        return await handlers[args.command](args, sessions, settings)
    except (
        MessageRejectedError,
        InvalidIdError,
        UsageError,
        ValidationError,
        CodecConfigError,
    ) as err:
        kind = err.kind if isinstance(err, MessageRejectedError) else type(err).__name__
        _report_error(args, kind, str(err))
        return EXIT_BAD_INPUT
    except (TurnFailedError, SessionNotFoundError, ConvoflowError, DevServerError) as err:
        _report_error(args, type(err).__name__, str(err))
        return EXIT_FAILED
    except RuntimeError as err:
        if "connect" in str(err).lower():
            address = getattr(args, "temporal_address", None) or Settings().temporal_address
            _report_error(args, "ConnectionError", f"cannot reach Temporal at {address}: {err}")
            return EXIT_FAILED
        raise


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``convoflow`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose or args.command == "worker" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code = asyncio.run(run_command(args))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit hard: the interpreter can abort at exit after Temporal work (sdk-python#300).
    os._exit(code)


if __name__ == "__main__":
    main()
