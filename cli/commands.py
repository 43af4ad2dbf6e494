"""What each ``convoflow`` subcommand does (session commands, memory, replay, servers)."""

import argparse
import json
import sys
from typing import Any

from cli.chat import chat_loop
from cli.parser import (
    EXIT_FAILED,
    EXIT_OK,
    HISTORY_PAGE,
    UsageError,
    _user,
    emit_json,
)
from cli.steering import new_session_config
from client.errors import (
    SessionNotFoundError,
)
from client.session_client import SessionClient
from models import ActorRef, ChatMessage, SessionRef, validate_id
from models.settings import Settings
from worker.client import connect_client
from worker.codec import codec_from_settings, write_new_key
from worker.codec_server import DEFAULT_CORS_ORIGINS, build_codec_app
from worker.lifecycle import serve_until_stopped
from worker.replay import load_history, replay_histories
from worker.run import open_memory_store
from workflows.tool_calls import kept_tool_calls


async def _send(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    reply = await sessions.send(
        args.session,
        args.text,
        tenant_id=settings.cli.tenant,
        user_id=_user(settings),
        message_id=args.message_id,
        config=new_session_config(args),
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
        tenant_id=settings.cli.tenant,
        user_id=_user(settings),
        message_id=args.message_id,
        config=new_session_config(args),
    )
    if args.json:
        emit_json({"message_id": message_id, "session_id": args.session, "queued": True})
    else:
        sys.stdout.write(f"queued {message_id}\n")
    return EXIT_OK


async def _stored_messages(settings: Settings, session_id: str) -> list[ChatMessage]:
    """Every message of a session from the memory store, paging through it."""
    store = open_memory_store(settings)
    ref = SessionRef(tenant_id=settings.cli.tenant, session_id=session_id)
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
            args.session, tenant_id=settings.cli.tenant, limit=args.limit, user_id=_user(settings)
        )
    if args.json:
        emit_json(messages)
        return EXIT_OK
    if messages and messages[0].seq:
        sys.stdout.write(f"({messages[0].seq} earlier messages are in the memory store)\n")
    for message in messages:
        stamp = message.timestamp.isoformat(timespec="seconds") if message.timestamp else ""
        meta = message.metadata or {}
        flag = (
            " (alternative)"
            if meta.get("alternative")
            else " (cancelled)"
            if meta.get("stop_reason") == "cancelled"
            else ""
        )
        for call in kept_tool_calls(message):
            arguments = json.dumps(call.input, ensure_ascii=False)[:200]
            sys.stdout.write(
                f"[{message.seq}] {stamp} tool {call.name} {arguments} -> {call.status}:"
                f" {call.result[:200]}\n"
            )
        sys.stdout.write(f"[{message.seq}] {stamp} {message.role}{flag}: {message.message}\n")
    return EXIT_OK


async def _status(args: argparse.Namespace, sessions: SessionClient, settings: Settings) -> int:
    status = await sessions.status(
        args.session, tenant_id=settings.cli.tenant, user_id=_user(settings)
    )
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
        args.session, tenant_id=settings.cli.tenant, reason=args.reason, wait=not args.no_wait
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
    await chat_loop(
        sessions,
        args.session,
        tenant_id=settings.cli.tenant,
        user_id=_user(settings),
        config=new_session_config(args),
    )
    return EXIT_OK


async def _memory(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    actor = ActorRef(
        tenant_id=validate_id("tenant id", settings.cli.tenant),
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
    token = (
        settings.codec.codec_server_token.get_secret_value()
        if settings.codec.codec_server_token
        else None
    )
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
    await serve_until_stopped(app, args.host, args.port, lifespan="off")
    return EXIT_OK


async def _gateway(args: argparse.Namespace, settings: Settings) -> int:
    from gateway import serve_gateway
    from gateway.auth import AuthConfigError

    updates: dict[str, Any] = {}
    if args.host:
        updates["gateway_host"] = args.host
    if args.port is not None:
        updates["gateway_port"] = args.port
    settings = settings.updated(**updates)

    connection = settings.connection

    def ready(url: str) -> None:
        sys.stderr.write(
            f"Convoflow gateway on {url} (POST /invocations, GET /ping,"
            f" GET /sessions/ID/history|status); Temporal at {connection.temporal_address},"
            f" task queue {connection.task_queue!r}\n"
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

    from gateway.auth import AuthConfigError, token_from_settings

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
