"""The docs/BENCHMARKS.md sections of ``python -m bench tools``: tool-turn latency (with the
``--fast-transfer`` run beside it when that run exists) and the local model's tool selection."""

from typing import Any

from bench.cells import met, ms, share

MODES = [
    ("floor: update → two activities → reply", "floor_two_activities_ms"),
    ("floor: update → one activity → reply", "floor_one_activity_ms"),
    ("floor: update → three activities → reply", "floor_three_activities_ms"),
    ("session turn, tool as an activity (no user)", "tool_turn_ms"),
    ("session turn, tool as an activity (user set)", "tool_turn_user_ms"),
    ("session turn, tool as a local activity", "local_tool_turn_ms"),
    ("session turn without a tool", "plain_turn_ms"),
]


def _third_activity_ms(r: dict[str, Any]) -> float:
    """What a third activity adds to an update, end to end (p50s, ms)."""
    three, two = r["floor_three_activities_ms"]["p50"], r["floor_two_activities_ms"]["p50"]
    return round(float(three) - float(two), 2)


def _settings(r: dict[str, Any]) -> str:
    config = r.get("server_dynamic_config") or {}
    return ", ".join(f"`{k}={v}`" for k, v in config.items()) or "the dev server's defaults"


def _ratios(r: dict[str, Any]) -> str:
    return (
        f"tool turn p50 / floor p50 = **{r['tool_turn_p50_over_floor']}x** (goal ≤"
        f" {r['goal_p50_over_floor']}x): {met(r['goal_met'])}; with the tool as a local activity"
        f" (`ToolDefinition(local=True)`): **{r['local_tool_turn_p50_over_floor']}x**:"
        f" {met(r['local_goal_met'])}; against the three-activity floor (the same number of"
        f" hops): {r['tool_turn_p50_over_three_activities']}x"
    )


def latency(r: dict[str, Any], fast_run: dict[str, Any] | None) -> list[str]:
    """The section of ``python -m bench tools --part latency`` (``fast_run``: the saved
    document of the same benchmark with ``--fast-transfer``, if it was made)."""
    fast = fast_run["result"] if fast_run else None
    runs = [r] if fast is None else [r, fast]
    header = " | ".join(f"p50 / p95 / p99 ({_settings(run)})" for run in runs)
    lines = [
        "## Tools, part 1: tool-turn latency (echo model + one trivial tool)",
        "",
        f"{r['turns']} sequential updates or turns per mode, each mode in one workflow; the"
        " model asks for the tool, the tool runs, the model answers with its result. Floors and"
        " sessions share one dev server and worker in each run. ms.",
        "",
        f"| mode | {header} |",
        "| --- |" + " --- |" * len(runs),
    ]
    for label, key in MODES:
        lines.append(f"| {label} | " + " | ".join(ms(run[key]) for run in runs) + " |")
    lines += ["", f"With {_settings(r)}: {_ratios(r)}."]
    if fast is not None:
        lines += ["", f"With {_settings(fast)}: {_ratios(fast)}."]
    lines += [
        "",
        f"History cost of a tool turn: {r['tool_turn_events']} events /"
        f" {r['tool_turn_bytes']} bytes.",
        "",
        "**Where one activity hop goes** (the two-activity floor's history, event times,"
        " median ms; workflow-task steps are those an activity's completion started):",
        "",
        "| step | " + " | ".join(_settings(run) for run in runs) + " |",
        "| --- |" + " --- |" * len(runs),
    ]
    for step in r["hop_ms"]:
        lines.append(f"| {step} | " + " | ".join(str(run["hop_ms"][step]) for run in runs) + " |")
    lines.append(
        "| a third activity, end to end (three-activity floor p50 - two-activity p50) | "
        + " | ".join(str(_third_activity_ms(run)) for run in runs)
        + " |"
    )
    lines += ["", *_latency_notes(r, fast)]
    if fast_run is not None:
        machine = fast_run["machine"]
        lines += [
            "",
            f"The second column: `{fast_run['command']}` · {machine['date']} · commit"
            f" {machine['commit']}",
        ]
    return lines


def _latency_notes(r: dict[str, Any], fast: dict[str, Any] | None) -> list[str]:
    """What the run shows about where a tool turn's time goes."""
    notes = [
        "- **Why the goal is not met with the tool as an activity**: a tool turn is three"
        " activities one after the other (model, tool, model) and the floor two. Against the"
        f" three-activity floor the tool turn is {r['tool_turn_p50_over_three_activities']}x:"
        " the session's agent, tool wrapper, approval hook and history cost little next to"
        f" the hop itself; a third activity adds {_third_activity_ms(r)} ms to a floor update.",
        "- **A hop waits for the server's transfer queue**: the workflow task that an"
        " activity's completion creates is a transfer task, and the history service reads that"
        " queue at most `history.transferProcessorMaxPollRPS` times a second per shard (20 by"
        " default; the dev server has one shard). Activity dispatch takes ~0 ms: the dev server"
        " has eager activity execution on and the SDK asks for it.",
        "- **A local tool** (`ToolDefinition(local=True)`) runs inside the workflow task that"
        " scheduled it, so it adds no hop: it meets the goal. It suits fast, idempotent tools;"
        " a tool that may run long or needs heartbeats stays an activity (the default).",
    ]
    if fast is not None:
        notes.append(
            "- **With `--fast-transfer`** a third activity adds"
            f" {_third_activity_ms(fast)} ms instead of {_third_activity_ms(r)}: the difference"
            " was the wait for the next read. Hops get shorter (floor p50"
            f" {r['floor_two_activities_ms']['p50']} → {fast['floor_two_activities_ms']['p50']}"
            f" ms, tool turn {r['tool_turn_ms']['p50']} → {fast['tool_turn_ms']['p50']} ms);"
            " what is left is the worker's own Python per workflow task and activity on 2"
            " shared cores, and a tool turn has more of both, so the ratio grows. A cluster"
            " operator can raise that server setting (docs/OPERATIONS.md); Convoflow leaves"
            " the server's settings alone."
        )
    return notes


def selection(r: dict[str, Any]) -> list[str]:
    """The section of ``python -m bench tools --part selection``."""
    tools = ", ".join(f"`{name}`" for name in r["tools"])
    lines = [
        "## Tools, part 2: tool selection by the embedded local model (SmolLM2-135M)",
        "",
        f"{r['cases']} prompts, each answered by one of {len(r['tools'])} tools ({tools}),"
        " through the registered `local` provider. The call is generated under llama.cpp"
        " grammars built from the tool specs, so any call names a tool from the specs; *right*"
        " means the expected tool with an input that validates against its schema"
        " (`jsonschema`). `auto`: the model decides between a call and a text reply (as in a"
        " session); `any`: a call is required, which isolates the choice of tool.",
        "",
        "| tool choice | right tool, valid arguments | called a tool | arguments valid"
        " (of calls) | input carries the prompt's value | turn p50 / p95 / p99 ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for mode, m in r["modes"].items():
        lines.append(
            f"| {mode} | **{share(m['right_tool_valid_arguments'], m['prompts'])}** |"
            f" {share(m['called_a_tool'], m['prompts'])} |"
            f" {share(m['arguments_valid'], m['called_a_tool'])} |"
            f" {share(m['arguments_carry_key'], m['prompts'])} | {ms(m['turn_ms'])} |"
        )
    per_tool = len(r["modes"][next(iter(r["modes"]))]["rows"]) // max(len(r["tools"]), 1)
    lines.append("")
    for mode, m in r["modes"].items():
        right = ", ".join(
            f"{name} {m['right_by_tool'].get(name, 0)}/{per_tool}" for name in r["tools"]
        )
        picked = ", ".join(f"{name} {count}" for name, count in sorted(m["picked"].items()))
        empty = sum(
            '""' in str(row.get("input", "")) for row in m["rows"] if row["tool"] is not None
        )
        lines.append(
            f"- {mode}: right per tool: {right}; tools picked: {picked} (None: a text reply);"
            f" calls with an empty string argument: {empty}."
        )
    auto = r["modes"].get("auto")
    if auto and "no_tool_prompts" in auto:
        lines.append(
            f"- auto, {auto['no_tool_prompts']} prompts no tool answers: answered in text"
            f" {auto['no_tool_text_replies']}/{auto['no_tool_prompts']}. Offered tools, the"
            " 135M model calls one almost always; after a tool round it answers in text"
            " (`tool_rounds`, default 1)."
        )
    lines.append(
        "- The choice is greedy (temperature 0), so the counts repeat run to run; the times"
        " depend on the machine's load (one llama.cpp thread here, on 2 shared cores)."
    )
    return lines
