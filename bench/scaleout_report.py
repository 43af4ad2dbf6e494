"""The scale-out sections of docs/BENCHMARKS.md: the kill run and the worker tuning table."""

import json
from collections.abc import Callable
from typing import Any

from bench.cells import ms
from bench.harness import RESULTS

# Tuning runs (python -m bench scaleout --save-as scaleout-NAME ...), in table order.
TUNING_RUNS = [
    ("one-worker", "1 worker (defaults)"),
    ("defaults", "3 workers, defaults (cache 1000, 5 + 5 pollers, ratio 0.2)"),
    ("no-cache", "`--max-cached-workflows 0` (no sticky cache)"),
    ("few-pollers", "`--workflow-pollers 2 --activity-pollers 1`"),
    ("many-pollers", "`--workflow-pollers 20 --activity-pollers 20`"),
    ("sticky-ratio-1", "`--sticky-ratio 1.0`"),
    ("kill-sticky-10s", "worker-0 killed, sticky timeout 10 s (default)"),
    ("kill-sticky-2s", "worker-0 killed, `CONVOFLOW_STICKY_SCHEDULE_TO_START_SECONDS=2`"),
]

NOTES = """\
What the runs show (one short run each, 2 shared cores: the client, the dev server and every
worker compete for them; differences under ~20% are noise):

- **Load spreads and sessions stay put.** Turns split about evenly over the workers, and
  without a kill no session ran on a second worker (the sticky cache keeps a session where
  its state is cached). On 2 cores 3 workers give the same turns/s as 1: scale-out adds
  capacity with more machines; here it shows the sharing and the survival.
- **A kill loses nothing.** Every message is answered exactly once, and every session the
  dead worker was serving is finished by the others. What the survivors wait for is the
  dead worker's sticky queue (`SCHEDULE_TO_START` timeouts, after the sticky timeout) and
  the workflow tasks it had taken (`START_TO_CLOSE`, after the 10 s workflow task timeout);
  its running model calls are retried after their heartbeat timeout (2 s in the benchmark,
  `model_heartbeat_timeout` 30 s by default). Turns in flight at the kill take ~10-20 s.
  A 2 s sticky timeout shortened the worst case somewhat (see the two kill rows).
- **The sticky cache is the flag that matters**: without it every workflow task replays the
  session's history; turns/s drop ~9x and hundreds of workflow tasks time out.
- **Pollers**: fewer (2 + 1) cost little; many (20 + 20) made each CPU-bound worker take more
  workflow tasks than it could finish within their timeout (timeouts appear, sessions move).
  Keep the defaults unless a worker has idle CPU and a backlog. The sticky ratio made no
  measurable difference.
"""


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def scaleout(r: dict[str, Any]) -> list[str]:
    """The kill run: per-worker turns, takeover, nothing lost."""
    workers = ", ".join(f"{name} {count}" for name, count in r["turns_per_worker"].items())
    timeouts = ", ".join(f"{k} {v}" for k, v in r["workflow_task_timeouts"].items()) or "none"
    return [
        f"## Scale-out: {r['workers']} worker processes, one SIGKILLed mid-run",
        "",
        f"{r['sessions']} sessions x {r['turns_per_session']} turns on one task queue (echo"
        f" model); {r['killed']} was SIGKILLed {r['killed_after_s']} s in.",
        "",
        f"- turns per worker: {workers}",
        f"- sessions {r['killed']} was serving when it died: {r['sessions_on_worker_0_at_kill']};"
        f" finished by the others: {r['sessions_continued_elsewhere']}",
        f"- lost: {r['lost']}, duplicated: {r['duplicated']}; model calls answered:"
        f" {r['model_calls']} (retried after the kill: {r['model_calls_retried']})",
        f"- {r['turns_per_s']} turns/s; latency p50 / p95 / p99 {ms(r['latency'])} ms;"
        f" after the kill {ms(r['latency_after_kill'])} ms; workflow tasks timed out: {timeouts}",
    ]


def tuning(load: Callable[[str], dict[str, Any] | None] = _load) -> list[str]:
    """The tuning table from every ``scaleout-*`` result that exists."""
    rows = []
    for key, label in TUNING_RUNS:
        document = load(f"scaleout-{key}")
        if document is None:
            continue
        r = document["result"]
        timeouts = sum(r["workflow_task_timeouts"].values())
        rows.append(
            f"| {label} | {r['turns_per_s']} | {ms(r['latency'])} |"
            f" {ms(r['latency_after_kill'])} | {timeouts} |"
            f" {r.get('sessions_on_several_workers', '-')} |"
        )
    if not rows:
        return []
    first = load(f"scaleout-{TUNING_RUNS[1][0]}") or {"result": {}, "command": ""}
    return [
        "## Worker tuning (scale-out, short runs)",
        "",
        f"{first['result'].get('sessions', '?')} sessions x"
        f" {first['result'].get('turns_per_session', '?')} turns on 3 workers unless noted;"
        " each row is `python -m bench scaleout --sessions 100 --turns 4 [--no-kill] FLAGS"
        " --save-as scaleout-NAME`. Latency in ms.",
        "",
        "| run | turns/s | p50 / p95 / p99 | after the kill | workflow task timeouts |"
        " sessions served by >1 worker |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        NOTES,
    ]
