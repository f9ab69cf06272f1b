"""A real server exporting traces over OTLP/HTTP to a small collector started by the test."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
POLL_LIMIT_S = 20.0

# The function exports its own spans to the same collector, through a tracer
# provider it configures at import, as user code on Lambda would.
HANDLER = """
import os

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": "echo"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=os.environ["COLLECTOR"])))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("echo")


def echo(event, context):
    with tracer.start_as_current_span("user work"):
        return {"traceparent": os.environ.get("TRACEPARENT")}
"""


class Collector:
    """Spans received on POST /v1/traces, decoded from OTLP protobuf."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self._lock:
            for resource_spans in request.resource_spans:
                service = next(
                    (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), ""
                )
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append({
                            "service": service,
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                        })

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.spans)


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    received = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            received.add(body)
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received, f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    server.shutdown()
    server.server_close()


def wait_for_spans(collector: Collector, names: set[str]) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + POLL_LIMIT_S
    while True:
        spans = {span["name"]: span for span in collector.snapshot() if span["trace_id"] == TRACE_ID}
        if names <= set(spans):
            return spans
        if time.monotonic() > deadline:
            raise AssertionError(f"spans {sorted(names - set(spans))} not received; got {sorted(spans)}")
        time.sleep(0.05)


def test_server_exports_request_trace(serve: Any, collector: tuple[Collector, str], tmp_path: Path) -> None:
    received, url = collector
    app = tmp_path / "app"
    app.mkdir()
    (app / "handlers.py").write_text(HANDLER)
    (app / "squall.yml").write_text(
        "service: traced\nfunctions:\n  echo:\n    handler: handlers.echo\n"
        f"    environment: {{COLLECTOR: '{url}'}}\n"
        "    events:\n      - http: {method: GET, path: /echo}\n"
    )
    # A short export delay, so the batch arrives well within the poll limit.
    server = serve(app, "--no-watch", env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url, "OTEL_BSP_SCHEDULE_DELAY": "100"})

    response = httpx.get(f"{server.endpoint}/echo", headers={"traceparent": TRACEPARENT}, timeout=30)

    assert response.status_code == 200
    spans = wait_for_spans(received, {"GET /echo", "invoke echo", "handler", "user work"})
    assert spans["GET /echo"]["parent_span_id"] == CALLER_SPAN_ID
    assert spans["GET /echo"]["service"] == "squall"
    assert spans["invoke echo"]["parent_span_id"] == spans["GET /echo"]["span_id"]
    assert spans["handler"]["parent_span_id"] == spans["invoke echo"]["span_id"]
    assert spans["user work"]["parent_span_id"] == spans["handler"]["span_id"]
    assert response.json()["traceparent"] == f"00-{TRACE_ID}-{spans['invoke echo']['span_id']}-01"
