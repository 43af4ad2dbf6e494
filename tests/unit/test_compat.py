"""The private names in ``worker/_compat.py`` still exist: if temporalio or its Strands
plugin renames them, this fails here, loudly, instead of in a gateway or worker."""

import inspect

from temporalio.client import WorkflowUpdateHandle
from temporalio.converter import FailureConverter
from temporalio.exceptions import ApplicationError

from worker._compat import (
    ARGUMENT_DECODE_FAILURE,
    StrandsFailureConverter,
    is_argument_decode_failure,
    update_outcome_known,
)


def test_strands_failure_converter_is_a_failure_converter_taking_encode_flag() -> None:
    assert issubclass(StrandsFailureConverter, FailureConverter)
    assert "encode_common_attributes" in inspect.signature(StrandsFailureConverter).parameters


def test_update_handles_still_keep_their_known_outcome() -> None:
    handle: WorkflowUpdateHandle[None] = WorkflowUpdateHandle(
        client=None,  # type: ignore[arg-type]
        id="u",
        workflow_id="w",
        known_outcome=None,
    )
    assert hasattr(handle, "_known_outcome")
    assert update_outcome_known(handle) is False
    handle._known_outcome = object()  # type: ignore[assignment]
    assert update_outcome_known(handle) is True


def test_the_sdk_still_fails_undecodable_activity_input_with_our_known_message() -> None:
    from temporalio.worker import _activity

    assert ARGUMENT_DECODE_FAILURE in inspect.getsource(_activity)
    cause = ValueError("recursion limit")
    try:
        raise ApplicationError(ARGUMENT_DECODE_FAILURE) from cause
    except ApplicationError as err:
        assert is_argument_decode_failure(err)
    assert not is_argument_decode_failure(ApplicationError(ARGUMENT_DECODE_FAILURE))
    assert not is_argument_decode_failure(ApplicationError("other", type="X"))


def test_activity_definitions_are_still_readable() -> None:
    from temporalio import activity

    from worker._compat import activity_definition

    @activity.defn(name="renamed")
    async def tool(x: int) -> int:
        return x

    @activity.defn
    def blocking(x: int) -> int:
        return x

    info = activity_definition(tool)
    assert info is not None and info.name == "renamed" and info.is_async
    sync = activity_definition(blocking)
    assert sync is not None and not sync.is_async
    assert activity_definition(lambda: None) is None


def test_tool_result_events_carry_their_result() -> None:
    from worker._compat import ToolResultEvent

    event = ToolResultEvent({"toolUseId": "t", "status": "error", "content": [{"text": "x"}]})
    assert event.tool_result["status"] == "error"
