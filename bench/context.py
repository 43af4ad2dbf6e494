"""Context that fits: late questions about early facts, answered by the local model.

A scripted 200-turn conversation (facts stated in the first turns, then scripted questions
and answers on other topics) is replayed through the session's own context functions
(``workflows/context.py``, ``workflows/session/summary.left_context``, the summary activity
run in an ``ActivityEnvironment``, recall from a SQLite memory store) with three settings:

- (a) ``last10``: the last 10 messages, as before the token budget;
- (b) ``budget``: the token budget only (the local default, 4,096 - 512);
- (c) ``budget+summary+recall``: the budget, the running summary written by the local model,
  and recalled memories (mined by the extraction rules to keep the run short).

Then each question about an early fact is asked as the next turn (each on its own, the
conversation unchanged), and the answer counts as correct when it names the fact. Input
tokens per turn are counted with llama.cpp's tokenizer for every one of the 200 turns.
"""

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strands.models import Model
from temporalio.testing import ActivityEnvironment

from activities.memory import SqliteMemoryStore
from activities.memory.extract import extract_by_rules, memory_block
from activities.memory.summary import SummaryActivities
from activities.providers.budget import BudgetedModel, fit_request
from activities.providers.local import LocalLlamaModel
from activities.providers.validation import ValidatedStreamModel
from bench.harness import progress, save
from models import ChatMessage, SessionConfig, SessionInput, SessionRef
from models.memory import ActorRef
from models.summary import ConversationSummary
from models.summary_inputs import SummariseInput
from workflows.context import (
    BUDGET_KEY,
    build_context,
    context_budget,
    pinned_blocks,
    user_text,
)
from workflows.session.options import SUMMARY_BATCH
from workflows.session.summary import left_context
from workflows.window import model_messages, system_prompt_for

SYSTEM = "You are a helpful assistant. Answer briefly and accurately."
FACTS: list[tuple[str, str, str]] = [
    ("Hi! My name is Alice Moreau.", "What is my name?", "alice"),
    ("I live in Lisbon, near the river.", "Which city do I live in?", "lisbon"),
    ("My dog is called Rex.", "What is my dog's name?", "rex"),
    ("Remember that my order number is 58213.", "What is my order number?", "58213"),
    ("I play the cello in an orchestra.", "Which instrument do I play?", "cello"),
    (
        "I work at a bakery called Sweet Crumbs.",
        "What is the bakery where I work called?",
        "crumbs",
    ),
    ("My favourite colour is green.", "What is my favourite colour?", "green"),
    ("My favourite food is paella.", "What is my favourite food?", "paella"),
    ("My sister Clara is visiting on Friday.", "Who is visiting me on Friday?", "clara"),
    ("My flight to Oslo leaves at 7:45.", "Where is my flight going?", "oslo"),
]
TOPICS = [
    "volcanoes",
    "bread baking",
    "the Roman empire",
    "jazz",
    "photosynthesis",
    "chess openings",
    "the moon landing",
    "bicycles",
    "coral reefs",
    "printing presses",
    "tea ceremonies",
    "glaciers",
    "the violin",
    "bees",
    "railways",
    "origami",
    "the Nile",
    "comets",
    "cheese",
    "lighthouses",
]
SENTENCES = [
    "It has a long history that many people find surprising.",
    "Experts still debate some of the details.",
    "The basic idea is simple, but the practice takes years to master.",
    "Small changes in conditions can lead to very different results.",
    "It appears in stories and songs from many cultures.",
    "Scientists have studied it with new instruments in recent decades.",
    "Most of what we know comes from careful observation.",
    "It is easy to get started and hard to stop once you do.",
]
STRATEGIES = ["last10", "budget", "budget+summary+recall"]


def script(turns: int, seed: int = 7) -> list[tuple[str, str]]:
    """(user, assistant) texts of the scripted conversation: facts first, then filler."""
    rng = random.Random(seed)
    pairs = [(fact, "Got it, thank you for telling me.") for fact, _, _ in FACTS]
    while len(pairs) < turns:
        topic = rng.choice(TOPICS)
        question = f"Turn {len(pairs)}: can you tell me something about {topic}?"
        answer = f"Here is something about {topic}. " + " ".join(rng.sample(SENTENCES, 4))
        pairs.append((question, answer))
    return pairs[:turns]


def chat(pairs: list[tuple[str, str]]) -> list[ChatMessage]:
    """The pairs as the session's messages (answered turns, sequence numbers)."""
    messages: list[ChatMessage] = []
    for index, (question, answer) in enumerate(pairs):
        uid = f"u{index}"
        messages.append(ChatMessage(message_id=uid, role="user", message=question, seq=2 * index))
        messages.append(
            ChatMessage(
                message_id=f"a{index}",
                role="assistant",
                message=answer,
                reply_to=uid,
                seq=2 * index + 1,
            )
        )
    return messages


class Memory:
    """Strategy (c)'s state: the running summary and the long-term memory store."""

    def __init__(self, store: SqliteMemoryStore, summaries: SummaryActivities, by: str) -> None:
        self.by = by
        self.store = store
        self.summaries = summaries
        self.summary: ConversationSummary | None = None
        self.actor = ActorRef(tenant_id="default", actor_id="bench-user")
        self.calls = 0
        self.seconds = 0.0

    async def after_turn(
        self, messages: list[ChatMessage], session: SessionInput, batch: int
    ) -> None:
        """Mine the turn's user message (rules) and update the summary in batches."""
        records = extract_by_rules(self.actor, [m for m in messages[-2:] if m.role == "user"])
        if records:
            await self.store.save_memories(self.actor, records)
        while True:
            left = left_context(messages, session, self.summary)
            if len(left) < batch:
                return
            request = SummariseInput(
                session=SessionRef(tenant_id="default", session_id="bench-context"),
                actor=self.actor,
                model="local" if self.by == "model" else None,
                previous=self.summary,
                messages=left,
            )
            started = time.monotonic()
            self.summary = await ActivityEnvironment().run(
                self.summaries.summarise_conversation, request
            )
            self.calls += 1
            self.seconds += time.monotonic() - started
            progress(f"summary {self.calls} through seq {self.summary.through_seq}")

    async def recalled(self, query: str, top_k: int = 5) -> str:
        return memory_block(await self.store.search_memories(self.actor, query, top_k=top_k))


async def request_for(
    strategy: str,
    messages: list[ChatMessage],
    prompt: str,
    memory: Memory,
    budget: int,
) -> tuple[list[dict[str, Any]], str]:
    """The history + prompt and system prompt the strategy sends."""
    if strategy == "last10":
        return [*model_messages(messages, 10), user_text(prompt)], SYSTEM
    pinned = ""
    if strategy == "budget+summary+recall":
        summary = memory.summary.text if memory.summary else ""
        pinned = pinned_blocks(SYSTEM, summary, await memory.recalled(prompt), budget)
    system = system_prompt_for(SYSTEM, None, pinned)
    context = build_context(model_messages(messages, 1000), user_text(prompt), system, budget, 1000)
    return [*context.history, context.prompt], system


async def answer(
    model: Model, messages: list[dict[str, Any]], system: str, budget: int
) -> tuple[str, int]:
    """The model's answer text and the input tokens it read."""
    text, tokens = "", 0
    stream = model.stream(messages, None, system, invocation_state={BUDGET_KEY: budget})  # type: ignore[arg-type]
    async for event in stream:
        delta: Any = event.get("contentBlockDelta", {}).get("delta", {})
        text += delta.get("text", "") if isinstance(delta, dict) else ""
        usage = event.get("metadata", {}).get("usage")
        if usage:
            tokens = int(usage["inputTokens"])
    return text.strip(), tokens


def _stats(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "mean": round(sum(values) / len(values), 1),
        "p50": ordered[len(ordered) // 2],
        "max": ordered[-1],
    }


async def run(
    turns: int, questions: int, summary_batch: int, threads: int, summary_by: str
) -> dict[str, Any]:
    """Replay the conversation, count tokens per turn, ask the questions."""
    pairs = script(turns)
    budget = context_budget("local", None)
    counter = LocalLlamaModel(threads=threads)
    answers_model = ValidatedStreamModel(
        BudgetedModel(LocalLlamaModel(max_tokens=48, threads=threads)), "local"
    )

    def summary_model() -> Model:
        return ValidatedStreamModel(
            BudgetedModel(LocalLlamaModel(max_tokens=256, threads=threads)), "local"
        )

    factories: dict[str, Callable[[], Model]] = {"local": summary_model}
    session = SessionInput(
        session_id="bench-context",
        config=SessionConfig(model="local", system_prompt=SYSTEM, context_messages=1000),
    )
    with tempfile.TemporaryDirectory() as data:
        store = SqliteMemoryStore(Path(data) / "memory.db")
        memory = Memory(store, SummaryActivities(store, factories), summary_by)
        tokens: dict[str, list[int]] = {name: [] for name in STRATEGIES}
        all_messages = chat(pairs)
        started = time.monotonic()
        for turn in range(turns):
            earlier = all_messages[: 2 * turn]
            prompt = pairs[turn][0]
            for strategy in STRATEGIES:
                request, system = await request_for(strategy, earlier, prompt, memory, budget)
                window = 4096 - 48 if strategy == "last10" else budget
                sent = await fit_request(counter, request, window, None, system)  # type: ignore[arg-type]
                tokens[strategy].append(await counter.count_tokens(sent, None, system))
            await memory.after_turn(all_messages[: 2 * turn + 2], session, summary_batch)
            if turn % 20 == 0:
                progress(f"turn {turn}: tokens {[tokens[s][-1] for s in STRATEGIES]}")
        replay_seconds = time.monotonic() - started
        results: dict[str, Any] = {}
        asked = FACTS[:questions]
        for strategy in STRATEGIES:
            correct, present, read, samples = 0, 0, [], []
            for _, question, expected in asked:
                request, system = await request_for(
                    strategy, all_messages, question, memory, budget
                )
                # Did the context deliver the fact at all (whatever the model makes of it)?
                present += expected in (system + str(request[:-1])).lower()
                text, used = await answer(answers_model, request, system, budget)
                hit = expected in text.lower()
                correct += hit
                read.append(used)
                samples.append({"question": question, "answer": text[:160], "correct": hit})
                progress(f"{strategy}: {question} -> {text[:60]!r} ({'ok' if hit else 'no'})")
            results[strategy] = {
                "correct": correct,
                "asked": len(asked),
                "fraction": round(correct / len(asked), 2),
                "fact_in_input": present,
                "input_tokens_per_turn": _stats(tokens[strategy]),
                "question_input_tokens": _stats(read),
                "answers": samples,
            }
        await store.close()
    return {
        "turns": turns,
        "questions": questions,
        "budget": budget,
        "summary_batch": summary_batch,
        "summary_by": summary_by,
        "summary_updates": memory.calls,
        "summary_seconds": round(memory.seconds, 1),
        "summary": memory.summary.text if memory.summary else None,
        "replay_seconds": round(replay_seconds, 1),
        "strategies": results,
        "written_at": datetime.now(UTC).isoformat(),
    }


def report_lines(r: dict[str, Any]) -> list[str]:
    """The docs/BENCHMARKS.md section."""
    writer = "the local model" if r.get("summary_by") == "model" else "the extraction rules"
    lines = [
        "## Context that fits: late questions about early facts (local model)",
        "",
        f"A scripted {r['turns']}-turn conversation, facts stated in the first 10 turns; then"
        f" {r['questions']} questions about them, each asked as the next turn, answered by"
        f" SmolLM2-135M (local). Budget: {r['budget']} tokens (4,096 window - 512 reply)."
        f" Input tokens counted with llama.cpp's tokenizer on every turn. The summary was"
        f" written by {writer} {r['summary_updates']} times (batches of"
        f" {r['summary_batch']} messages, {r['summary_seconds']} s in all); memories mined by"
        " the extraction rules.",
        "",
        "| context | late questions right | fact in the model's input"
        " | input tokens per turn (mean / p50 / max) |",
        "| --- | --- | --- | --- |",
    ]
    names = {
        "last10": "(a) last 10 messages",
        "budget": "(b) token budget only",
        "budget+summary+recall": "(c) budget + summary + recall",
    }
    for key, label in names.items():
        s = r["strategies"][key]
        t = s["input_tokens_per_turn"]
        lines.append(
            f"| {label} | {s['correct']} / {s['asked']} ({s['fraction']:.0%}) |"
            f" {s.get('fact_in_input', '-')} / {s['asked']} |"
            f" {t['mean']} / {t['p50']} / {t['max']} |"
        )
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench context``."""
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--questions", type=int, default=len(FACTS))
    parser.add_argument("--summary-batch", type=int, default=SUMMARY_BATCH)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--summary-by",
        choices=["rules", "model"],
        default="rules",
        help="who writes the summary: the extraction rules (fast) or the local model",
    )


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    result = await run(
        args.turns, args.questions, args.summary_batch, args.threads, args.summary_by
    )
    save("context", result, command)
    return result
