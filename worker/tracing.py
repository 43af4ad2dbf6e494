"""Tracing with OpenTelemetry: one trace per turn, across the gateway, clients and workers.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (then spans go there over OTLP/HTTP; the
other standard ``OTEL_*`` variables apply, e.g. ``OTEL_SERVICE_NAME``), or a test installs
an exporter with :func:`install_tracing`. When on:

* every client gets ``temporalio.contrib.opentelemetry.OpenTelemetryPlugin`` (workers
  inherit it from their client), which carries the trace context in Temporal headers and
  adds spans for starting and handling updates, running the workflow and running activities;
* the tracer provider is the SDK's replay-safe one (``create_tracer_provider``): spans made
  inside the workflow, Strands' own agent spans included, get deterministic ids and are not
  emitted again when a worker replays a history;
* ``gateway`` and ``SessionClient`` open a span per turn carrying tenant, session and
  message ids (:func:`turn_span`), and the session runs each turn in the context of the
  update that delivered its message (``workflows.session.tracing``).

Message text never leaves the process: :class:`RedactingExporter` drops span events
(Strands puts prompts and replies there) and every attribute that is not on its allowlist.
"""

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, SpanKind, Status
from temporalio.contrib.opentelemetry import (
    OpenTelemetryPlugin,
    ReplaySafeTracerProvider,
    create_tracer_provider,
)

__all__ = [
    "RedactingExporter",
    "SpanKind",
    "install_tracing",
    "tracing_from_environment",
    "tracing_plugin",
    "turn_span",
]

log = logging.getLogger("convoflow.tracing")

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACER = "convoflow"

# Attributes that may leave the process: ids, names, counts, timings, never content.
ALLOWED_PREFIXES = (
    "convoflow.",
    "temporal",
    "gen_ai.",
    "http.",
    "url.path",
    "server.",
    "rpc.",
    "event_loop.",
    "otel.",
)
CONTENT_WORDS = (
    "message",
    "content",
    "prompt",
    "instruction",
    "argument",
    "result",
    "completion",
    "query",
    "definition",
    "text",
)

_provider: ReplaySafeTracerProvider | None = None
_from_environment = False
_processors: list[SpanProcessor] = []


def allowed_attribute(key: str) -> bool:
    """Whether an attribute key may be exported (an id or a measure, not content)."""
    lowered = key.lower()
    return lowered.startswith(ALLOWED_PREFIXES) and not any(
        word in lowered for word in CONTENT_WORDS if not lowered.startswith("convoflow.")
    )


def redacted(span: ReadableSpan) -> ReadableSpan:
    """``span`` without events and without attributes that could hold message text."""
    attributes = {k: v for k, v in (span.attributes or {}).items() if allowed_attribute(k)}
    status = span.status
    if status.description:  # an error's type, not its message (it may quote the input)
        status = Status(status.status_code, status.description.split(":", 1)[0])
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=(),
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingExporter(SpanExporter):
    """Exports through ``inner`` what :func:`redacted` keeps of each span."""

    def __init__(self, inner: SpanExporter) -> None:
        """Wrap ``inner``."""
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Redact, then export."""
        return self.inner.export([redacted(span) for span in spans])

    def shutdown(self) -> None:
        """Shut ``inner`` down."""
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush ``inner``."""
        return self.inner.force_flush(timeout_millis)


def install_tracing(exporter: SpanExporter, *, batch: bool = True) -> ReplaySafeTracerProvider:
    """Export (redacted) spans to ``exporter`` from the process's replay-safe provider.

    The provider is made the global one on the first call (OpenTelemetry's global provider
    cannot be replaced); later calls add their exporter to it.
    """
    global _provider
    if _provider is None:
        name = os.environ.get("OTEL_SERVICE_NAME") or "convoflow"
        resource = Resource.create({"service.name": name, "process.pid": os.getpid()})
        _provider = create_tracer_provider(resource=resource)
        trace.set_tracer_provider(_provider)
    kind = BatchSpanProcessor if batch else SimpleSpanProcessor
    processor = kind(RedactingExporter(exporter))
    _provider.add_span_processor(processor)
    _processors.append(processor)
    return _provider


def stop_tracing() -> None:
    """Shut every installed exporter down; clients made later get no tracing plugin.

    For tests that share a process with others (the global provider itself stays).
    """
    while _processors:
        _processors.pop().shutdown()


def tracing_from_environment() -> ReplaySafeTracerProvider | None:
    """Install OTLP export when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (once); else None,
    unless tracing was installed otherwise (a test's exporter)."""
    global _from_environment
    endpoint = os.environ.get(ENDPOINT_VARIABLE)
    if not endpoint or _from_environment:
        return _provider
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.warning(
            "%s is set but the OTLP exporter is missing (pip install 'convoflow[tracing]'):"
            " tracing stays off",
            ENDPOINT_VARIABLE,
        )
        return _provider
    _from_environment = True
    log.info("tracing: OTLP spans to %s", endpoint)
    return install_tracing(OTLPSpanExporter())


def tracing_plugin() -> OpenTelemetryPlugin | None:
    """The Temporal OpenTelemetry plugin when tracing is on (spans for every Temporal step)."""
    if tracing_from_environment() is None or not _processors:
        return None
    return OpenTelemetryPlugin(add_temporal_spans=True)


def turn_attributes(
    tenant_id: str, session_id: str, message_id: str | None = None
) -> dict[str, str]:
    """The ids a turn's spans carry (never the text)."""
    attributes = {"convoflow.tenant_id": tenant_id, "convoflow.session_id": session_id}
    if message_id is not None:
        attributes["convoflow.message_id"] = message_id
    return attributes


@contextmanager
def turn_span(
    name: str,
    tenant_id: str,
    session_id: str,
    message_id: str | None = None,
    *,
    kind: SpanKind = SpanKind.CLIENT,
    carrier: Mapping[str, str] | None = None,
) -> Iterator[Span]:
    """A span around one turn (``carrier``: incoming W3C headers to continue a trace).

    Without tracing this is OpenTelemetry's no-op span: nearly free.
    """
    parent = propagate.extract(carrier) if carrier is not None else None
    tracer = trace.get_tracer(TRACER)
    attributes = turn_attributes(tenant_id, session_id, message_id)
    token = otel_context.attach(parent) if parent is not None else None
    try:
        with tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span:
            yield span
    finally:
        if token is not None:
            otel_context.detach(token)
