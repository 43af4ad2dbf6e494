"""Every use of a third-party private name, in one place, each with a test
(``tests/unit/test_compat.py``) that fails loudly when the library changes it."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strands.types._events import ToolResultEvent
from temporalio import activity
from temporalio.client import WorkflowUpdateHandle
from temporalio.exceptions import ApplicationError

# Strands' failure converter (carries interrupts and Strands errors across activities) is
# installed by the plugin but not exported; we subclass it to encode failure texts.
from temporalio.strands_agents._failure_converter import StrandsFailureConverter

# A tool's stream ends with this event (Strands exports no public constructor for it).
__all__ = [
    "ActivityInfo",
    "StrandsFailureConverter",
    "ToolResultEvent",
    "activity_definition",
    "is_argument_decode_failure",
    "update_outcome_known",
]


@dataclass(frozen=True)
class ActivityInfo:
    """What a callable decorated with ``@activity.defn`` declares."""

    name: str | None
    is_async: bool


def activity_definition(fn: Callable[..., Any]) -> ActivityInfo | None:
    """The activity ``fn`` is (name, async), or None when it is not decorated as one.
    temporalio keeps the definition privately (``activity._Definition``)."""
    definition = activity._Definition.from_callable(fn)
    if definition is None:
        return None
    return ActivityInfo(name=definition.name, is_async=definition.is_async)


# What temporalio.worker._activity raises when an activity's input cannot be decoded.
ARGUMENT_DECODE_FAILURE = "Failed decoding arguments"


def is_argument_decode_failure(exception: BaseException) -> bool:
    """Whether ``exception`` is the SDK's failure to decode an activity's arguments (a
    plain ``ApplicationError`` with a fixed message, caused by the converter's error)."""
    return (
        isinstance(exception, ApplicationError)
        and exception.type is None
        and exception.message == ARGUMENT_DECODE_FAILURE
        and exception.__cause__ is not None
    )


def update_outcome_known(handle: WorkflowUpdateHandle[Any]) -> bool:
    """Whether an update started with ``wait_for_stage=ACCEPTED`` came back already
    decided. A validator's refusal comes back that way (its failure is the outcome), so an
    update still undecided here was accepted; temporalio keeps the outcome privately."""
    return getattr(handle, "_known_outcome", None) is not None
