"""The private names in ``worker/_compat.py`` still exist: if temporalio or its Strands
plugin renames them, this fails here, loudly, instead of in a gateway or worker."""

import inspect

from temporalio.client import WorkflowUpdateHandle
from temporalio.converter import FailureConverter

from worker._compat import StrandsFailureConverter, update_outcome_known


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
