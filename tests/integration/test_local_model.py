"""The embedded local LLM (SmolLM2-135M via llama-cpp-python) answering through the workflow."""

import pytest

from activities.providers.local import LocalLlamaModel, chat_messages
from client import Delta, SessionClient
from models import ChatReply, SessionConfig
from tests.helpers import new_session_id

pytestmark = pytest.mark.local_model

LOCAL = SessionConfig(model="local", system_prompt="You are a concise assistant.")


async def test_local_model_answers_a_question(sessions: SessionClient) -> None:
    session_id = new_session_id("local")
    reply = await sessions.send(session_id, "What is the capital of France?", config=LOCAL)
    assert reply.reply.strip(), "the model gave no text"
    assert reply.stop_reason in ("end_turn", "max_tokens")
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens

    follow_up = await sessions.send(session_id, "Say that again in one word.")
    assert follow_up.reply.strip()
    # The second prompt carries the first turn as context, so the model read more tokens.
    assert follow_up.usage.input_tokens > reply.usage.input_tokens
    status = await sessions.status(session_id)
    assert status.usage.output_tokens == reply.usage.output_tokens + follow_up.usage.output_tokens


async def test_local_model_streams_tokens(sessions: SessionClient) -> None:
    session_id = new_session_id("local-stream")
    deltas: list[str] = []
    final: ChatReply | None = None
    async for item in sessions.stream(session_id, "Name three colours.", config=LOCAL):
        if isinstance(item, Delta):
            deltas.append(str(item))
        elif isinstance(item, ChatReply):
            final = item
    assert final is not None and final.reply.strip()
    assert len(deltas) > 1 and "".join(deltas) == final.reply


async def test_local_model_directly_uses_the_gguf_chat_template() -> None:
    model = LocalLlamaModel(max_tokens=16)
    assert "<|im_start|>" in model.llama().metadata["tokenizer.chat_template"]


def test_chat_messages_put_system_prompt_first() -> None:
    chat = chat_messages(
        [
            {"role": "user", "content": [{"text": "hi"}]},
            {"role": "assistant", "content": [{"text": "hello"}, {"text": "!"}]},
        ],
        "Be brief.",
    )
    assert chat == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello!"},
    ]
