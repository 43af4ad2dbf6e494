"""Gateway limits (token bucket, turns per session), request parsing and error mapping."""

import threading

import pytest

from client.errors import (
    ConvoflowError,
    MessageRejectedError,
    SessionNotFoundError,
    TurnFailedError,
)
from gateway import GatewayError, Invocation, error_for, parse_invocation
from gateway.limits import MAX_TRACKED_USERS, RateLimiter, TurnGate, retry_after_header
from models import InvalidIdError


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_burst_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.take("alice") for _ in range(3)] == [None, None, None]
    wait = limiter.take("alice")
    assert wait == pytest.approx(0.5)
    assert retry_after_header(wait or 0) == "1"
    assert limiter.take("bob") is None  # every user has a bucket of their own
    clock.now += 0.5
    assert limiter.take("alice") is None
    assert limiter.take("alice") == pytest.approx(0.5)
    clock.now += 100  # refills only up to the burst
    assert [limiter.take("alice") for _ in range(4)][-1] is not None


def test_refused_requests_do_not_spend_tokens() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    assert limiter.take("u") is None
    for _ in range(10):
        assert limiter.take("u") is not None
    clock.now += 1.0
    assert limiter.take("u") is None


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.0) == "1"
    assert retry_after_header(1.2) == "2"
    assert retry_after_header(99.5) == "100"


def test_bucket_table_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    for user in range(MAX_TRACKED_USERS):
        limiter.take(f"user-{user}")
    clock.now += 10  # every bucket is full again: forgetting them changes nothing
    limiter.take("newcomer")
    assert len(limiter._buckets) == 1


def test_limiter_rejects_nonsense_configuration() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(rate=1, burst=0)
    with pytest.raises(ValueError):
        TurnGate(queue_depth=-1)


def test_turn_gate_one_running_plus_queue() -> None:
    gate = TurnGate(queue_depth=1)
    assert gate.enter("acme:s1") and gate.enter("acme:s1")
    assert not gate.enter("acme:s1")
    assert gate.enter("acme:s2")
    assert gate.in_progress("acme:s1") == 2 and gate.in_progress() == 3
    gate.leave("acme:s1")
    assert gate.enter("acme:s1")
    for _ in range(2):
        gate.leave("acme:s1")
    gate.leave("acme:s2")
    assert gate.in_progress() == 0


def test_turn_gate_is_thread_safe() -> None:
    gate = TurnGate(queue_depth=49)
    admitted: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(100):
            ok = gate.enter("s")
            with lock:
                admitted.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 50 and gate.in_progress("s") == 50


def test_parse_invocation() -> None:
    assert parse_invocation({"prompt": "hi"}, "s1", 100) == Invocation("s1", "hi")
    parsed = parse_invocation(
        {"prompt": "hi", "session_id": "s1", "message_id": "m-1", "stream": True}, None, 100
    )
    assert parsed == Invocation("s1", "hi", "m-1", True)
    assert parse_invocation({"prompt": "hi", "session_id": "s1"}, "s1", 100).session_id == "s1"


@pytest.mark.parametrize(
    ("payload", "header", "status", "code"),
    [
        ("hi", "s1", 400, "InvalidRequest"),
        ({}, "s1", 400, "InvalidRequest"),
        ({"prompt": ""}, "s1", 400, "InvalidRequest"),
        ({"prompt": ["hi"]}, "s1", 400, "InvalidRequest"),
        ({"prompt": "x" * 11}, "s1", 413, "PromptTooLong"),
        ({"prompt": "hi"}, None, 400, "MissingSession"),
        ({"prompt": "hi", "session_id": "s2"}, "s1", 400, "InvalidRequest"),
        ({"prompt": "hi", "session_id": 7}, None, 400, "InvalidRequest"),
        ({"prompt": "hi"}, "bad id", 400, "InvalidId"),
        ({"prompt": "hi", "message_id": "a/b"}, "s1", 400, "InvalidId"),
        ({"prompt": "hi", "message_id": 5}, "s1", 400, "InvalidRequest"),
        ({"prompt": "hi", "stream": 1}, "s1", 400, "InvalidRequest"),
        ({"prompt": "hi", "user_id": "bob"}, "s1", 400, "InvalidRequest"),
        ({"prompt": "hi", "tenant": "globex"}, "s1", 400, "InvalidRequest"),
    ],
)
def test_parse_invocation_refusals(
    payload: object, header: str | None, status: int, code: str
) -> None:
    with pytest.raises(GatewayError) as caught:
        parse_invocation(payload, header, 10)
    assert (caught.value.status, caught.value.code) == (status, code)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (SessionNotFoundError("no session 's1' of user alice"), 404, "SessionNotFound"),
        (MessageRejectedError("empty", "InvalidMessage"), 400, "InvalidMessage"),
        (MessageRejectedError("busy", "SessionBusy"), 409, "SessionBusy"),
        (MessageRejectedError("closing", "SessionClosing"), 409, "SessionClosing"),
        (MessageRejectedError("?", "UnknownMessage"), 404, "UnknownMessage"),
        (TurnFailedError("turn failed: boom"), 502, "TurnFailed"),
        (ConvoflowError("stayed busy"), 503, "Unavailable"),
        (InvalidIdError("bad"), 400, "InvalidId"),
        (KeyError("internal detail"), 500, "InternalError"),
    ],
)
def test_error_mapping(error: Exception, status: int, code: str) -> None:
    mapped = error_for(error)
    assert (mapped.status, mapped.code) == (status, code)
    assert mapped.event() == {"type": "error", "code": code, "message": mapped.message}
    if code == "SessionNotFound":
        assert mapped.message == "no such session"  # never who owns it
    if code == "InternalError":
        assert "internal detail" not in mapped.message
