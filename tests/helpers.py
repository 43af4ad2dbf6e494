"""Small helpers shared by the Temporal-backed tests."""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle

from models import ChatMessage

T = TypeVar("T")


def new_session_id(prefix: str = "s") -> str:
    """A unique session id for one test."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def eventually(
    probe: Callable[[], Awaitable[T]],
    check: Callable[[T], bool],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> T:
    """Poll ``probe`` until ``check`` holds; fail with the last value after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    value = await probe()
    while not check(value):
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(interval)
        value = await probe()
    return value


def assert_well_formed(messages: list[ChatMessage]) -> None:
    """Every user message is followed by its own reply; seqs are contiguous, none repeated."""
    seqs = [m.seq for m in messages]
    assert seqs == list(range(seqs[0] or 0, (seqs[0] or 0) + len(seqs))), seqs
    ids = [m.message_id for m in messages]
    assert len(ids) == len(set(ids)), "duplicate message ids in history"
    for user, reply in zip(messages[::2], messages[1::2], strict=True):
        assert user.role == "user", user
        assert reply.role in ("assistant", "error"), reply
        assert reply.reply_to == user.message_id


async def settled_event_count(handle: WorkflowHandle[Any, Any]) -> int:
    """History length once the workflow has no pending activity and nothing new arrives."""
    previous = -1
    while True:
        description = await handle.describe()
        count = len((await handle.fetch_history()).events)
        if not description.raw_description.pending_activities and count == previous:
            return count
        previous = count
        await asyncio.sleep(0.2)


async def temporal(address: str, *args: str) -> Any:
    """Run ``temporal <args> --address A -o json`` and parse its JSON output."""
    from tests.conftest import TEMPORAL_CLI

    process = await asyncio.create_subprocess_exec(
        str(TEMPORAL_CLI),
        *args,
        "--address",
        address,
        "-o",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return json.loads(out) if out.strip() else None
