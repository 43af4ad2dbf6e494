"""The interactive chat used by ``convoflow chat`` and ``convoflow dev``."""

import asyncio
import contextlib
import json
import sys
import threading
from collections.abc import AsyncIterator
from typing import TextIO

from client.errors import ConvoflowError, SessionNotFoundError
from client.session_client import SessionClient
from client.streaming import ApprovalEvent, StreamRestart, ToolEvent
from models import ChatReply, SessionConfig
from worker.lifecycle import on_interrupt
from workflows.tool_calls import kept_tool_calls

HELP = (
    "Type a message and press Enter. Commands: /history, /status, /regenerate, /close, "
    "/quit (Ctrl-D also quits; the session stays open until it expires). Ctrl-C while a "
    "reply streams cancels it; a second Ctrl-C quits. A tool call that needs approval asks "
    "y (run it) or n [why not]."
)
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@contextlib.asynccontextmanager
async def spinner(label: str, out: TextIO = sys.stderr) -> AsyncIterator[None]:
    """Show a spinner on a terminal while the block runs (nothing when not a terminal)."""
    if not out.isatty():
        yield
        return

    async def spin() -> None:
        frame = 0
        while True:
            out.write(f"\r{SPINNER[frame % len(SPINNER)]} {label}")
            out.flush()
            frame += 1
            await asyncio.sleep(0.1)

    task = asyncio.create_task(spin())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        out.write("\r" + " " * (len(label) + 2) + "\r")
        out.flush()


async def _read_line(prompt: str, interactive: bool) -> str | None:
    """One line from stdin (``None`` at end of input) without blocking the event loop.

    A daemon thread reads, so Ctrl-C never waits for a pending ``input()``.
    """
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str | None] = loop.create_future()

    def read() -> None:
        try:
            text: str | None = input(prompt) if interactive else sys.stdin.readline()
        except EOFError:
            text = None
        if text == "" and not interactive:
            text = None
        elif text is not None:
            text = text.rstrip("\n")

        def deliver() -> None:
            if not line.done():
                line.set_result(text)

        loop.call_soon_threadsafe(deliver)

    threading.Thread(target=read, name="stdin-reader", daemon=True).start()
    return await line


async def stream_reply(
    sessions: SessionClient,
    session_id: str,
    text: str,
    tenant_id: str,
    user_id: str | None,
    out: TextIO,
    config: SessionConfig | None = None,
) -> ChatReply:
    """Send ``text`` and print the reply as it streams (tool calls on lines of their own),
    with a spinner until something arrives; a call waiting for approval is asked inline."""
    tokens = sessions.stream(session_id, text, tenant_id=tenant_id, user_id=user_id, config=config)
    waiting = spinner("thinking…")
    await waiting.__aenter__()
    spinning, in_reply = True, False
    reply: ChatReply | None = None
    try:
        async for item in tokens:
            if spinning:
                await waiting.__aexit__(None, None, None)
                spinning = False
            if isinstance(item, ApprovalEvent):
                if item.kind == "approval_required":
                    await ask_approval(sessions, session_id, item, tenant_id, user_id, out)
                elif item.request.answered_by != user_id or user_id is None:
                    out.write(f"  [approval {item.request.tool}: {item.request.state}]\n")
            elif isinstance(item, ToolEvent):
                if in_reply:
                    out.write("\n")
                    in_reply = False
                out.write(tool_line(item) + "\n")
            elif isinstance(item, StreamRestart):
                if item.reason == "retry":
                    out.write("\n(the model was retried; starting over)\n")
                    in_reply = False
            elif isinstance(item, ChatReply):
                reply = item
            else:
                if not in_reply:
                    out.write("assistant> ")
                    in_reply = True
                out.write(item)
            out.flush()
    finally:
        if spinning:
            await waiting.__aexit__(None, None, None)
    if not in_reply:
        out.write("assistant> ")
    out.write("\n")
    assert reply is not None
    if reply.stop_reason == "cancelled":
        out.write("(cancelled)\n")
    return reply


async def ask_approval(
    sessions: SessionClient,
    session_id: str,
    event: ApprovalEvent,
    tenant_id: str,
    user_id: str | None,
    out: TextIO,
) -> None:
    """Ask whether the paused tool call may run: ``y`` approves, ``n [message]`` denies."""
    request = event.request
    arguments = json.dumps(request.input, ensure_ascii=False)[:200]
    out.write(f"  [approval needed: {request.tool} {arguments} ({request.reason})]\n")
    out.flush()
    while True:
        line = await _read_line("approve? (y / n [why not]) ", sys.stdin.isatty())
        answer = (line or "n").strip()
        word, _, why = answer.partition(" ")
        if word.lower() in ("y", "yes", "n", "no"):
            break
        out.write("answer y or n\n")
    try:
        if word.lower() in ("y", "yes"):
            await sessions.approve(session_id, request.id, tenant_id=tenant_id, user_id=user_id)
        else:
            await sessions.deny(
                session_id,
                request.id,
                message=why.strip() or None,
                tenant_id=tenant_id,
                user_id=user_id,
            )
    except ConvoflowError as err:  # answered elsewhere first, or timed out
        out.write(f"  [approval {request.tool}: {err}]\n")


async def steered_reply(
    sessions: SessionClient,
    session_id: str,
    text: str,
    tenant_id: str,
    user_id: str | None,
    out: TextIO,
    config: SessionConfig | None = None,
) -> None:
    """:func:`stream_reply` where Ctrl-C cancels the turn (the partial reply is kept) and
    a second Ctrl-C quits (``KeyboardInterrupt``)."""
    turn = asyncio.create_task(
        stream_reply(sessions, session_id, text, tenant_id, user_id, out, config)
    )
    cancels: list[asyncio.Task[object]] = []

    def interrupted() -> None:
        if cancels:
            turn.cancel()
            return
        out.write("\n(cancelling the turn; Ctrl-C again quits)\n")
        out.flush()
        cancel = sessions.cancel(session_id, tenant_id=tenant_id, user_id=user_id)
        cancels.append(asyncio.ensure_future(cancel))

    async with on_interrupt(interrupted):
        try:
            await turn
        except asyncio.CancelledError:
            if not turn.cancelled():
                raise
            raise KeyboardInterrupt from None
        finally:
            for cancel in cancels:
                with contextlib.suppress(Exception):
                    await cancel


def tool_line(event: ToolEvent) -> str:
    """How the chat shows a tool call starting or ending."""
    if event.kind == "start":
        arguments = json.dumps(event.input or {}, ensure_ascii=False)
        return f"  [tool {event.name} {arguments[:200]}]"
    mark = "ok" if event.status == "success" else "failed"
    result = (event.result or "").replace("\n", " ")
    return f"  [tool {event.name} {mark}: {result[:200]}]"


async def chat_loop(
    sessions: SessionClient,
    session_id: str,
    *,
    tenant_id: str = "default",
    user_id: str | None = None,
    out: TextIO = sys.stdout,
    config: SessionConfig | None = None,
) -> None:
    """Read messages from stdin and print replies until end of input or ``/quit``
    (``config``: of the session when the first message starts it)."""
    interactive = sys.stdin.isatty()
    if interactive:
        out.write(f"Session {tenant_id}/{session_id}. {HELP}\n")
    while True:
        line = await _read_line("you> ", interactive)
        if line is None or line.strip() == "/quit":
            return
        text = line.strip()
        if not text:
            continue
        try:
            if text == "/history":
                for message in await sessions.history(session_id, tenant_id=tenant_id):
                    for call in kept_tool_calls(message):
                        out.write(f"[{message.seq}] tool {call.name}: {call.result[:200]}\n")
                    out.write(f"[{message.seq}] {message.role}: {message.message}\n")
            elif text == "/status":
                status = await sessions.status(session_id, tenant_id=tenant_id)
                out.write(status.model_dump_json(indent=2) + "\n")
            elif text == "/close":
                summary = await sessions.close(session_id, tenant_id=tenant_id)
                out.write(f"closed after {summary.turns if summary else '?'} turns\n")
                return
            elif text == "/regenerate":
                reply = await sessions.regenerate(session_id, tenant_id=tenant_id, user_id=user_id)
                out.write(f"assistant> {reply.reply}\n")
            elif text in ("/help", "/?"):
                out.write(HELP + "\n")
            else:
                await steered_reply(sessions, session_id, text, tenant_id, user_id, out, config)
        except SessionNotFoundError:
            out.write("(no session yet: send a message to open it)\n")
        except ConvoflowError as err:
            out.write(f"error: {err}\n")
        out.flush()
