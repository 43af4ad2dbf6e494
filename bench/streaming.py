"""Streaming overhead: the local model alone vs. the same model through a streamed session turn.

Both paths get the same prompts, system prompt and sampling seed, so they generate the same
tokens; the difference is what Convoflow adds (update, activity, stream batches, polling).
"""

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from activities.providers.local import LocalLlamaModel
from bench.harness import percentile, progress, save, stack, summary_ms
from client import Delta, SessionClient
from models import ChatReply, SessionConfig
from models.settings import Settings

SYSTEM = "You are a helpful assistant. Answer briefly and accurately."
PROMPTS = [
    "What is the capital of France?",
    "Name three colours.",
    "What is two plus two?",
    "Say hello politely.",
    "Name a fruit that is yellow.",
    "What do bees make?",
    "Which planet do we live on?",
    "How many days are in a week?",
]


async def model_alone(model: LocalLlamaModel, prompt: str) -> tuple[float, float, int]:
    """(time to first token, first-to-last token seconds, tokens) straight from the model."""
    started = time.monotonic()
    first = last = 0.0
    tokens = 0
    async for event in model.stream(
        [{"role": "user", "content": [{"text": prompt}]}], None, SYSTEM
    ):
        if "contentBlockDelta" in event:
            last = time.monotonic()
            first = first or last
            tokens += 1
    return first - started, last - first, tokens


async def through_session(
    sessions: SessionClient, session_id: str, prompt: str, config: SessionConfig
) -> tuple[float, float, int]:
    """The same, as a client of a streamed session turn sees it."""
    started = time.monotonic()
    first = last = 0.0
    reply: ChatReply | None = None
    async for item in sessions.stream(session_id, prompt, config=config):
        if isinstance(item, Delta):
            last = time.monotonic()
            first = first or last
        elif isinstance(item, ChatReply):
            reply = item
    assert reply is not None
    return first - started, last - first, reply.usage.output_tokens


def rate(spans: list[float], tokens: list[int]) -> float:
    """Tokens per second over the decode spans."""
    return sum(tokens) / max(sum(spans), 1e-9)


async def run(rounds: int, batch_ms: int) -> dict[str, Any]:
    """Alternate model-alone and end-to-end turns over the prompt set ``rounds`` times."""
    settings = Settings()
    model = LocalLlamaModel(
        settings.providers.local_model_path,
        max_tokens=settings.providers.local_max_tokens,
        threads=settings.providers.local_threads,
        temperature=settings.providers.local_temperature,
        seed=settings.providers.local_seed,
    )
    config = SessionConfig(
        model="local",
        system_prompt=SYSTEM,
        context_messages=0,
        search_attributes=False,
        stream_batch_interval=timedelta(milliseconds=batch_ms),
    )
    alone: dict[str, list[Any]] = {"ttft": [], "span": [], "tokens": []}
    e2e: dict[str, list[Any]] = {"ttft": [], "span": [], "tokens": []}
    with tempfile.TemporaryDirectory() as data_dir:
        async with stack(Path(data_dir), model="local") as bench:
            await model_alone(model, "warm up")
            await through_session(bench.sessions, "bench-stream", "warm up", config)
            for round_number in range(rounds):
                progress(f"streaming round {round_number + 1}/{rounds}")
                for prompt in PROMPTS:
                    for target, sample in (
                        (alone, await model_alone(model, prompt)),
                        (
                            e2e,
                            await through_session(bench.sessions, "bench-stream", prompt, config),
                        ),
                    ):
                        target["ttft"].append(sample[0])
                        target["span"].append(sample[1])
                        target["tokens"].append(sample[2])
    overhead = [c - m for c, m in zip(e2e["ttft"], alone["ttft"], strict=True)]
    alone_rate = rate(alone["span"], alone["tokens"])
    e2e_rate = rate(e2e["span"], e2e["tokens"])
    return {
        "turns": len(overhead),
        "stream_batch_interval_ms": batch_ms,
        "model_first_token_ms": summary_ms(alone["ttft"]),
        "client_first_token_ms": summary_ms(e2e["ttft"]),
        "added_first_token_ms": summary_ms(overhead),
        "added_first_token_p50_goal_ms": 150,
        "added_first_token_p50_met": percentile([o * 1000 for o in overhead], 50) <= 150,
        "model_tokens_per_s": round(alone_rate, 1),
        "end_to_end_tokens_per_s": round(e2e_rate, 1),
        "tokens_per_s_ratio": round(e2e_rate / alone_rate, 3),
        "tokens_per_s_ratio_goal": 0.9,
        "tokens_per_s_ratio_met": e2e_rate / alone_rate >= 0.9,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench streaming``."""
    parser.add_argument("--rounds", type=int, default=3, help="passes over the prompt set")
    parser.add_argument("--batch-ms", type=int, default=100, help="stream batch interval")


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    result = await run(args.rounds, args.batch_ms)
    save("streaming", result, command)
    return result
