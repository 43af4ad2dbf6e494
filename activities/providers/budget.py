"""The token budget, enforced where the model lives: with the provider's own token counting.

The workflow picks the context with an estimate (it cannot load a tokenizer); this wrapper,
inside the model activity, counts the request with the provider's ``Model.count_tokens``
(llama.cpp's tokenizer for ``local``, a provider API where Strands has one, Strands'
estimate otherwise) and, when it is over the budget, fits it again with the same pure
functions (``workflows/context.py``): oldest exchanges out, an oversized newest one cut with
a marker, a tool call never without its result.

The budget is the smaller of what the session asked for (``invocation_state``) and the
provider's window minus its reply budget, so a model is never sent more than it can read,
whatever the session's configuration or the worker's settings.
"""

import logging
from collections.abc import AsyncIterable
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from strands.models import Model
from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

from activities.providers.base import DelegatingModel
from workflows.context import BUDGET_KEY, estimate_tokens, fit_history, fit_prompt

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)

# Rounds of re-fitting when the provider's count disagrees with the calibrated estimate.
_ROUNDS = 4


def window_budget(model: Model) -> int | None:
    """The provider's own input limit: its context window minus its reply budget (``None``
    when the provider does not say)."""
    config = model.get_config()
    if not isinstance(config, dict):
        return None
    window = config.get("context_tokens") or config.get("context_window_limit")
    if not isinstance(window, int) or window <= 0:
        return None
    reply = config.get("max_tokens")
    return window - (reply if isinstance(reply, int) else 0)


def requested_budget(kwargs: dict[str, Any]) -> int | None:
    """The session's budget from the call's ``invocation_state``, if it sent one."""
    state = kwargs.get("invocation_state") or {}
    value = state.get(BUDGET_KEY) if isinstance(state, dict) else None
    return value if isinstance(value, int) and value > 0 else None


async def fit_request(
    model: Model,
    messages: Messages,
    budget: int,
    tool_specs: list[ToolSpec] | None = None,
    system_prompt: str | None = None,
) -> Messages:
    """``messages`` such that the whole request counts at most ``budget`` tokens by the
    provider's ``count_tokens``."""
    total = await model.count_tokens(messages, tool_specs, system_prompt)
    if total <= budget:
        return messages
    fixed = await model.count_tokens([], tool_specs, system_prompt)
    # A provider's count of an empty request is its fixed overhead (a chat template's
    # default system prompt, the reply's opening): count it once, not per message.
    base = await model.count_tokens([])
    sizes = {id(m): await model.count_tokens([m]) - base for m in messages}
    estimated = sum(estimate_tokens(dict(m)) for m in messages) or 1
    ratio = max(sum(sizes.values()) / estimated, 0.1)  # the estimate, calibrated on this request

    def count(message: dict[str, Any]) -> int:
        known = sizes.get(id(message))
        return known if known is not None else int(estimate_tokens(message) * ratio) + 1

    plain = cast(list[dict[str, Any]], list(messages))
    target = budget - fixed
    fitted: Messages = messages
    for _ in range(_ROUNDS):
        kept = fit_history(plain, target, count).messages
        if not kept and plain:  # nothing fits whole: the newest message, cut hard
            kept = [fit_prompt(plain[-1], target, count)]
        fitted = cast(Messages, kept)
        total = await model.count_tokens(fitted, tool_specs, system_prompt)
        if total <= budget:
            break
        target -= total - budget + 8
    log.info("context over budget: %d -> %d of %d messages", len(messages), len(fitted), budget)
    return fitted


class BudgetedModel(DelegatingModel):
    """Wraps a provider so that no request exceeds the session's or the model's budget."""

    def __init__(self, inner: Model) -> None:
        """Enforce budgets on ``inner``'s requests."""
        super().__init__(inner)

    async def count_tokens(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        system_prompt_content: Any = None,
    ) -> int:
        """The wrapped provider's count."""
        return await self.inner.count_tokens(
            messages, tool_specs, system_prompt, system_prompt_content
        )

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """The wrapped stream, over a request fitted to the budget."""
        limits = [b for b in (requested_budget(kwargs), window_budget(self.inner)) if b]
        if limits:
            budget = min(limits)
            messages = await fit_request(self.inner, messages, budget, tool_specs, system_prompt)
        async for event in self.inner.stream(messages, tool_specs, system_prompt, **kwargs):
            yield event
