"""One refusal enum: every kind the workflow can raise has an HTTP status in the gateway and
an exception in the client, and they round-trip through a real ``ApplicationError``."""

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from client.errors import (
    CLIENT_ERRORS,
    MessageRejectedError,
    SessionNotFoundError,
    TurnFailedError,
    error_from_update,
)
from gateway.errors import HTTP_STATUS, error_for
from models import Refusal


def test_every_refusal_has_an_http_status_and_a_client_exception() -> None:
    assert set(HTTP_STATUS) == set(Refusal)
    assert set(CLIENT_ERRORS) == set(Refusal)


@pytest.mark.parametrize("kind", list(Refusal))
def test_a_refusal_raised_by_the_workflow_maps_to_its_exception_and_status(
    kind: Refusal,
) -> None:
    failure = WorkflowUpdateFailedError(ApplicationError("why", type=kind.value))
    error = error_from_update(failure)
    assert type(error) is CLIENT_ERRORS[kind]
    if isinstance(error, MessageRejectedError):
        assert error.kind == kind
    answer = error_for(error)
    assert answer.status == HTTP_STATUS[kind]
    assert answer.code == kind.value


def test_not_found_and_turn_failed_have_their_own_exceptions() -> None:
    assert CLIENT_ERRORS[Refusal.SESSION_NOT_FOUND] is SessionNotFoundError
    assert CLIENT_ERRORS[Refusal.TURN_FAILED] is TurnFailedError
    assert Refusal.SESSION_BUSY.transient and not Refusal.INVALID_MESSAGE.transient
