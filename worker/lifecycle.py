"""How every Convoflow process runs and stops: one place handles SIGINT/SIGTERM, one helper
serves an ASGI app (the gateway, the codec server) with a graceful shutdown."""

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.asynccontextmanager
async def stop_signals() -> AsyncIterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (handlers removed after)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


@contextlib.asynccontextmanager
async def on_interrupt(handler: Callable[[], None]) -> AsyncIterator[None]:
    """Call ``handler`` on each SIGINT (Ctrl-C) while the block runs, instead of stopping
    (the chat: the first Ctrl-C cancels the running turn). The default comes back after."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, handler)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: :func:`stop_signals` decides when to stop
    (uvicorn's would re-raise SIGINT after a graceful stop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    lifespan: Literal["on", "off"] = "on",
    sock: socket.socket | None = None,
) -> AsyncIterator[str]:
    """Serve ``app`` for the ``async with`` block; yield its base URL (``port=0``: any free
    port). Leaving the block stops it gracefully (open requests finish)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan=lifespan)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock] if sock is not None else None))
    while not server.started:
        if task.done():
            await task  # raises why it could not start
            raise RuntimeError(f"the server on {host}:{port} did not start (see the log above)")
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        await task


async def serve_until_stopped(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    ready: Callable[[str], None] | None = None,
    lifespan: Literal["on", "off"] = "on",
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM; ``ready`` gets the base URL once it listens."""
    async with stop_signals() as stop, serving(app, host, port, lifespan=lifespan) as url:
        if ready is not None:
            ready(url)
        await stop.wait()


def bound_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A bound socket (``port=0``: an ephemeral one) to hand to :func:`serving`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock
