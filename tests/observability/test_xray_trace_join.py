"""Traces that an X-Ray trace header continues, and trace ids that carry their start time as X-Ray's do."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from squall.dispatcher.dispatcher import Dispatcher
from squall.gateway.app import GatewayApp
from squall.observability import tracing
from tests.observability.test_tracing import by_name, dispatcher, gateway  # noqa: F401 - fixtures

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
TRACE_ID = "5759e988bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Root={ROOT};Parent={PARENT};Sampled=1", f"00-{TRACE_ID}-{PARENT}-01"),
        (f"Root={ROOT};Parent={PARENT};Sampled=0", f"00-{TRACE_ID}-{PARENT}-00"),
        (f"Root={ROOT};Parent={PARENT}", f"00-{TRACE_ID}-{PARENT}-01"),
        (f"Root={ROOT}; Parent={PARENT}; Sampled=1; Lineage=0a1b2c3d:2", f"00-{TRACE_ID}-{PARENT}-01"),
        (f"Root={ROOT};Sampled=1", None),
        (f"Parent={PARENT};Sampled=1", None),
        (f"Root=1-5759e988-short;Parent={PARENT}", None),
        (f"Root={ROOT};Parent=XYZ", None),
        ("", None),
        (None, None),
    ],
)
def test_traceparent_from_xray(header: str | None, expected: str | None) -> None:
    assert tracing.traceparent_from_xray(header) == expected


async def invoke(app: GatewayApp, headers: list[tuple[bytes, bytes]], invocation_type: bytes) -> tuple[int, bytes]:
    path = "/2015-03-31/functions/echo/invocations"
    scope = {
        "type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"x-amz-invocation-type", invocation_type), *headers],
        "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 50000),
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    body = b"".join(message.get("body", b"") for message in messages if message["type"] == "http.response.body")
    return messages[0]["status"], body


async def test_invoke_joins_xray_trace(exporter: InMemorySpanExporter, dispatcher: Dispatcher) -> None:
    header = f"Root={ROOT};Parent={PARENT};Sampled=1".encode()

    status, body = await invoke(gateway(dispatcher), [(b"x-amzn-trace-id", header)], b"RequestResponse")

    assert status == 200
    spans = by_name(exporter.get_finished_spans())
    server, invoke_span = spans["POST"], spans["invoke echo"]
    assert f"{server.context.trace_id:032x}" == TRACE_ID
    assert server.parent is not None
    assert f"{server.parent.span_id:016x}" == PARENT
    assert invoke_span.context.trace_id == server.context.trace_id
    assert json.loads(body)["traceparent"].startswith(f"00-{TRACE_ID}-")


async def test_unsampled_xray_trace_not_exported(exporter: InMemorySpanExporter, dispatcher: Dispatcher) -> None:
    header = f"Root={ROOT};Parent={PARENT};Sampled=0".encode()

    status, body = await invoke(gateway(dispatcher), [(b"x-amzn-trace-id", header)], b"RequestResponse")

    assert status == 200
    assert exporter.get_finished_spans() == ()
    _, trace_id, _, flags = json.loads(body)["traceparent"].split("-")
    assert trace_id == TRACE_ID
    assert flags == "00"


async def test_traceparent_wins_over_xray(exporter: InMemorySpanExporter, dispatcher: Dispatcher) -> None:
    traceparent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    header = f"Root={ROOT};Parent={PARENT};Sampled=1".encode()

    await invoke(gateway(dispatcher), [(b"traceparent", traceparent), (b"x-amzn-trace-id", header)], b"RequestResponse")

    spans = by_name(exporter.get_finished_spans())
    assert f"{spans['POST'].context.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_new_trace_id_starts_with_time(exporter: InMemorySpanExporter, dispatcher: Dispatcher) -> None:
    before = int(time.time())

    await invoke(gateway(dispatcher), [], b"RequestResponse")

    after = int(time.time())
    spans = by_name(exporter.get_finished_spans())
    started = spans["POST"].context.trace_id >> 96
    assert before <= started <= after
