"""X-Ray trace headers carried by queue messages and object changes, and the queue trigger's count of them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel

from squall.dispatcher.dispatcher import Invocation, InvocationResult
from squall.events.async_invoke import chain_trace_header
from squall.events.queue_trigger import QueueTriggers
from squall.manifest.spec import FunctionSpec, QueueTrigger, RecursiveLoop, ServiceSpec
from squall.metering.records import Outcome
from squall.runtime.bootstrap import lineage_key
from squall.sdk import queues as sdk_queues
from squall.sdk.objects import Bucket
from squall.services.errors import InvalidParameter
from squall.services.hub import ServiceHub
from squall.services.objects import FileObjects
from squall.services.objects.errors import InvalidArgument
from squall.services.queues import DeadLetterPolicy, QueueSettings, SqliteQueues, sqs_event
from tests.events.test_record_triggers import FUNCTION, wait_until

ROOT = "1-5759e988-bd862e3fe1be46a994272793"


def header_at(count: int, function: str = FUNCTION) -> str:
    return f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0;Lineage={lineage_key(function)}:{count}"


# The queue store


@pytest.fixture
def queues(tmp_path: Path) -> SqliteQueues:
    store = SqliteQueues(tmp_path / "queues.db")
    yield store
    store.close()


def test_queue_message_keeps_trace_header(queues: SqliteQueues) -> None:
    queues.create_queue("jobs")
    queues.send("jobs", "traced", trace_header=header_at(3))
    queues.send("jobs", "plain")

    received = {message.body: message for message in queues.receive("jobs", 10)}

    assert received["traced"].attributes["AWSTraceHeader"] == header_at(3)
    assert "AWSTraceHeader" not in received["plain"].attributes


def test_batch_messages_keep_trace_header(queues: SqliteQueues) -> None:
    from squall.services.queues import BatchEntry

    queues.create_queue("jobs")
    queues.send_batch("jobs", [BatchEntry("a", "one"), BatchEntry("b", "two")], trace_header=header_at(2))

    received = queues.receive("jobs", 10)

    assert [message.attributes["AWSTraceHeader"] for message in received] == [header_at(2)] * 2


def test_trace_header_not_counted_in_size(queues: SqliteQueues) -> None:
    queues.create_queue("small", QueueSettings(max_message_bytes=1024))

    queues.send("small", "x" * 1024, trace_header=header_at(1))

    assert queues.receive("small")[0].attributes["AWSTraceHeader"] == header_at(1)


def test_invalid_trace_header_rejected(queues: SqliteQueues) -> None:
    queues.create_queue("jobs")

    with pytest.raises(InvalidParameter, match="trace header"):
        queues.send("jobs", "body", trace_header="Root=1 with spaces")


def test_redrive_keeps_trace_header(queues: SqliteQueues) -> None:
    queues.create_queue("dead")
    queues.create_queue("jobs", QueueSettings(visibility_timeout_s=0, dead_letter=DeadLetterPolicy("dead", 1)))
    queues.send("jobs", "body", trace_header=header_at(5))
    queues.receive("jobs")

    assert queues.receive("jobs") == []
    moved = queues.receive("dead")

    assert moved[0].attributes["AWSTraceHeader"] == header_at(5)


def test_sqs_event_shows_trace_header_as_sqs_does(queues: SqliteQueues) -> None:
    queues.create_queue("jobs")
    queues.send("jobs", "traced", trace_header=header_at(1))

    event = sqs_event(queues.receive("jobs"), "arn:aws:sqs:us-east-1:000000000000:jobs")
    parsed = SqsModel.model_validate(event)

    assert parsed.Records[0].attributes.AWSTraceHeader == header_at(1)
    assert "AWSTraceHeader" not in event["Records"][0]["messageAttributes"]


def test_old_queue_store_gets_trace_column(tmp_path: Path) -> None:
    path = tmp_path / "queues.db"
    SqliteQueues(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("ALTER TABLE messages DROP COLUMN trace_header")

    store = SqliteQueues(path)
    store.create_queue("jobs")
    store.send("jobs", "body", trace_header=header_at(1))

    assert store.receive("jobs")[0].attributes["AWSTraceHeader"] == header_at(1)
    store.close()


# The object store


@pytest.fixture
def objects(tmp_path: Path) -> FileObjects:
    store = FileObjects(tmp_path / "objects")
    store.create_bucket("photos")
    yield store
    store.close()


def test_put_keeps_trace_header_apart(objects: FileObjects) -> None:
    info = objects.put("photos", "cat.png", b"meow", metadata={"owner": "tom"}, trace_header=header_at(4))

    assert info.metadata == {"owner": "tom"}
    assert objects.head("photos", "cat.png").metadata == {"owner": "tom"}
    assert objects.events()[-1].trace_header == header_at(4)


def test_put_without_trace_header(objects: FileObjects) -> None:
    objects.put("photos", "cat.png", b"meow")

    assert objects.events()[-1].trace_header is None


def test_copy_and_delete_keep_trace_header(objects: FileObjects) -> None:
    objects.put("photos", "cat.png", b"meow")
    objects.copy("photos", "cat.png", "photos", "copy.png", trace_header=header_at(2))
    objects.delete("photos", "cat.png", trace_header=header_at(3))

    copied, deleted = objects.events()[-2:]

    assert copied.trace_header == header_at(2)
    assert deleted.trace_header == header_at(3)


def test_object_invalid_trace_header_rejected(objects: FileObjects) -> None:
    with pytest.raises(InvalidArgument, match="trace header"):
        objects.put("photos", "cat.png", b"meow", trace_header="Root=\u00e9")


# The SDK


class RecordingClient:
    """Records the SDK's calls and requests instead of sending them."""

    endpoint = "http://127.0.0.1:1"
    info = {"bucket": "photos", "key": "cat.png", "size": 4, "etag": '"x"', "content_type": "a/b", "last_modified": 0.0}

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def call(self, service: str, operation: str, **arguments: Any) -> Any:
        self.calls.append((service, operation, arguments))
        return self.info

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        self.requests.append((method, path, dict(headers or {})))
        return 200, {}, orjson.dumps({"result": self.info})


def test_sdk_sends_trace_header_inside_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", header_at(7))
    client = RecordingClient()

    sdk_queues.Queue("jobs", client).send("body")  # type: ignore[arg-type]
    sdk_queues.Queue("jobs", client).send_batch(["a", "b"])  # type: ignore[arg-type]
    Bucket("photos", client).put("cat.png", b"meow")  # type: ignore[arg-type]
    Bucket("photos", client).copy("cat.png", "copy.png")  # type: ignore[arg-type]

    sent = [arguments.get("trace_header") for _, _, arguments in client.calls]
    assert sent == [header_at(7)] * 3
    assert client.requests[0][2]["X-Amzn-Trace-Id"] == header_at(7)


def test_sdk_batch_carries_traceparent(monkeypatch: pytest.MonkeyPatch) -> None:
    traceparent = "00-6b147bf5f276d8cb86356397e17242eb-00f067aa0ba902b7-01"
    monkeypatch.setenv("TRACEPARENT", traceparent)
    client = RecordingClient()

    kind = {"DataType": "String", "StringValue": "x"}
    sdk_queues.Queue("jobs", client).send_batch(["a", {"body": "b", "attributes": {"kind": kind}}])  # type: ignore[arg-type]

    entries = client.calls[0][2]["entries"]
    assert entries[0]["attributes"]["traceparent"]["string_value"] == traceparent
    assert entries[1]["attributes"]["traceparent"]["string_value"] == traceparent
    assert entries[1]["attributes"]["kind"]["string_value"] == "x"


def test_sdk_sends_no_trace_header_outside_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    client = RecordingClient()

    sdk_queues.Queue("jobs", client).send("body")  # type: ignore[arg-type]
    Bucket("photos", client).put("cat.png", b"meow")  # type: ignore[arg-type]

    assert client.calls[0][2].get("trace_header") is None
    assert "X-Amzn-Trace-Id" not in client.requests[0][2]


# Counting


def test_chain_trace_header_counts_this_call() -> None:
    count, counted = chain_trace_header(header_at(5) + "|0000abcd:2", FUNCTION)

    assert count == 6
    assert counted == f"Root={ROOT};Sampled=0;Lineage={lineage_key(FUNCTION)}:6|0000abcd:2"


# The queue trigger


class LoopDispatcher:
    """Records each invocation and runs it successfully; its function has the given recursive loop setting."""

    def __init__(self, recursive_loop: RecursiveLoop) -> None:
        self.spec = FunctionSpec(name=FUNCTION, handler="app.consume", recursive_loop=recursive_loop)
        self.invocations: list[Invocation] = []

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        self.invocations.append(invocation)
        return InvocationResult(invocation.request_id, b"", Outcome.SUCCESS, None, "$LATEST")

    def pool(self, function: str) -> Any:
        return self

    def arn(self, function: str, qualifier: str | None = None) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{function}"


async def deliver_one(tmp_path: Path, trace_header: str, recursive_loop: RecursiveLoop) -> tuple[LoopDispatcher, Any]:
    """Send one message with `trace_header` to a triggered queue; return the dispatcher and the queue's stats."""
    hub = ServiceHub(tmp_path / "services")
    store = hub.store("queues")
    store.create_queue("jobs", QueueSettings(visibility_timeout_s=60))
    store.send("jobs", "looping", trace_header=trace_header)
    store.send("jobs", "marker")
    dispatcher = LoopDispatcher(recursive_loop)
    triggers = QueueTriggers(hub, dispatcher)  # type: ignore[arg-type]
    spec = FunctionSpec(name=FUNCTION, handler="app.consume", triggers=(QueueTrigger(queue="jobs", batch_size=1),))
    triggers.update({"svc": ServiceSpec("svc", Path("."), Path("squall.yml"), {FUNCTION: spec})})
    try:
        # The marker comes after the looping message, so once it ran the looping one was handled.
        await wait_until(lambda: any(b"marker" in call.payload for call in dispatcher.invocations), timeout_s=10)
        stats = store.stats("jobs")
    finally:
        await triggers.close()
        hub.close()
    return dispatcher, stats


async def test_queue_trigger_continues_chain(tmp_path: Path) -> None:
    dispatcher, stats = await deliver_one(tmp_path, header_at(3), RecursiveLoop.TERMINATE)

    looping = [call for call in dispatcher.invocations if b"looping" in call.payload]
    assert looping[0].trace_header == f"Root={ROOT};Sampled=0;Lineage={lineage_key(FUNCTION)}:4"
    assert stats.in_flight == 0


async def test_queue_trigger_leaves_out_17th_call(tmp_path: Path) -> None:
    dispatcher, stats = await deliver_one(tmp_path, header_at(16), RecursiveLoop.TERMINATE)

    assert not [call for call in dispatcher.invocations if b"looping" in call.payload]
    # Neither delivered nor deleted: it comes back after its visibility timeout.
    assert stats.in_flight == 1


async def test_queue_trigger_allows_loop(tmp_path: Path) -> None:
    dispatcher, stats = await deliver_one(tmp_path, header_at(16), RecursiveLoop.ALLOW)

    looping = [call for call in dispatcher.invocations if b"looping" in call.payload]
    assert looping[0].trace_header == f"Root={ROOT};Sampled=0;Lineage={lineage_key(FUNCTION)}:17"
    assert stats.in_flight == 0
