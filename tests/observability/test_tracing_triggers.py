"""Trace context from a write to the invocation it triggers: header parsing, the SDK's header, and the triggers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from squall.dispatcher.dispatcher import Invocation, InvocationResult
from squall.events.object_trigger import ObjectTriggers
from squall.events.record_triggers import RecordTriggers
from squall.gateway.services_api import request_traceparent
from squall.observability import tracing
from squall.sdk.client import Client
from squall.sdk.objects import Bucket
from squall.services.hub import ServiceHub
from tests.events.test_object_trigger import PNG_IMAGES, RecordingInvoker
from tests.events.test_object_trigger import services as object_services
from tests.events.test_object_trigger import wait_until
from tests.events.test_record_triggers import FakeAsyncInvoker, FakeDispatcher, make_trigger
from tests.events.test_record_triggers import services as record_services

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
OTHER_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def scope_with(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "headers": list(headers)}


# The services API's reading of the header


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TRACEPARENT.encode(), TRACEPARENT),
        (b"  " + TRACEPARENT.encode() + b" ", TRACEPARENT),
        # A later version may append fields, which are kept as sent.
        (b"01" + TRACEPARENT[2:].encode() + b"-extra", "01" + TRACEPARENT[2:] + "-extra"),
        (TRACEPARENT.encode() + b"-extra", None),  # version 00 has exactly four fields
        (b"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", None),
        (b"00-00000000000000000000000000000000-b7ad6b7169203331-01", None),
        (b"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", None),
        (b"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", None),
        (b"not a trace", None),
        (b"00-" + b"a" * 600, None),
    ],
)
def test_header_read_while_tracing_on(monkeypatch: pytest.MonkeyPatch, value: bytes, expected: str | None) -> None:
    monkeypatch.setattr(tracing, "enabled", True)

    assert request_traceparent(scope_with((b"traceparent", value))) == expected


def test_header_ignored_while_tracing_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "enabled", False)

    assert request_traceparent(scope_with((b"traceparent", TRACEPARENT.encode()))) is None


def test_missing_header_reads_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "enabled", True)

    assert request_traceparent(scope_with((b"content-type", b"application/json"))) is None


# The SDK's header


class HeaderRecorder:
    """A loopback HTTP server that records each request's traceparent header and returns a fixed result."""

    def __init__(self) -> None:
        self.traceparents: list[str | None] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _respond(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                recorder.traceparents.append(self.headers.get("traceparent"))
                body = b'{"result": {"bucket": "b", "key": "k", "size": 0, "etag": "\\"e\\"",' \
                       b' "content_type": "text/plain", "last_modified": 0}}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = _respond  # noqa: N815 - the names http.server calls
            do_PUT = _respond  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[HeaderRecorder]:
    running = HeaderRecorder()
    yield running
    running.close()


def sdk_calls(client: Client) -> None:
    client.call("streams", "put_record", stream="clicks", data="", partition_key="k")
    Bucket("uploads", client).put("a.txt", b"bytes")


@pytest.mark.parametrize("traceparent", [TRACEPARENT, None])
def test_sdk_sends_invocation_trace(
    monkeypatch: pytest.MonkeyPatch, recorder: HeaderRecorder, traceparent: str | None
) -> None:
    if traceparent is None:
        monkeypatch.delenv("TRACEPARENT", raising=False)
    else:
        monkeypatch.setenv("TRACEPARENT", traceparent)

    sdk_calls(Client(recorder.endpoint, token=""))

    assert recorder.traceparents == [traceparent, traceparent]


# The triggers


@pytest.fixture
async def hub(tmp_path: Path) -> Any:
    opened = ServiceHub(tmp_path / "services")
    opened.store("streams").create_stream("clicks")
    opened.store("tables").create_table("users", partition_key=("id", "S"))
    opened.store("objects").create_bucket("uploads")
    yield opened
    opened.close()


class InvocationRecorder(FakeDispatcher):
    """A fake dispatcher that also keeps each invocation."""

    def __init__(self) -> None:
        super().__init__()
        self.invocations: list[Invocation] = []

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        self.invocations.append(invocation)
        return await super().invoke(invocation)


def write(hub: ServiceHub, kind: str, value: str, traceparent: str | None) -> None:
    if kind == "stream":
        hub.store("streams").put_record("clicks", value.encode(), "one-shard", traceparent=traceparent)
    else:
        hub.store("tables").put("users", {"id": value}, traceparent=traceparent)


@pytest.mark.parametrize("kind", ["stream", "table"])
@pytest.mark.parametrize(("enabled", "expected"), [(True, TRACEPARENT), (False, None)])
async def test_batch_takes_first_traced_record(
    monkeypatch: pytest.MonkeyPatch, hub: ServiceHub, kind: str, enabled: bool, expected: str | None
) -> None:
    monkeypatch.setattr(tracing, "enabled", enabled)
    # Written before the trigger starts, so the three records arrive in one batch.
    write(hub, kind, "untraced", None)
    write(hub, kind, "first", TRACEPARENT)
    write(hub, kind, "second", OTHER_TRACEPARENT)
    dispatcher = InvocationRecorder()
    triggers = RecordTriggers(hub, dispatcher, FakeAsyncInvoker(), backoff_s=0.01)  # type: ignore[arg-type]
    try:
        triggers.update(record_services(make_trigger(kind), None))
        await wait_until(lambda: dispatcher.invocations)
    finally:
        await triggers.close()

    (invocation,) = dispatcher.invocations
    assert len(dispatcher.events[0]["Records"]) == 3
    assert invocation.traceparent == expected


@pytest.mark.parametrize("traceparent", [TRACEPARENT, None])
async def test_upload_trace_reaches_invocation(hub: ServiceHub, traceparent: str | None) -> None:
    invoker = RecordingInvoker()
    triggers = ObjectTriggers(hub, invoker, backoff_s=(0.01, 0.05), restore_grace_s=0.0)  # type: ignore[arg-type]
    try:
        triggers.update(object_services({"images": (PNG_IMAGES,)}))
        hub.store("objects").put("uploads", "images/cat.png", b"png", traceparent=traceparent)
        hub.notify("objects", "uploads")
        await wait_until(lambda: invoker.accepted)
    finally:
        await triggers.close()

    (invocation,) = invoker.accepted
    assert invocation.traceparent == traceparent
