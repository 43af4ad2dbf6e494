"""Convoflow's own metrics, emitted from the session workflow through the SDK's metric meter.

The workflow metric meter is replay-safe (nothing is emitted while replaying) and creates
no commands, so these calls never change a history. With a Prometheus runtime configured
(``CONVOFLOW_METRICS_PORT``) they are served next to the Temporal SDK's own metrics:

- ``convoflow_turns`` (counter; ``model``, ``outcome`` = ok | failed)
- ``convoflow_turn_latency`` (histogram, ms; from message accepted to reply, queueing included)
- ``convoflow_model_tokens`` (counter; ``model``, ``direction`` = input | output)
- ``convoflow_errors`` (counter; ``model``, ``kind`` = the failure's type)
"""

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from models import ChatReply


def failure_kind(error: BaseException) -> str:
    """What went wrong, for the ``kind`` label: the innermost cause's type."""
    while error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, ApplicationError) and error.type:
        return error.type
    return type(error).__name__


def record_turn(
    model: str,
    accepted_at: datetime | None,
    outcome: ChatReply | str,
    failure: BaseException | None,
) -> None:
    """Count one finished turn, its latency, its tokens, and its failure if any."""
    meter = workflow.metric_meter().with_additional_attributes({"model": model})
    failed = isinstance(outcome, str)
    meter.create_counter("convoflow_turns", "Model turns by outcome").add(
        1, {"outcome": "failed" if failed else "ok"}
    )
    if accepted_at is not None:
        meter.create_histogram_timedelta(
            "convoflow_turn_latency", "From message accepted to reply", unit="ms"
        ).record(max(workflow.now() - accepted_at, timedelta(0)))
    if isinstance(outcome, ChatReply):
        tokens = meter.create_counter("convoflow_model_tokens", "Tokens the model reported")
        tokens.add(outcome.usage.input_tokens, {"direction": "input"})
        tokens.add(outcome.usage.output_tokens, {"direction": "output"})
    else:
        kind = failure_kind(failure) if failure is not None else "TurnFailed"
        meter.create_counter("convoflow_errors", "Failed turns by kind").add(1, {"kind": kind})
