"""Cancelling a running turn: from ``cancel_turn`` to the client's answer, against a no-op.

One dev server and one worker (``python -m bench.worker``) whose echo model waits
``--echo-delay-ms`` before each streamed word. Each run sends a 60-word message (about 6 s of
stream at 100 ms a word), waits until the turn runs, waits a random 0.3-1.3 s more (so the
cancel lands at any phase of the model activity's heartbeat), then times
``SessionClient.cancel`` until it answers (``cancelled``, with the partial reply) and until
the waiting ``send`` gets that reply. The floor, in the same run: ``cancel_turn`` on an idle
session, which answers ``idle`` at once (the same update, nothing to stop). The model
activity learns of a cancel at its next heartbeat, every ``cancel_check_seconds``
(``CONVOFLOW_CANCEL_CHECK_SECONDS``, 0.5 s by default); ``--cancel-check`` runs one stack per
value to show that dependence.
"""

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.cells import ms
from bench.harness import ProcessStack, percentile, process_stack, progress, save, summary_ms
from client import SessionNotFoundError
from models import SessionConfig

WORDS = " ".join(f"w{i}" for i in range(60))
ECHO = SessionConfig(model="echo")
USER = "bench-steer"
SEED = 13


async def _until_processing(stack: ProcessStack, session_id: str) -> None:
    """Wait until the session runs a turn (it may not exist yet)."""
    while True:
        try:
            if (await stack.sessions.status(session_id, user_id=USER)).status == "processing":
                return
        except SessionNotFoundError:
            pass
        await asyncio.sleep(0.02)


async def cancel_runs(stack: ProcessStack, runs: int, rng: random.Random) -> dict[str, Any]:
    """``runs`` cancels of a running slow turn: time to the cancel's answer and to the reply."""
    session_id = f"steer-{uuid.uuid4().hex[:8]}"
    answers: list[float] = []
    replies: list[float] = []
    kept: list[int] = []
    for run in range(runs):
        waiting = asyncio.create_task(
            stack.sessions.send(session_id, WORDS, user_id=USER, config=ECHO)
        )
        await _until_processing(stack, session_id)
        await asyncio.sleep(0.3 + rng.random())
        started = time.perf_counter()
        result = await stack.sessions.cancel(session_id, user_id=USER)
        answers.append(time.perf_counter() - started)
        reply = await waiting
        replies.append(time.perf_counter() - started)
        if result.status != "cancelled" or reply.stop_reason != "cancelled":
            raise RuntimeError(f"run {run}: {result.status} / {reply.stop_reason}")
        kept.append(len(reply.reply))
        progress(f"cancel {run + 1}/{runs}: {answers[-1] * 1000:.0f} ms, {kept[-1]} chars kept")
    return {
        "cancel_answer_ms": summary_ms(answers),
        "waiting_send_reply_ms": summary_ms(replies),
        "partial_reply_chars": {"min": min(kept), "p50": percentile(kept, 50), "max": max(kept)},
        "answers_ms": [round(a * 1000, 1) for a in answers],
    }


async def noop_runs(stack: ProcessStack, runs: int) -> list[float]:
    """``runs`` cancels of an idle session (each answers ``idle``)."""
    session_id = f"steer-idle-{uuid.uuid4().hex[:8]}"
    await stack.sessions.send(session_id, "hello", user_id=USER, config=ECHO)
    latencies = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await stack.sessions.cancel(session_id, user_id=USER)
        latencies.append(time.perf_counter() - started)
        if result.status != "idle":
            raise RuntimeError(f"a cancel of an idle session answered {result.status}")
    return latencies


async def run_one(runs: int, echo_delay_ms: float, cancel_check: float) -> dict[str, Any]:
    """Both measurements on one dev server and worker."""
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as data_dir:
        stack_context = process_stack(
            Path(data_dir), echo_delay_ms=echo_delay_ms, cancel_check_seconds=cancel_check
        )
        async with stack_context as stack:
            progress(f"cancel_check_seconds={cancel_check}: {runs} no-op cancels (idle)")
            await noop_runs(stack, 3)  # warm up
            floor = await noop_runs(stack, runs)
            progress(f"cancel_check_seconds={cancel_check}: {runs} cancels of a running turn")
            cancels = await cancel_runs(stack, runs, rng)
    p50 = cancels["cancel_answer_ms"]["p50"]
    floor_ms = summary_ms(floor)
    return {
        "cancel_check_seconds": cancel_check,
        "floor_noop_cancel_ms": floor_ms,
        **cancels,
        "cancel_p50_over_floor": round(p50 / floor_ms["p50"], 2),
        "cancel_p95_over_floor_p50": round(cancels["cancel_answer_ms"]["p95"] / floor_ms["p50"], 2),
        "cancel_p50_minus_floor_ms": round(p50 - floor_ms["p50"], 1),
    }


async def run(runs: int, echo_delay_ms: float, checks: list[float]) -> dict[str, Any]:
    """One stack per heartbeat interval in ``checks`` (the default first)."""
    return {
        "runs": runs,
        "echo_delay_ms": echo_delay_ms,
        "words": len(WORDS.split()),
        "by_cancel_check": [await run_one(runs, echo_delay_ms, check) for check in checks],
    }


def report_lines(r: dict[str, Any]) -> list[str]:
    """The docs/BENCHMARKS.md section."""
    lines = [
        "## Cancelling a running turn (`cancel_turn`)",
        "",
        f"{r['runs']} runs per row: a {r['words']}-word echo stream at {r['echo_delay_ms']} ms a"
        " word, cancelled 0.3-1.3 s (random, seeded) after the turn started running; timed"
        " from `SessionClient.cancel` to its answer (`cancelled`, with the partial reply) and"
        " to the waiting `send`'s reply. The floor: `cancel_turn` on an idle session (answers"
        " `idle`), same run. p50 / p95 / p99 in ms.",
        "",
        "| heartbeat (`cancel_check_seconds`) | floor: no-op cancel | cancel → answer |"
        " cancel → the waiting send's reply | answer p50 / floor p50 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in r["by_cancel_check"]:
        lines.append(
            f"| {row['cancel_check_seconds']} s | {ms(row['floor_noop_cancel_ms'])} |"
            f" {ms(row['cancel_answer_ms'])} | {ms(row['waiting_send_reply_ms'])} |"
            f" **{row['cancel_p50_over_floor']}x** |"
        )
    first = r["by_cancel_check"][0]
    lines += [
        "",
        "The cancel waits for the model activity's next heartbeat, which carries the cancel"
        " request back to it (heartbeats are throttled to `cancel_check_seconds`): on average"
        " half an interval, at most one, then the activity answers with its text so far and the"
        " turn settles (two more workflow tasks). So the ratio to a no-op is large by design,"
        f" and the absolute cost is what matters: {first['cancel_p50_minus_floor_ms']} ms at"
        f" p50 over the no-op with the default {first['cancel_check_seconds']} s heartbeat. A"
        " shorter `CONVOFLOW_CANCEL_CHECK_SECONDS` cancels sooner for more heartbeat RPCs per"
        " running model call.",
    ]
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench steering``."""
    parser.add_argument("--runs", type=int, default=20, help="cancels per measurement")
    parser.add_argument("--echo-delay-ms", type=float, default=100.0, help="echo per word")
    parser.add_argument(
        "--cancel-check",
        default="0.5",
        help="heartbeat intervals (s) to run, comma-separated; one stack each",
    )


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save bench/results/steering.json."""
    checks = [float(value) for value in args.cancel_check.split(",") if value]
    result = await run(args.runs, args.echo_delay_ms, checks)
    save("steering", result, command)
    return result
