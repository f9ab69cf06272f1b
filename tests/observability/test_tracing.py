"""Traces of invocations, with real instances and the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from squall.dispatcher.dispatcher import Dispatcher, Invocation, NodeSettings
from squall.events.async_invoke import AsyncInvoker, AsyncSettings
from squall.events.async_store import AsyncStore
from squall.gateway.app import GatewayApp
from squall.gateway.router import Router
from squall.manifest.spec import FunctionSpec, HttpEvent, ServiceSpec

if TYPE_CHECKING:
    # Imported at run time only inside fixtures: the tracing-off test imports
    # this module in a fresh interpreter that must not load OpenTelemetry.
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

REPO = Path(__file__).resolve().parents[2]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
POLL_LIMIT_S = 20.0

HANDLER = """
import os

def echo(event, context):
    return {"traceparent": os.environ.get("TRACEPARENT")}
"""


def write_app(folder: Path) -> ServiceSpec:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "handlers.py").write_text(HANDLER)
    (folder / "squall.yml").write_text("service: traced\nfunctions:\n  echo:\n    handler: handlers.echo\n")
    spec = FunctionSpec(name="echo", handler="handlers.echo")
    return ServiceSpec(service="traced", root=folder, manifest_path=folder / "squall.yml", functions={"echo": spec})


@pytest.fixture
async def dispatcher(tmp_path: Path) -> AsyncIterator[Dispatcher]:
    running = Dispatcher(NodeSettings(data_dir=tmp_path / "data"), lambda record: None, lambda entry: None)
    running.start()
    await running.deploy(write_app(tmp_path / "app"))
    yield running
    await running.close()


def gateway(dispatcher: Dispatcher) -> GatewayApp:
    router = Router([("echo", HttpEvent("GET", "/echo"))])
    platform = SimpleNamespace(router=router, dispatcher=dispatcher, async_invoker=None, hub=None)
    return GatewayApp(platform, None)  # type: ignore[arg-type]


async def get(app: GatewayApp, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, Any]]:
    scope = {
        "type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *headers], "http_version": "1.1", "scheme": "http",
        "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 50000),
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    body = b"".join(message.get("body", b"") for message in messages if message["type"] == "http.response.body")
    return messages[0]["status"], json.loads(body)


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


async def test_gateway_request_joins_callers_trace(exporter: InMemorySpanExporter, dispatcher: Dispatcher) -> None:
    status, body = await get(gateway(dispatcher), "/echo", [(b"traceparent", TRACEPARENT.encode())])

    assert status == 200
    spans = by_name(exporter.get_finished_spans())
    assert {"GET /echo", "invoke echo", "acquire instance", "cold start"} <= set(spans)
    server, invoke = spans["GET /echo"], spans["invoke echo"]
    assert {f"{span.context.trace_id:032x}" for span in spans.values()} == {TRACE_ID}
    assert server.parent is not None
    assert f"{server.parent.span_id:016x}" == CALLER_SPAN_ID
    assert invoke.parent is not None
    assert invoke.parent.span_id == server.context.span_id
    assert server.attributes["http.route"] == "/echo"
    assert server.attributes["http.response.status_code"] == 200
    assert invoke.attributes["faas.coldstart"] is True
    # The instance receives the invocation span as its parent.
    assert body["traceparent"] == f"00-{TRACE_ID}-{invoke.context.span_id:016x}-01"


async def test_gateway_without_header_starts_trace(exporter: InMemorySpanExporter, dispatcher: Dispatcher) -> None:
    status, body = await get(gateway(dispatcher), "/echo", [(b"traceparent", b"not-a-traceparent")])

    assert status == 200
    spans = by_name(exporter.get_finished_spans())
    assert spans["GET /echo"].parent is None
    assert spans["invoke echo"].context.trace_id == spans["GET /echo"].context.trace_id
    assert body["traceparent"] is not None


async def test_async_invocation_keeps_trace(exporter: InMemorySpanExporter, dispatcher: Dispatcher, tmp_path: Path) -> None:
    invoker = AsyncInvoker(dispatcher, AsyncStore(tmp_path / "async.db"), AsyncSettings())
    await invoker.start()
    try:
        await invoker.accept(Invocation("echo", b"{}", "event", traceparent=TRACEPARENT))
        deadline = asyncio.get_running_loop().time() + POLL_LIMIT_S
        while invoker.pending_count() or "invoke echo" not in by_name(exporter.get_finished_spans()):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the asynchronous invocation did not run in time")
            await asyncio.sleep(0.02)
    finally:
        await invoker.close()

    invoke = by_name(exporter.get_finished_spans())["invoke echo"]
    assert f"{invoke.context.trace_id:032x}" == TRACE_ID
    assert invoke.parent is not None
    assert f"{invoke.parent.span_id:016x}" == CALLER_SPAN_ID


def test_async_store_adds_column_to_old_file(tmp_path: Path) -> None:
    path = tmp_path / "async.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE invocations (id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, function TEXT NOT NULL,"
            " trigger TEXT NOT NULL, payload BLOB NOT NULL, accepted_at REAL NOT NULL, due_at REAL NOT NULL,"
            " attempts INTEGER NOT NULL DEFAULT 0, last_error BLOB)"
        )
        old.execute("INSERT INTO invocations (request_id, function, trigger, payload, accepted_at, due_at)"
                    " VALUES ('r1', 'echo', 'event', x'7b7d', 1.0, 1.0)")
    old.close()

    store = AsyncStore(path)
    try:
        [queued] = store.pending()
        assert store.traceparent(queued.id) is None
    finally:
        store.close()


OFF_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    sys.path[:0] = [{repo!r}, {tests!r}]
    import squall.server
    from squall.observability import tracing
    from test_tracing import TRACEPARENT, dispatcher_for, gateway, get

    async def main():
        running = await dispatcher_for({tmp!r})
        try:
            status, body = await get(gateway(running), "/echo", [(b"traceparent", TRACEPARENT.encode())])
        finally:
            await running.close()
        loaded = sorted(name for name in sys.modules if name.startswith("opentelemetry"))
        print(json.dumps({{"configured": tracing.configure_from_environment({{}}), "status": status,
                          "traceparent": body["traceparent"], "loaded": loaded}}))

    asyncio.run(main())
    """
)


async def dispatcher_for(folder: str) -> Dispatcher:
    """Deploy the test app from a subprocess, where pytest fixtures are out of reach."""
    running = Dispatcher(NodeSettings(data_dir=Path(folder) / "data"), lambda record: None, lambda entry: None)
    running.start()
    await running.deploy(write_app(Path(folder) / "app"))
    return running


def test_tracing_off_loads_no_opentelemetry(tmp_path: Path) -> None:
    # A fresh interpreter, because this test process has the SDK loaded for the other tests.
    script = OFF_SCRIPT.format(repo=str(REPO), tests=str(Path(__file__).parent), tmp=str(tmp_path))
    environment = {"PATH": "/usr/bin:/bin"}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                               env=environment, cwd=tmp_path)

    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["configured"] is False
    assert report["status"] == 200
    assert report["traceparent"] is None
    assert report["loaded"] == []
