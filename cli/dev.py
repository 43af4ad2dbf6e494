"""``convoflow dev``: the whole stack on one machine, bound to loopback.

A Temporal dev server (state in the data dir), a worker, the HTTP gateway with its chat page
(insecure dev mode: every request acts as the CLI's tenant and user), optionally the codec
server wired into the Temporal UI, and the terminal chat.
"""

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator

from agents import registry
from cli.chat import chat_loop
from cli.parser import EXIT_OK, UsageError, _user
from client.session_client import SessionClient
from models.settings import Settings
from worker.client import connect_client
from worker.codec import codec_from_settings, write_new_key
from worker.codec_server import build_codec_app, ui_origins
from worker.dev_server import DevServer, dev_server, port_in_use
from worker.lifecycle import serving, stop_signals
from worker.run import running_worker

LOOPBACK = "127.0.0.1"
DEV_KEY_FILE = "codec-keys.json"
DEV_USER = "dev"


def _with_dev_codec(settings: Settings) -> Settings:
    """Settings with codec keys: the configured ones, else a dev key file in the data dir."""
    if settings.codec.codec_key_file is not None or settings.codec.codec_keys is not None:
        return settings
    path = settings.memory.data_dir / DEV_KEY_FILE
    if not path.exists():
        write_new_key(path)
    return settings.updated(codec_key_file=path)


def _check_free(port: int, what: str, flag: str) -> None:
    if port and port_in_use(LOOPBACK, port):
        raise UsageError(f"port {port} for the {what} is in use; pick another with {flag}")


@contextlib.asynccontextmanager
async def _codec_server(settings: Settings, port: int, server: DevServer) -> AsyncIterator[str]:
    codec = codec_from_settings(settings)
    assert codec is not None  # _with_dev_codec gave it keys
    # No token: loopback only, like the gateway's insecure dev mode.
    app = build_codec_app(codec, token=None, cors_origins=ui_origins(server.ui_port), insecure=True)
    async with serving(app, LOOPBACK, port, lifespan="off") as url:
        yield url


async def run_dev(args: argparse.Namespace, settings: Settings) -> int:
    """Run the dev stack until the chat ends (or Ctrl-C with ``--no-chat``)."""
    if args.codec_server:
        settings = _with_dev_codec(settings)
        _check_free(args.codec_port, "codec server", "--codec-port")
    codec_url = f"http://{LOOPBACK}:{args.codec_port}" if args.codec_server else None
    if not args.no_gateway:
        _check_free(args.gateway_port, "gateway", "--gateway-port")
    data_dir = settings.memory.data_dir
    async with (
        dev_server(data_dir, port=args.port, ui_port=args.ui_port, codec_url=codec_url) as server,
        contextlib.AsyncExitStack() as stack,
    ):
        # The chat page and the terminal chat act as the same user, so both see the session.
        settings = settings.updated(
            temporal_address=server.address,
            temporal_ui_url=server.ui_url,
            user=settings.cli.user or DEV_USER,
        )
        client = await connect_client(settings, metrics=True)
        await stack.enter_async_context(running_worker(client, settings))
        connection = settings.connection
        lines = [
            f"Temporal dev server at {server.address} (state in {server.db_path})",
            f"Temporal UI: {server.ui_url}/namespaces/{connection.namespace}/workflows",
            f"Worker on task queue {connection.task_queue!r},"
            f" model {settings.providers.model!r}, agent {settings.providers.agent!r}"
            f" (agents: {', '.join(registry.names())})",
        ]
        if codec_url is not None:
            await stack.enter_async_context(_codec_server(settings, args.codec_port, server))
            lines.append(f"Codec server: {codec_url} (the UI decodes sessions through it)")
        sessions = SessionClient(client, settings)
        if not args.no_gateway:
            from gateway import build_gateway

            app = build_gateway(settings, sessions=sessions, insecure_dev=True)
            url = await stack.enter_async_context(serving(app, LOOPBACK, args.gateway_port))
            lines.append(f"Chat page: {url}/  (gateway in insecure dev mode, loopback only)")
        sys.stderr.write("\n".join(lines) + "\n")
        if args.no_chat:
            sys.stderr.write("Press Ctrl-C to stop.\n")
            async with stop_signals() as stop:
                await stop.wait()
        else:
            await chat_loop(
                sessions, args.session, tenant_id=settings.cli.tenant, user_id=_user(settings)
            )
        sys.stderr.write("Stopping…\n")
    return EXIT_OK
