"""One turn is one trace: gateway request -> update -> workflow -> model activity.

A real gateway (uvicorn on loopback), a real dev server and an in-process worker, with the
tracing the OTLP variable would turn on, exported to memory instead. The test asserts the
parent/child chain span by span, the ids on the spans, and that the message text appears
nowhere in what is exported.
"""

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from client import SessionClient
from gateway import build_gateway
from tests.conftest import make_settings
from tests.faults.figures import record
from tests.helpers import eventually, new_session_id
from worker.client import connect_client
from worker.lifecycle import serving
from worker.run import running_worker
from worker.tracing import install_tracing, stop_tracing

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
TRACEPARENT = "00-{trace}-{span}-01"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """Spans of this process, redacted like OTLP export, kept in memory (synchronously);
    stopped after this module so later tests run untraced."""
    memory = InMemorySpanExporter()
    install_tracing(memory, batch=False)
    yield memory
    stop_tracing()


def chain(spans: Sequence[ReadableSpan], leaf: ReadableSpan) -> list[str]:
    """Names from the root down to ``leaf``, following parent ids."""
    by_id = {span.context.span_id: span for span in spans}
    names = [leaf.name]
    span = leaf
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names[::-1]


async def test_a_turn_is_one_trace(
    exporter: InMemorySpanExporter, dev_address: str, tmp_path: Path
) -> None:
    settings = make_settings(dev_address, tmp_path, tenant="acme", user="alice")
    client = await connect_client(settings)
    sessions = SessionClient(client, settings)
    session_id = new_session_id("trace")
    secret = f"the secret word is {uuid.uuid4().hex}"
    app = build_gateway(settings, sessions=sessions, insecure_dev=True)
    async with (
        running_worker(client, settings),
        serving(app, "127.0.0.1", 0) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        # The first turn starts the session; the second is the one we follow.
        for message_id, prompt in (("m-1", "hello"), ("m-2", secret)):
            exporter.clear()
            caller_trace, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
            response = await http.post(
                "/invocations",
                json={"prompt": prompt, "message_id": message_id},
                headers={
                    SESSION_HEADER: session_id,
                    "traceparent": TRACEPARENT.format(trace=caller_trace, span=caller_span),
                },
            )
            assert response.status_code == 200, response.text

            def model_run(spans: Sequence[ReadableSpan]) -> bool:
                return any(s.name == "RunActivity:invoke_model" for s in spans)

            await eventually(lambda: _finished(exporter), model_run, timeout=30, interval=0.1)

    spans = exporter.get_finished_spans()
    trace_ids = {span.context.trace_id for span in spans}
    # One trace, this request's: every span of the turn continues its traceparent (the
    # first turn had another one).
    assert trace_ids == {int(caller_trace, 16)}, [s.name for s in spans]
    by_name = {span.name: span for span in spans}
    request = by_name["POST /invocations"]
    assert request.parent is not None and request.parent.span_id == int(caller_span, 16)
    model = by_name["RunActivity:invoke_model"]
    path = chain(spans, model)
    assert path == [
        "POST /invocations",  # the gateway
        "convoflow.send",  # SessionClient
        "StartUpdateWithStartWorkflow:SessionWorkflow",  # the Temporal client
        "HandleUpdate:send_message",  # the workflow's update handler
        "invoke_agent Strands Agents",  # Strands' own spans, in the workflow
        "execute_event_loop_cycle",
        "chat",
        "StartActivity:invoke_model",  # the model call, scheduled ...
        "RunActivity:invoke_model",  # ... and run on the worker
    ], path
    # The turn's memory preparation (a local activity) is in the same trace, under the update.
    prepare = by_name["RunActivity:prepare_turn"]
    assert "HandleUpdate:send_message" in chain(spans, prepare)
    # The ids are on the request and client spans; the text is on no span at all.
    for name in ("POST /invocations", "convoflow.send"):
        attributes = by_name[name].attributes or {}
        assert attributes["convoflow.tenant_id"] == "acme"
        assert attributes["convoflow.session_id"] == session_id
        assert attributes["convoflow.message_id"] == "m-2"
    exported = " ".join(
        f"{s.name} {dict(s.attributes or {})} {[e.attributes for e in s.events]} {s.status}"
        for s in spans
    )
    assert "secret word" not in exported
    record(
        "tracing: one turn",
        spans=len(spans),
        names=sorted({s.name for s in spans}),
        depth=len(path),
    )


async def _finished(exporter: InMemorySpanExporter) -> Sequence[ReadableSpan]:
    return exporter.get_finished_spans()
