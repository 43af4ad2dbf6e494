"""OTLP export is on exactly when OTEL_EXPORTER_OTLP_ENDPOINT is set: a real ``convoflow
worker`` sends its spans over OTLP/HTTP to a collector stand-in, without message text."""

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from client import SessionClient
from tests.conftest import make_settings
from tests.faults.procs import WorkerProcess
from tests.helpers import eventually, new_session_id
from worker.client import connect_client


class Collector(ThreadingHTTPServer):
    """Accepts ``POST /v1/traces`` and keeps the decoded spans."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[tuple[str, str, dict[str, str]]] = []  # (service, name, attributes)
        self.raw = b""


class _Handler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.raw += body
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource.resource.attributes}
            for scope in resource.scope_spans:
                for span in scope.spans:
                    values = {a.key: a.value.string_value for a in span.attributes}
                    self.server.spans.append((attributes["service.name"], span.name, values))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()


async def test_worker_exports_spans_over_otlp(
    collector: Collector, dev_address: str, tmp_path: Path
) -> None:
    queue = f"otlp-{uuid.uuid4().hex[:6]}"
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    worker = WorkerProcess(
        dev_address,
        queue,
        tmp_path,
        tmp_path,
        echo_delay_ms=0,
        extra_env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_SERVICE_NAME": "convoflow-worker",
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # export every 200 ms (default 5 s)
        },
    )
    settings = make_settings(dev_address, tmp_path, task_queue=queue)
    sessions = SessionClient(await connect_client(settings), settings)
    secret = f"otlp secret {uuid.uuid4().hex}"
    await worker.start()
    try:
        session_id = new_session_id("otlp")
        await sessions.send(session_id, secret, message_id="m-1")

        async def names() -> set[str]:
            return {name for _, name, _ in collector.spans}

        # Spans leave in batches as they end: the update's own span ends last.
        wanted = {"HandleUpdate:send_message", "StartActivity:invoke_model"}
        wanted.add("RunActivity:invoke_model")
        found = await eventually(names, lambda n: wanted <= n, timeout=30, interval=0.2)
        assert wanted <= found
        assert {service for service, _, _ in collector.spans} == {"convoflow-worker"}
        assert secret.encode() not in collector.raw
    finally:
        await worker.stop()


def test_tracing_is_off_without_the_variable() -> None:
    script = (
        "from opentelemetry import trace\n"
        "from models.settings import Settings\n"
        "from worker.client import client_plugins\n"
        "names = [type(p).__name__ for p in client_plugins(Settings())]\n"
        "print(names, type(trace.get_tracer_provider()).__name__)\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert "OpenTelemetryPlugin" not in result.stdout
    assert "ProxyTracerProvider" in result.stdout  # nobody installed a provider
