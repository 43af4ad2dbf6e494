"""Write docs/BENCHMARKS.md (tables, goals met or not) and plots from bench/results/*.json."""

import argparse
import json
from pathlib import Path
from typing import Any

from bench import profile, scaleout_report, tools_report
from bench.cells import met, ms
from bench.context import report_lines as context_lines
from bench.harness import RESULTS
from bench.page import report_lines as page_lines
from bench.steering import report_lines as steering_lines

DOCS = Path(__file__).resolve().parent.parent / "docs"
PLOTS = DOCS / "bench"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _plot_long(result: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    PLOTS.mkdir(parents=True, exist_ok=True)
    latencies = result["latency_ms_per_turn"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7))
    top.plot(range(1, len(latencies) + 1), latencies, linewidth=0.5, alpha=0.6, label="turn")
    window = 50
    if len(latencies) >= window:
        rolling = [
            sum(latencies[i - window : i]) / window for i in range(window, len(latencies) + 1)
        ]
        top.plot(range(window, len(latencies) + 1), rolling, color="black", label="mean of 50")
    top.set_xlabel("turn number")
    top.set_ylabel("turn latency (ms)")
    top.set_ylim(0, max(200.0, sorted(latencies)[int(len(latencies) * 0.99)] * 1.2))
    top.legend()
    runs = result["per_run"]
    bottom.bar(range(1, len(runs) + 1), [r["bytes_per_turn"] for r in runs])
    bottom.set_xlabel("run (continue-as-new)")
    bottom.set_ylabel("history bytes per turn")
    figure.suptitle(f"{result['turns']} turns in one session")
    figure.tight_layout()
    path = PLOTS / "long_conversation.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return [f"![latency and history bytes per turn](bench/{path.name})"]


FINDINGS = """## What the numbers showed, what was changed, what is not met

Changes made because of these measurements (each verified by re-running the benchmark):

- **The session workflow runs outside the sandbox.** Replaying a 100-turn history took
  ~10.5 ms of worker CPU per turn sandboxed and ~5-6 ms unsandboxed; a profile showed the
  sandbox executing code for every payload and re-importing per workflow. Strands, which does
  most of the work in the workflow, was passed through the sandbox anyway.
- **Deferred recording.** Recording each turn with its own activity after the reply cost 6
  history events and a workflow task per turn, and that task often delayed the next turn.
  Busy sessions now record the previous turn inside the local activity that recalls memories
  for the next one, and quiet ones after `record_delay`: events per turn went from ~18 to
  ~12 (the floor's update costs 11), and turn latency went from ~1.6x the floor (measured on
  a loaded machine) to 1.0x.
- **One RPC per send.** `SessionClient.send` waited for the update's acceptance and then
  polled for its result (two round trips); it now waits for the result in one call.
- **Shared pydantic type adapters.** temporalio 1.35 builds a fresh payload converter for
  nearly every activation, and with it the type adapter for a model activity's result
  (`list[StreamEvent]`, ~8 ms each): ~9% of the worker's CPU under load went there.
  `worker/converter.py` keeps one adapter per type per process.

Not met:

- **Throughput: 0.64-0.72x the floor (goal 0.8x), up from 0.47-0.65x before the redesign.**
  The redesign fixed the part that was ours: busy sessions re-armed their record timer on
  every turn and flushed in their own workflow task (0.47x at 200 sessions before, 0.72x
  after), and a model result now carries the joined reply text instead of one event per
  word (8.5 to 6.6 KB of history per 40-word turn). What is left is measured in the profile
  section above (`python -m bench profile`): per session turn the worker runs Strands' agent
  loop in the workflow (agent construction with plugin discovery, hook registry and a deep
  copy of the context, about 10% of the worker's CPU), pydantic validation of every payload
  (~10%), the SDK's activation, command and payload work (~25% together) and the asyncio
  loop, against a floor whose update runs one activity and no agent. Plain updates instead of
  update-with-start made no difference. Getting to 0.8x would mean calling the model without
  Strands' agent loop in the workflow, which gives up the Temporal-Strands integration (its
  model, tool and MCP activities) that agents and tools are built on; we chose not to.
- **Streaming tokens/s: ~0.86x the model alone (goal 0.9x).** The model decodes in the
  worker process while the workflow, the server and the client's stream polling share the
  same 2 cores; alone in the benchmark process it decodes ~15% faster. The first token costs
  ~77 ms more than the model's own (goal ≤ 150 ms): met.

An observation about this machine: the floor's update → activity → reply round trip (and so
every turn) sits at ~50 ms most of the time, but at ~18-20 ms in some runs and stretches (the
first turns of the long conversation above, and after its latency spikes). The local-activity
floor (~10 ms) never shows it. Both our turns and the floor switch together, so the ratios
hold; the absolute figures above are the slow mode.
"""


def render() -> str:
    """The whole BENCHMARKS.md text from whatever results exist."""
    lines = [
        "# Benchmarks",
        "",
        "Made by `python -m bench ...` (see `bench/`); each section names the exact command,",
        "machine and commit. Everything runs on one machine: an in-memory Temporal dev server,",
        "one worker process (`python -m bench.worker`) and the client, so the client, worker and",
        "server share the same 2 cores. The floor and the direct call are measured in the same",
        "run as our numbers. Regenerate this page with `python -m bench report`.",
        "",
    ]
    sections = [
        ("latency", _latency),
        ("throughput", _throughput),
        ("start", _start),
        ("idle", _idle),
        ("long", _long),
        ("streaming", _streaming),
        ("page", page_lines),
        ("recall", _recall),
        ("scaleout", scaleout_report.scaleout),
        ("profile", profile.section),
        ("context", context_lines),
        (
            "tools",
            lambda r: tools_report.latency(r, _load("tools-fast-transfer")),
        ),
        ("tool_selection", tools_report.selection),
        ("steering", steering_lines),
    ]
    for name, writer in sections:
        document = _load(name)
        if document is None:
            continue
        machine = document["machine"]
        lines += writer(document["result"])
        lines += [
            "",
            f"Command: `{document['command']}` · {machine['date']} · commit {machine['commit']}"
            f" · {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}",
            "",
        ]
    lines += scaleout_report.tuning()
    lines += [FINDINGS]
    return "\n".join(lines) + "\n"


def _latency(r: dict[str, Any]) -> list[str]:
    return [
        "## Turn latency (echo model, sequential turns in one session)",
        "",
        f"{r['turns']} turns per mode. p50 / p95 / p99 in ms.",
        "",
        "| mode | p50 / p95 / p99 |",
        "| --- | --- |",
        f"| floor: update → one activity → reply | {ms(r['floor_activity_ms'])} |",
        f"| floor: update → one local activity → reply | {ms(r['floor_local_activity_ms'])} |",
        f"| session turn (user set: recall + memory) | {ms(r['session_ms'])} |",
        f"| session turn (no user) | {ms(r['session_no_user_ms'])} |",
        f"| direct: the same Strands agent in-process | {ms(r['direct_ms'])} |",
        "",
        f"Session p50 / floor p50 = **{r['session_p50_over_floor']}x** (goal ≤ "
        f"{r['goal_p50_over_floor']}x): {met(r['goal_met'])}. Without a user (no recall): "
        f"{r['session_no_user_p50_over_floor']}x.",
        "",
        "History cost per turn: session "
        f"{r['session_events_per_turn']} events / {r['session_bytes_per_turn']} bytes; floor "
        f"{r['floor_events_per_update']} events / {r['floor_bytes_per_update']} bytes per update.",
    ]


def _throughput(r: dict[str, Any]) -> list[str]:
    lines = [
        "## Throughput (concurrent sessions, echo model)",
        "",
        f"Each session sends {r['turns_per_session']} turns back to back.",
        "",
        "| concurrency | floor turns/s | session turns/s | ratio | goal ≥ 0.8x |",
        "| --- | --- | --- | --- | --- |",
    ]
    for level, row in r["levels"].items():
        lines.append(
            f"| {level} | {row['floor_turns_per_s']} | {row['session_turns_per_s']} |"
            f" {row['ratio']}x | {met(row['goal_met'])} |"
        )
    return lines


def _start(r: dict[str, Any]) -> list[str]:
    return [
        "## Session start (update-with-start to a new session, first reply)",
        "",
        f"- one at a time: p50 / p95 / p99 = {ms(r['sequential_ms'])} ms",
        f"- {r['concurrent']} at once: p50 / p95 / p99 = {ms(r['concurrent_ms'])} ms;"
        f" all done in {r['concurrent_all_done_ms']} ms",
    ]


def _idle(r: dict[str, Any]) -> list[str]:
    rss = r["worker_rss_mb"]
    return [
        "## Idle sessions",
        "",
        f"{r['sessions']} sessions opened with one turn each; worker sticky cache"
        f" {r['max_cached_workflows']} workflows.",
        "",
        f"- worker RSS: {rss['start']} MB at start, {rss['after_open']} MB after opening,"
        f" {rss['after_probes']} MB at the end (goal ≤ {r['goal_rss_mb']} MB):"
        f" {met(r['rss_goal_met'])}",
        f"- turn to a random idle (cold) session: {ms(r['cold_turn_ms'])} ms; the next turn"
        f" (warm): {ms(r['warm_turn_ms'])} ms; cold/warm p50 = **{r['cold_over_warm_p50']}x**"
        f" (goal ≤ {r['goal_cold_over_warm']}x): {met(r['cold_goal_met'])}",
    ]


def _long(r: dict[str, Any]) -> list[str]:
    lines = [
        "## Long conversation",
        "",
        f"{r['turns']} turns in one session: {r['runs']} runs (continue-as-new), at most"
        f" {r['max_events_per_run']} events in a run (goal < {r['goal_max_events_per_run']}):"
        f" {met(r['events_goal_met'])}.",
        f"Turns 50-100: {ms(r['turns_50_to_100_ms'])} ms; last 50 turns:"
        f" {ms(r['last_50_turns_ms'])} ms; late/early p50 = {r['late_over_early_p50']}x.",
        "",
        "| run | events | bytes | turns | bytes per turn |",
        "| --- | --- | --- | --- | --- |",
    ]
    for index, run in enumerate(r["per_run"], start=1):
        lines.append(
            f"| {index} | {run['events']} | {run['bytes']} | {run['turns']} |"
            f" {run['bytes_per_turn']} |"
        )
    lines += ["", *_plot_long(r)]
    return lines


def _streaming(r: dict[str, Any]) -> list[str]:
    return [
        "## Streaming with the embedded local model (SmolLM2-135M)",
        "",
        f"{r['turns']} turns; the same prompts and seed through the model alone and through a"
        f" streamed session turn (stream batches every {r['stream_batch_interval_ms']} ms).",
        "",
        f"- model's own first token: {ms(r['model_first_token_ms'])} ms",
        f"- first token seen by the client: {ms(r['client_first_token_ms'])} ms",
        "- added by Convoflow (per turn, client minus model):"
        f" {ms(r['added_first_token_ms'])} ms; p50 goal ≤"
        f" {r['added_first_token_p50_goal_ms']} ms: {met(r['added_first_token_p50_met'])}",
        f"- tokens/s: model alone {r['model_tokens_per_s']}, end to end"
        f" {r['end_to_end_tokens_per_s']} = **{r['tokens_per_s_ratio']}x** (goal ≥"
        f" {r['tokens_per_s_ratio_goal']}x): {met(r['tokens_per_s_ratio_met'])}",
    ]


def _recall(r: dict[str, Any]) -> list[str]:
    return [
        "## Recall with 10,000 memories per actor (SQLite FTS5, BM25)",
        "",
        f"- store search, top 5 of {r['records_per_actor']} records: {ms(r['search_ms'])} ms",
        f"- turn with recall: {ms(r['turn_recall_on_ms'])} ms; without:"
        f" {ms(r['turn_recall_off_ms'])} ms",
        f"- recall adds **{r['recall_adds_p50_ms']} ms** to a turn at p50 (goal ≤"
        f" {r['goal_adds_p50_ms']} ms): {met(r['goal_met'])}; the difference is within the"
        " noise, the search itself being the cost above. Recording adds nothing to the reply:"
        " it runs in the next turn's preparation or in a record round after the reply.",
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m bench report`` takes no options."""


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Write docs/BENCHMARKS.md."""
    DOCS.mkdir(exist_ok=True)
    (DOCS / "BENCHMARKS.md").write_text(render())
    return {"written": str(DOCS / "BENCHMARKS.md")}
