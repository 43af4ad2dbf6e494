"""Tool selection by the embedded local model (``python -m bench tools --part selection``):
does it call the right tool, with valid arguments?

A fixed set of prompts, each with the one tool (among four) that answers it, goes through the
registered ``local`` provider (the same object the worker builds) with the four tool specs.
Two tool choices: ``auto`` (the model decides between a call and a text reply, as in a session)
and ``any`` (a call is required; this isolates which tool it picks). A call counts as right when
the tool is the expected one and its input validates against the tool's input schema
(``jsonschema``); the report also says how often the input carries the prompt's key value (the
order id, the numbers, ...), and how often prompts that need no tool get a text reply in
``auto`` mode.
"""

import json
import os
import time
from collections import Counter
from typing import Any, cast

import jsonschema  # type: ignore[import-untyped, unused-ignore]
from strands.types.content import Messages
from strands.types.tools import ToolChoice, ToolSpec

from activities.providers.registry import model_factories
from bench.harness import progress, save, summary_ms
from models.settings import Settings

SYSTEM = "You are a helpful assistant."


def _spec(name: str, description: str, properties: dict[str, Any], required: list[str]) -> ToolSpec:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"name": name, "description": description, "inputSchema": {"json": schema}}


TOOLS: list[ToolSpec] = [
    _spec(
        "current_time",
        "Get the current date and time, optionally in a timezone.",
        {"timezone": {"type": "string", "description": "IANA timezone, e.g. Europe/Paris"}},
        [],
    ),
    _spec(
        "calculator",
        "Evaluate an arithmetic expression.",
        {"expression": {"type": "string", "description": "e.g. 2+3*4"}},
        ["expression"],
    ),
    _spec(
        "recall_memory",
        "Search what the user told you in earlier conversations.",
        {"query": {"type": "string", "description": "what to look for"}},
        ["query"],
    ),
    _spec(
        "lookup_order",
        "Look up an order by its id.",
        {"order_id": {"type": "string", "description": "the order's id"}},
        ["order_id"],
    ),
]

# (prompt, expected tool, a value its input should carry, or "" when none is implied).
CASES: list[tuple[str, str, str]] = [
    ("What time is it in Tokyo?", "current_time", "Tokyo"),
    ("What's the date today?", "current_time", ""),
    ("Tell me the current time in Europe/Paris.", "current_time", "Europe/Paris"),
    ("What day of the week is it right now?", "current_time", ""),
    ("Is it morning or evening in New York at the moment?", "current_time", "New_York"),
    ("What time is it?", "current_time", ""),
    ("What is 17 * 23?", "calculator", "17"),
    ("Compute 2+3*4", "calculator", "3"),
    ("How much is 1250 divided by 5?", "calculator", "1250"),
    ("Calculate (12 + 8) * 3.", "calculator", "12"),
    ("What is 15% of 240?", "calculator", "240"),
    ("Add 345 and 789.", "calculator", "345"),
    ("Do you remember my favourite colour?", "recall_memory", "colour"),
    ("What did I tell you about my dog?", "recall_memory", "dog"),
    ("Remind me which city I said I live in.", "recall_memory", "city"),
    ("What was the name of the book I mentioned last week?", "recall_memory", "book"),
    ("Did I ever tell you my seat preference on flights?", "recall_memory", "seat"),
    ("What food did I say I am allergic to?", "recall_memory", "allerg"),
    ("Where is my order A1234?", "lookup_order", "A1234"),
    ("Has order 5521 shipped yet?", "lookup_order", "5521"),
    ("Check the status of order ORD-778.", "lookup_order", "ORD-778"),
    ("When will order 99120 be delivered?", "lookup_order", "99120"),
    ("I want to know what is in my order B-42.", "lookup_order", "B-42"),
    ("Can you look up order number 31337 for me?", "lookup_order", "31337"),
]

# Prompts no tool answers: in ``auto`` mode the right outcome is a text reply.
NO_TOOL: list[str] = [
    "Hello! How are you?",
    "Write one sentence about the sea.",
    "What is the capital of France?",
    "Translate 'thank you' into Spanish.",
    "Tell me a short joke.",
    "What colour is the sky on a clear day?",
]

TOOL_CHOICES: dict[str, ToolChoice | None] = {"auto": None, "any": cast(ToolChoice, {"any": {}})}


async def one_turn(model: Any, prompt: str, choice: ToolChoice | None) -> dict[str, Any]:
    """The model's reply to ``prompt``: the tool it called and its input, or its text."""
    messages: Messages = [{"role": "user", "content": [{"text": prompt}]}]
    started = time.monotonic()
    name: str | None = None
    raw_input: list[str] = []
    text: list[str] = []
    stop = None
    async for event in model.stream(messages, TOOLS, SYSTEM, tool_choice=choice):
        if "contentBlockStart" in event:
            tool_use = event["contentBlockStart"].get("start", {}).get("toolUse")
            name = tool_use["name"] if tool_use else name
        delta = event.get("contentBlockDelta", {}).get("delta", {})
        raw_input.append(str(delta.get("toolUse", {}).get("input", "")))
        text.append(str(delta.get("text", "")))
        stop = event.get("messageStop", {}).get("stopReason", stop)
    seconds = time.monotonic() - started
    if name is None:
        return {"tool": None, "text": "".join(text)[:200], "stop": stop, "seconds": seconds}
    return {"tool": name, "input": "".join(raw_input), "stop": stop, "seconds": seconds}


def arguments_valid(tool: str, raw_input: str) -> bool:
    """Whether ``raw_input`` is a JSON object valid for ``tool``'s input schema."""
    spec = next(spec for spec in TOOLS if spec["name"] == tool)
    try:
        jsonschema.validate(json.loads(raw_input), spec["inputSchema"]["json"])
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


def score(case: tuple[str, str, str], reply: dict[str, Any]) -> dict[str, Any]:
    """One row of the result: what was expected, what came, and whether it counts."""
    prompt, expected, key = case
    tool = reply["tool"]
    valid = tool is not None and arguments_valid(tool, reply["input"])
    right = tool == expected and valid
    carries = right and (not key or key.lower() in reply["input"].lower())
    return {
        "prompt": prompt,
        "expected": expected,
        **reply,
        "seconds": round(reply["seconds"], 3),
        "arguments_valid": valid,
        "right_tool_valid_arguments": right,
        "arguments_carry_key": carries,
    }


def _rate(count: int, total: int) -> float:
    return round(count / total, 3) if total else 0.0


async def run_mode(model: Any, mode: str) -> dict[str, Any]:
    """Every case (and, in ``auto``, every no-tool prompt) with one tool choice."""
    choice = TOOL_CHOICES[mode]
    rows = []
    for case in CASES:
        rows.append(score(case, await one_turn(model, case[0], choice)))
        progress(f"{mode}: {rows[-1]['prompt']!r} -> {rows[-1]['tool']}")
    calls = [row for row in rows if row["tool"] is not None]
    right = sum(row["right_tool_valid_arguments"] for row in rows)
    summary: dict[str, Any] = {
        "prompts": len(rows),
        "called_a_tool": len(calls),
        "right_tool_valid_arguments": right,
        "right_rate": _rate(right, len(rows)),
        "arguments_valid": sum(row["arguments_valid"] for row in calls),
        "arguments_valid_rate": _rate(sum(row["arguments_valid"] for row in calls), len(calls)),
        "arguments_carry_key": sum(row["arguments_carry_key"] for row in rows),
        "right_by_tool": dict(
            Counter(row["expected"] for row in rows if row["right_tool_valid_arguments"])
        ),
        "picked": dict(Counter(str(row["tool"]) for row in rows)),
        "turn_ms": summary_ms([row["seconds"] for row in rows]),
        "rows": rows,
    }
    if mode == "auto":
        plain = [await one_turn(model, prompt, choice) for prompt in NO_TOOL]
        summary["no_tool_prompts"] = len(plain)
        summary["no_tool_text_replies"] = sum(reply["tool"] is None for reply in plain)
        summary["no_tool_rows"] = [
            {"prompt": prompt, **reply, "seconds": round(reply["seconds"], 3)}
            for prompt, reply in zip(NO_TOOL, plain, strict=True)
        ]
    return summary


async def run(modes: list[str]) -> dict[str, Any]:
    """The local provider, built through the registry as the worker builds it."""
    settings = Settings()
    model = model_factories(settings)["local"]()
    result: dict[str, Any] = {
        "model": "SmolLM2-135M-Instruct (Q4_1), llama-cpp-python",
        "tools": [spec["name"] for spec in TOOLS],
        "cases": len(CASES),
        "modes": {},
    }
    for mode in modes:
        result["modes"][mode] = await run_mode(model, mode)
    return result


def parse_modes(text: str) -> list[str]:
    """The tool choices named in ``text`` (comma-separated); unknown ones stop the run."""
    modes = [mode for mode in text.split(",") if mode]
    unknown = sorted(set(modes) - set(TOOL_CHOICES))
    if unknown:
        raise SystemExit(f"unknown mode(s) {unknown}: use {sorted(TOOL_CHOICES)}")
    return modes


async def main(modes: list[str], command: str) -> dict[str, Any]:
    """Run and save bench/results/tool_selection.json; return the summary (no rows)."""
    result = await run(modes)
    threads = os.environ.get("CONVOFLOW_LOCAL_THREADS")
    save(
        "tool_selection",
        result,
        f"CONVOFLOW_LOCAL_THREADS={threads} {command}" if threads else command,
    )
    return {
        mode: {k: v for k, v in summary.items() if not k.endswith("rows")}
        for mode, summary in result["modes"].items()
    }
