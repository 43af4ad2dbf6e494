"""Recall cost: long-term memory search with 10,000 records per actor, and what it adds to a turn.

Measures the SQLite store's search directly, then turn latency for a user with 10,000
memories (recall on) against the same sessions with recall off, in the same run.
"""

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.memory import SqliteMemoryStore
from bench.harness import percentile, process_stack, progress, save, summary_ms
from models import SessionConfig
from models.memory import ActorRef, MemoryRecord

WORDS = [
    "seat",
    "window",
    "aisle",
    "flight",
    "train",
    "coffee",
    "tea",
    "music",
    "jazz",
    "rock",
    "hiking",
    "running",
    "swimming",
    "python",
    "rust",
    "garden",
    "dog",
    "cat",
    "lisbon",
    "paris",
    "oslo",
    "tokyo",
    "vegetarian",
    "spicy",
    "sweet",
    "morning",
    "evening",
    "book",
    "film",
    "opera",
    "chess",
    "football",
    "tennis",
    "sailing",
    "skiing",
    "bread",
    "cheese",
    "wine",
]


def fake_memories(actor_id: str, count: int, seed: int = 1) -> list[MemoryRecord]:
    """``count`` varied fact/preference records."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    records = []
    for index in range(count):
        kind = "preference" if index % 2 else "fact"
        words = " ".join(rng.sample(WORDS, 6))
        records.append(
            MemoryRecord(
                record_id=f"r{index}",
                namespace=f"/{kind}s/{actor_id}/",
                kind=kind,
                text=f"User mentioned {words} (note {index})",
                created_at=now,
            )
        )
    return records


async def run(records: int, queries: int, turns: int) -> dict[str, Any]:
    """Fill the store, time searches, then time turns with recall on and off."""
    rng = random.Random(2)
    with tempfile.TemporaryDirectory() as data_dir:
        store = SqliteMemoryStore(Path(data_dir) / "memory.db")
        actor = ActorRef(tenant_id="default", actor_id="recall-user")
        progress(f"recall: writing {records} memories for one actor")
        for start in range(0, records, 1000):
            await store.save_memories(
                actor, fake_memories("recall-user", records)[start : start + 1000]
            )
        prompts = [" ".join(rng.sample(WORDS, 5)) + "?" for _ in range(queries)]
        searches = []
        for prompt in prompts:
            started = time.perf_counter()
            await store.search_memories(actor, prompt, top_k=5)
            searches.append(time.perf_counter() - started)
        await store.close()

        async with process_stack(Path(data_dir)) as stack:
            timings: dict[str, list[float]] = {"on": [], "off": []}
            configs = {
                "on": SessionConfig(model="echo", recall_top_k=5),
                "off": SessionConfig(model="echo", recall_top_k=0),
            }
            sessions = {mode: f"recall-{mode}-{uuid.uuid4().hex[:6]}" for mode in configs}
            for mode, config in configs.items():
                await stack.sessions.send(
                    sessions[mode], "hello", user_id="recall-user", config=config
                )
            progress(f"recall: {turns} turns each with recall on and off, interleaved")
            for turn in range(turns):
                for mode in ("on", "off"):
                    started = time.perf_counter()
                    await stack.sessions.send(
                        sessions[mode], prompts[turn % len(prompts)], user_id="recall-user"
                    )
                    timings[mode].append(time.perf_counter() - started)
    added = percentile(timings["on"], 50) - percentile(timings["off"], 50)
    return {
        "records_per_actor": records,
        "search_ms": summary_ms(searches),
        "turn_recall_on_ms": summary_ms(timings["on"]),
        "turn_recall_off_ms": summary_ms(timings["off"]),
        "recall_adds_p50_ms": round(added * 1000, 2),
        "goal_adds_p50_ms": 10,
        "goal_met": added * 1000 <= 10,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench recall``."""
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--turns", type=int, default=100)


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    result = await run(args.records, args.queries, args.turns)
    save("recall", result, command)
    return result
