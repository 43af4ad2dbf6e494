"""Each turn runs in the trace of the request that delivered its message.

The update (or signal) handler runs in the context the Temporal OpenTelemetry interceptor
rebuilt from the client's headers; the turn runs later in the run loop, a different task.
So the inbox remembers the handler's context with the queued message and the loop resumes
it when it takes the message: the model and memory activities, and Strands' agent spans,
become children of that request's ``HandleUpdate`` span. Contexts change no command (and
are not carried across continue-as-new); with tracing off nothing is remembered.
"""

from opentelemetry import context as otel_context
from opentelemetry import trace

from workflows.session.state import RunState

_RUN = "\x00run"
"""Key of the run loop's own context (message ids never contain NUL)."""


def remember_trace(run: RunState, message_id: str) -> None:
    """Keep the calling handler's trace context for the turn of ``message_id``."""
    if trace.get_current_span().get_span_context().is_valid:
        run.traces[message_id] = otel_context.get_current()


def resume_trace(run: RunState, message_id: str | None) -> None:
    """Make the turn of ``message_id`` current in the run loop (else the run's own)."""
    if not run.traces:
        return  # tracing off, or nothing traced yet
    base = run.traces.setdefault(_RUN, otel_context.get_current())
    found = run.traces.pop(message_id, None) if message_id else None
    otel_context.attach(found if found is not None else base)
