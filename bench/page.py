"""Chat page: Enter in the page to the reply's first character, against a direct stream.

The stack is the one users run with ``convoflow dev``: a dev server, a worker process with
the embedded local model (SmolLM2-135M via llama.cpp; ``CONVOFLOW_LOCAL_THREADS`` applies),
the gateway in insecure-dev mode in this process, and the chat page in headless Chromium
(Debian's ``/usr/bin/chromium``, driven by Playwright). In the page, ``performance.now()``
is taken in the ``keydown`` of Enter (a capturing listener, before the page's own) and again
in the first DOM mutation that gives the new reply bubble any text. The floor, in the same
run and the same session (so the same model, config and history), is a direct
``SessionClient.stream`` call: from the call to its first ``Delta``. Page sends and direct
calls alternate (which comes first alternates too), one at a time, each waiting for its
whole reply and then ``--settle`` seconds, so neither meets the other's after-work (the
page's session-list and status queries, record rounds).
"""

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness import percentile, process_stack, progress, save, summary_ms
from bench.streaming import PROMPTS, SYSTEM
from client import Delta, SessionClient
from gateway import build_gateway
from models import SessionConfig
from worker.lifecycle import serving

if TYPE_CHECKING:  # Playwright is imported when the benchmark runs, not by `bench report`
    from playwright.async_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
TENANT = "bench"
USER = "pageuser"


def session_config(context_messages: int) -> SessionConfig:
    """The benchmark session: the local model; extraction by rules and no running summary,
    so the model's one generation slot serves the measured turns only."""
    return SessionConfig(
        model="local",
        system_prompt=SYSTEM,
        context_messages=context_messages,
        memory_extraction="rules",
        context_summary=False,
    )


# Arms a measurement for the next Enter: window.__firstChar resolves to the milliseconds from
# its keydown to the first mutation that gives the new reply bubble text.
ARM = """
() => {
  if (window.__armed) return;
  window.__armed = true;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.target.id !== "input") return;
    const start = performance.now();
    const messages = document.getElementById("messages");
    const before = messages.querySelectorAll(".msg.assistant").length;
    window.__firstChar = new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        const replies = messages.querySelectorAll(".msg.assistant");
        if (replies.length <= before) return;
        const body = replies[replies.length - 1].querySelector(".body");
        if (!body || !body.textContent) return;
        const ms = performance.now() - start;
        observer.disconnect();
        resolve(ms);
      });
      observer.observe(messages, { subtree: true, childList: true, characterData: true });
    });
  }, true);
}
"""
REPLY_DONE = """
(count) => {
  const replies = document.querySelectorAll("#messages .msg.assistant, #messages .msg.error");
  return replies.length >= count && replies[replies.length - 1].dataset.state !== "streaming";
}
"""


async def page_send(page: "Page", prompt: str, replies: int) -> float:
    """Type ``prompt``, press Enter; seconds to the first character (waits for the reply)."""
    await page.locator("#input").fill(prompt)
    await page.locator("#input").press("Enter")
    ms = float(await page.evaluate("window.__firstChar"))
    await page.wait_for_function(REPLY_DONE, arg=replies, timeout=180_000)
    if await page.locator("#messages .msg.error").count():
        raise RuntimeError(await page.locator("#messages .msg.error").last.inner_text())
    return ms / 1000


async def direct(sessions: SessionClient, session_id: str, prompt: str) -> float:
    """Seconds from a direct ``SessionClient.stream`` call to its first ``Delta``."""
    started = time.perf_counter()
    first = 0.0
    async for item in sessions.stream(session_id, prompt, tenant_id=TENANT, user_id=USER):
        if isinstance(item, Delta) and not first:
            first = time.perf_counter() - started
    return first


async def measure(
    page: "Page", sessions: SessionClient, session_id: str, sends: int, settle: float
) -> tuple[list[float], list[float]]:
    """(page seconds, direct seconds) of ``sends`` pairs, after one warm-up pair."""
    await page.evaluate(ARM)
    shown = 2  # reply bubbles: the warm-up's (from the history), the page's own warm-up
    await page_send(page, "hello", shown)  # the direct calls add none
    await direct(sessions, session_id, "hello again")
    page_s: list[float] = []
    floor_s: list[float] = []
    for index in range(sends):
        prompt = PROMPTS[index % len(PROMPTS)]
        shown += 1
        # Every other pair starts with the direct call, and each call starts after what the
        # one before left behind (the page's session list and status queries) has settled.
        for path in ("page", "direct") if index % 2 == 0 else ("direct", "page"):
            await asyncio.sleep(settle)
            if path == "page":
                page_s.append(await page_send(page, prompt, shown))
            else:
                floor_s.append(await direct(sessions, session_id, prompt))
        progress(
            f"page {index + 1}/{sends}: {page_s[-1] * 1000:.0f} ms,"
            f" direct {floor_s[-1] * 1000:.0f} ms"
        )
    return page_s, floor_s


def load() -> float:
    """The 1-minute load average (other work on the machine shows in the figures)."""
    with contextlib.suppress(OSError):
        return round(os.getloadavg()[0], 2)
    return float("nan")


async def run(sends: int, settle: float, context_messages: int) -> dict[str, Any]:
    """``sends`` page sends alternating with as many direct streams, in one session, each
    ``settle`` seconds after the one before ended; the model sees ``context_messages``
    earlier messages (0: the same prompt, so the same model time, for both paths)."""
    from playwright.async_api import async_playwright

    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing (scripts/system_deps.sh installs it)")
    session_id = f"page-{uuid.uuid4().hex[:8]}"
    load_before = load()
    with tempfile.TemporaryDirectory() as data_dir:
        async with process_stack(Path(data_dir), model="local") as stack:
            settings = stack.settings.updated(
                tenant=TENANT, user=USER, gateway_rate_per_user=1000.0, gateway_burst=1000
            )
            sessions = SessionClient(stack.client, settings)
            progress("page: warming up the model (first turn loads it)")
            config = session_config(context_messages)
            await sessions.send(
                session_id, "warm up", tenant_id=TENANT, user_id=USER, config=config
            )
            app = build_gateway(settings, sessions=sessions, insecure_dev=True)
            async with serving(app, "127.0.0.1", 0) as url, async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                try:
                    page = await browser.new_page(viewport={"width": 1280, "height": 800})
                    await page.goto(f"{url}/#session={session_id}")
                    await page.wait_for_function(REPLY_DONE, arg=1)  # the warm-up reply
                    page_s, floor_s = await measure(page, sessions, session_id, sends, settle)
                finally:
                    await browser.close()
    page_p50 = percentile([s * 1000 for s in page_s], 50)
    floor_p50 = percentile([s * 1000 for s in floor_s], 50)
    return {
        "sends": sends,
        "settle_s": settle,
        "context_messages": context_messages,
        "model": "local (SmolLM2-135M, llama.cpp)",
        "local_threads": stack.settings.providers.local_threads,
        "page_first_char_ms": summary_ms(page_s),
        "direct_first_delta_ms": summary_ms(floor_s),
        "added_by_page_ms": summary_ms([p - f for p, f in zip(page_s, floor_s, strict=True)]),
        "page_over_floor_p50": round(page_p50 / floor_p50, 3),
        "load_average_1min": {"before": load_before, "after": load()},
    }


def report_lines(r: dict[str, Any]) -> list[str]:
    """The section of docs/BENCHMARKS.md (written by ``python -m bench report``)."""

    def ms(summary: dict[str, Any]) -> str:
        return f"{summary['p50']} / {summary['p95']} / {summary['p99']}"

    threads = r["local_threads"] or "all cores"
    same = ", so both paths give it the same prompt" if r["context_messages"] == 0 else ""
    return [
        "## Chat page: Enter to the first character (embedded local model)",
        "",
        f"{r['sends']} sends typed into the chat page (headless Chromium, gateway in"
        f" insecure-dev mode, {r['model']}, threads: {threads}), each paired with a direct"
        " `SessionClient.stream` call of the same prompt in the same session (which goes first"
        f" alternates; {r['settle_s']} s of quiet before each call; the model sees"
        f" {r['context_messages']} earlier messages{same}). The page time"
        " is `performance.now()` from the Enter keydown to the first DOM mutation that gives"
        " the reply text; the direct one from the call to the first `Delta`. p50 / p95 / p99"
        " in ms.",
        "",
        "| path | p50 / p95 / p99 |",
        "| --- | --- |",
        f"| page: Enter → first character on screen | {ms(r['page_first_char_ms'])} |",
        f"| floor: `SessionClient.stream` → first delta | {ms(r['direct_first_delta_ms'])} |",
        f"| added by the page (per pair, page minus floor) | {ms(r['added_by_page_ms'])} |",
        "",
        f"Page p50 / floor p50 = **{r['page_over_floor_p50']}x**. Load average (1 min) before"
        f" / after: {r['load_average_1min']['before']} / {r['load_average_1min']['after']}.",
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``python -m bench page``."""
    parser.add_argument("--sends", type=int, default=20, help="messages sent from the page")
    parser.add_argument(
        "--settle", type=float, default=1.0, help="seconds of quiet before each send"
    )
    parser.add_argument(
        "--context-messages",
        type=int,
        default=0,
        help="earlier messages the model sees (0: only the new prompt, as bench streaming)",
    )


async def main(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and save."""
    result = await run(args.sends, args.settle, args.context_messages)
    save("page", result, command)
    return result
