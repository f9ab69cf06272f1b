"""Stream and table-stream triggers against the real stores, with a fake dispatcher in place of instances."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from squall.dispatcher.dispatcher import Invocation, InvocationResult
from squall.errors import FunctionNotFound, Throttled
from squall.events.record_triggers import RecordTriggers
from squall.manifest.spec import (
    AsyncConfig,
    Destination,
    FunctionSpec,
    ServiceSpec,
    StreamTrigger,
    TableStreamTrigger,
)
from squall.metering.records import Outcome
from squall.runtime.protocol import MAX_REQUEST_BYTES
from squall.services.hub import ServiceHub
from tests.conftest import CONFORMANCE

WAIT_S = 10.0
BACKOFF_S = 0.01
FUNCTION = "consume"
ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"

# A handler's response to one event: a result payload (bytes), an error type
# (str), or an exception to raise from invoke.
Answer = bytes | str | BaseException
Responder = Callable[[dict[str, Any]], Answer]


def succeed(event: dict[str, Any]) -> Answer:
    return b"null"


def always_fail(event: dict[str, Any]) -> Answer:
    return "Runtime.Unhandled"


class FakeDispatcher:
    """Records every event it receives and responds with `responder`."""

    def __init__(self, responder: Responder = succeed) -> None:
        self.responder = responder
        self.events: list[dict[str, Any]] = []
        self.payload_sizes: list[int] = []  # bytes of each recorded event's JSON

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        event = orjson.loads(invocation.payload)
        answer = self.responder(event)
        if isinstance(answer, BaseException):
            raise answer
        self.events.append(event)
        self.payload_sizes.append(len(invocation.payload))
        if isinstance(answer, str):
            body = orjson.dumps({"errorType": answer, "errorMessage": "failed"})
            return InvocationResult(invocation.request_id, body, Outcome.ERROR, answer, "$LATEST")
        return InvocationResult(invocation.request_id, answer, Outcome.SUCCESS, None, "$LATEST")

    def arn(self, function: str, qualifier: str | None = None) -> str:
        return ARN_PREFIX + function


@dataclass
class FakeAsyncInvoker:
    """Collects what the triggers send to on-failure destinations."""

    accepted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def accept(self, invocation: Invocation) -> None:
        self.accepted.append((invocation.function, orjson.loads(invocation.payload)))

    async def queue_sender(self, queue: str, body: str) -> None:
        self.sent.append((queue, json.loads(body)))


@dataclass
class Harness:
    """A hub on a temporary folder with a `clicks` stream of two shards and a `users` table."""

    hub: ServiceHub
    dispatcher: FakeDispatcher
    invoker: FakeAsyncInvoker
    triggers: list[RecordTriggers] = field(default_factory=list)

    def start(self, trigger: StreamTrigger | TableStreamTrigger, on_failure: Destination | None = None,
              clock: Callable[[], float] = time.time, max_event_bytes: int = MAX_REQUEST_BYTES) -> RecordTriggers:
        triggers = RecordTriggers(self.hub, self.dispatcher, self.invoker, clock=clock, backoff_s=BACKOFF_S,  # type: ignore[arg-type]
                                  max_event_bytes=max_event_bytes)
        triggers.update(services(trigger, on_failure))
        self.triggers.append(triggers)
        return triggers

    def put(self, kind: str, *values: str) -> list[str]:
        """Add one record per value to the stream or table; return their sequence numbers as events carry them."""
        numbers = []
        for value in values:
            if kind == "stream":
                result = self.hub.store("streams").put_record("clicks", value.encode(), value)
                numbers.append(result.sequence_number)
                self.hub.notify("streams", "clicks")
            else:
                self.hub.store("tables").put("users", {"id": value, "name": value})
                self.hub.notify("tables", "users")
        if kind == "table":
            changes = self.hub.store("tables").changes("users", 0, 1000)
            numbers = [str(change.seq).zfill(21) for change in changes[-len(values):]]
        return numbers

    def delivered(self) -> list[str]:
        """Return the values of every delivered record, in delivery order."""
        return [value_of(record) for event in self.dispatcher.events for record in event["Records"]]


def value_of(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        import base64

        return base64.b64decode(record["kinesis"]["data"]).decode()
    return record["dynamodb"]["Keys"]["id"]["S"]


def sequence_of(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    return record["dynamodb"]["SequenceNumber"]


def services(trigger: StreamTrigger | TableStreamTrigger, on_failure: Destination | None) -> dict[str, ServiceSpec]:
    spec = FunctionSpec(name=FUNCTION, handler="app.consume", triggers=(trigger,),
                        async_config=AsyncConfig(on_failure=on_failure))
    return {"svc": ServiceSpec("svc", Path("."), Path("squall.yml"), {FUNCTION: spec})}


def make_trigger(kind: str, **settings: Any) -> StreamTrigger | TableStreamTrigger:
    settings.setdefault("starting_position", "trim_horizon")
    if kind == "stream":
        return StreamTrigger(stream="clicks", **settings)
    return TableStreamTrigger(table="users", **settings)


async def wait_until(check: Callable[[], Any], timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout_s} s")


@pytest.fixture
async def harness(tmp_path: Path) -> Iterator[Harness]:
    hub = ServiceHub(tmp_path / "services")
    hub.store("streams").create_stream("clicks", shard_count=2)
    hub.store("tables").create_table("users", partition_key=("id", "S"))
    harness = Harness(hub, FakeDispatcher(), FakeAsyncInvoker())
    yield harness
    for triggers in harness.triggers:
        await triggers.close()
    hub.close()


KINDS = ["stream", "table"]


@pytest.mark.parametrize("kind", KINDS)
async def test_records_delivered_once_in_order(harness: Harness, kind: str) -> None:
    harness.start(make_trigger(kind, batch_size=3))
    values = [f"v{number:02d}" for number in range(12)]
    harness.put(kind, *values)

    await wait_until(lambda: len(harness.delivered()) >= len(values))

    assert sorted(harness.delivered()) == values
    per_shard: dict[str, list[int]] = {}
    for event in harness.dispatcher.events:
        assert 1 <= len(event["Records"]) <= 3
        for record in event["Records"]:
            per_shard.setdefault(record["eventSourceARN"] + record.get("eventID", "").split(":")[0], []).append(
                int(sequence_of(record))
            )
    for numbers in per_shard.values():
        assert numbers == sorted(numbers)


async def test_stream_uses_both_shards(harness: Harness) -> None:
    harness.start(make_trigger("stream"))
    harness.put("stream", *[f"key-{number}" for number in range(20)])

    await wait_until(lambda: len(harness.delivered()) >= 20)

    shards = {record["eventID"].split(":")[0] for event in harness.dispatcher.events for record in event["Records"]}
    assert shards == {"shardId-000000000000", "shardId-000000000001"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("position", "expected"), [("latest", ["new"]), ("trim_horizon", ["old", "new"])])
async def test_starting_position(harness: Harness, kind: str, position: str, expected: list[str]) -> None:
    harness.put(kind, "old")
    harness.start(make_trigger(kind, starting_position=position))
    if position == "latest":
        # The poller pins LATEST as a checkpoint when it starts; records put before that are older.
        await wait_until(lambda: _pinned(harness, kind))
    harness.put(kind, "new")

    await wait_until(lambda: "new" in harness.delivered())

    assert harness.delivered() == expected


def _pinned(harness: Harness, kind: str) -> bool:
    if kind == "stream":
        store = harness.hub.store("streams")
        return all(store.load_checkpoint(FUNCTION, "clicks", shard) for shard in
                   ("shardId-000000000000", "shardId-000000000001"))
    return _table_checkpoint(harness) is not None


def _table_checkpoint(harness: Harness) -> int | None:
    import sqlite3

    if not (harness.hub.data_dir / "table_triggers.db").exists():
        return None
    with sqlite3.connect(harness.hub.data_dir / "table_triggers.db") as db:
        try:
            row = db.execute("SELECT seq FROM table_checkpoints WHERE function = ?", (FUNCTION,)).fetchone()
        except sqlite3.OperationalError:
            return None
    return None if row is None else row[0]


@pytest.mark.parametrize("kind", KINDS)
async def test_restart_resumes_after_checkpoint(harness: Harness, kind: str) -> None:
    first = harness.start(make_trigger(kind))
    harness.put(kind, "a", "b")
    await wait_until(lambda: len(harness.delivered()) >= 2)
    await first.close()

    harness.put(kind, "c")
    harness.start(make_trigger(kind))
    await wait_until(lambda: "c" in harness.delivered())

    assert sorted(harness.delivered()) == ["a", "b", "c"]


async def test_checkpoint_moves_only_after_success(harness: Harness) -> None:
    harness.dispatcher.responder = always_fail
    harness.start(make_trigger("table"))
    harness.put("table", "a")
    await wait_until(lambda: len(harness.dispatcher.events) >= 3)

    assert _table_checkpoint(harness) in (None, 0)

    harness.dispatcher.responder = succeed
    await wait_until(lambda: _table_checkpoint(harness))
    last = harness.hub.store("tables").changes("users", 0, 10)[-1].seq
    assert _table_checkpoint(harness) == last


async def test_stream_checkpoint_after_success(harness: Harness) -> None:
    harness.dispatcher.responder = always_fail
    harness.start(make_trigger("stream"))
    store = harness.hub.store("streams")
    shard, number = store.put_record("clicks", b"a", "a")
    harness.hub.notify("streams", "clicks")
    await wait_until(lambda: len(harness.dispatcher.events) >= 3)

    assert store.load_checkpoint(FUNCTION, "clicks", shard) is None

    harness.dispatcher.responder = succeed
    await wait_until(lambda: store.load_checkpoint(FUNCTION, "clicks", shard) == number)


def report_failed(value: str) -> Responder:
    """Return a responder that reports the record with `value` as failed in every event."""

    def respond(event: dict[str, Any]) -> Answer:
        for record in event["Records"]:
            if value_of(record) == value:
                return orjson.dumps({"batchItemFailures": [{"itemIdentifier": sequence_of(record)}]})
        return b"{}"

    return respond


def put_on_one_shard(harness: Harness, kind: str, values: list[str]) -> list[str]:
    """Add records that all land on one shard; return their sequence numbers."""
    if kind == "table":
        return harness.put(kind, *values)
    store = harness.hub.store("streams")
    numbers = [store.put_record("clicks", value.encode(), "same-key").sequence_number for value in values]
    harness.hub.notify("streams", "clicks")
    return numbers


def checkpoint_of(harness: Harness, kind: str) -> str | None:
    if kind == "table":
        seq = _table_checkpoint(harness)
        return None if seq is None else str(seq).zfill(21)
    store = harness.hub.store("streams")
    saved = [store.load_checkpoint(FUNCTION, "clicks", f"shardId-00000000000{index}") for index in (0, 1)]
    return next((number for number in saved if number is not None), None)


@pytest.mark.parametrize("kind", KINDS)
async def test_partial_failure_retries_from_failed_record(harness: Harness, kind: str) -> None:
    harness.dispatcher.responder = report_failed("c")
    harness.start(make_trigger(kind, batch_size=10, batch_window_s=0.5))
    values = ["a", "b", "c", "d"]
    numbers = put_on_one_shard(harness, kind, values)

    await wait_until(lambda: len(harness.dispatcher.events) >= 3)

    batches = [[value_of(record) for record in event["Records"]] for event in harness.dispatcher.events]
    assert batches[0] == values
    assert all(batch == ["c", "d"] for batch in batches[1:])
    assert checkpoint_of(harness, kind) == numbers[1]
    assert harness.invoker.accepted == []


@pytest.mark.parametrize("kind", KINDS)
async def test_partial_failure_ignored_without_opt_in(harness: Harness, kind: str) -> None:
    harness.dispatcher.responder = report_failed("c")
    harness.start(make_trigger(kind, batch_size=10, batch_window_s=0.5, report_batch_item_failures=False))
    numbers = put_on_one_shard(harness, kind, ["a", "b", "c", "d"])

    # Without ReportBatchItemFailures, Lambda ignores the result: the batch succeeded once.
    await wait_until(lambda: checkpoint_of(harness, kind) == numbers[-1])

    assert len(harness.dispatcher.events) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_bisect_isolates_bad_record(harness: Harness, kind: str) -> None:
    def reject_poison(event: dict[str, Any]) -> Answer:
        return "ValueError" if any(value_of(r) == "poison" for r in event["Records"]) else b"null"

    harness.dispatcher.responder = reject_poison
    destination = Destination("function", "collect")
    harness.start(make_trigger(kind, batch_size=4, batch_window_s=0.5, bisect_on_error=True, max_retries=0),
                  destination)
    put_on_one_shard(harness, kind, ["a", "b", "poison", "d"])

    await wait_until(lambda: harness.invoker.accepted and "d" in harness.delivered())

    batches = [[value_of(record) for record in event["Records"]] for event in harness.dispatcher.events]
    assert batches == [["a", "b", "poison", "d"], ["a", "b"], ["poison", "d"], ["poison"], ["d"]]
    [(target, record)] = harness.invoker.accepted
    assert target == "collect"
    info = record["KinesisBatchInfo" if kind == "stream" else "DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("destination", [Destination("function", "collect"), Destination("queue", "failures")])
async def test_retries_exhausted_reported(harness: Harness, kind: str, destination: Destination) -> None:
    harness.dispatcher.responder = always_fail
    harness.start(make_trigger(kind, max_retries=1), destination)
    [number] = harness.put(kind, "bad")

    reports = harness.invoker.accepted if destination.kind == "function" else harness.invoker.sent
    await wait_until(lambda: reports)

    [(target, record)] = reports
    assert target == destination.name
    assert len(harness.dispatcher.events) == 2  # the first try and one retry
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"] == ARN_PREFIX + FUNCTION
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    info = record["KinesisBatchInfo" if kind == "stream" else "DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == number
    assert info["endSequenceNumber"] == number
    assert info["batchSize"] == 1
    assert info["streamArn"] == harness.dispatcher.events[0]["Records"][0]["eventSourceARN"]


@pytest.mark.parametrize("kind", KINDS)
async def test_shard_moves_on_after_giving_up(harness: Harness, kind: str) -> None:
    harness.dispatcher.responder = lambda event: (
        "ValueError" if any(value_of(r) == "bad" for r in event["Records"]) else b"null"
    )
    harness.start(make_trigger(kind, max_retries=0, batch_size=1), Destination("function", "collect"))
    put_on_one_shard(harness, kind, ["bad", "good"])

    await wait_until(lambda: "good" in harness.delivered())

    assert harness.delivered() == ["bad", "good"]
    assert len(harness.invoker.accepted) == 1


async def test_partial_failure_exhausted_has_no_function_error(harness: Harness) -> None:
    def report_first(event: dict[str, Any]) -> Answer:
        return orjson.dumps({"batchItemFailures": [{"itemIdentifier": sequence_of(event["Records"][0])}]})

    harness.dispatcher.responder = report_first
    harness.start(make_trigger("table", max_retries=2), Destination("queue", "failures"))
    harness.put("table", "a")

    await wait_until(lambda: harness.invoker.sent)

    [(_, record)] = harness.invoker.sent
    assert record["responseContext"]["functionError"] is None
    assert record["requestContext"]["approximateInvokeCount"] == 3


async def test_throttles_do_not_count_as_retries(harness: Harness) -> None:
    throttles = [Throttled(FUNCTION, "at its cap"), Throttled(FUNCTION, "at its cap")]

    def respond(event: dict[str, Any]) -> Answer:
        return throttles.pop() if throttles else b"null"

    harness.dispatcher.responder = respond
    harness.start(make_trigger("stream", max_retries=0), Destination("function", "collect"))
    harness.put("stream", "a")

    await wait_until(lambda: harness.delivered())

    assert harness.delivered() == ["a"]
    assert harness.invoker.accepted == []


async def test_poller_survives_unexpected_error(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    errors = [RuntimeError("instance pipe broke")]

    def respond(event: dict[str, Any]) -> Answer:
        return errors.pop() if errors else b"null"

    harness.dispatcher.responder = respond
    harness.start(make_trigger("table"))
    harness.put("table", "a")

    await wait_until(lambda: harness.delivered())

    assert harness.delivered() == ["a"]
    assert "RuntimeError: instance pipe broke" in caplog.text
    assert "table users" in caplog.text


async def test_missing_function_stops_poller(harness: Harness) -> None:
    harness.dispatcher.responder = lambda event: FunctionNotFound(FUNCTION)
    triggers = harness.start(make_trigger("table"))
    harness.put("table", "a")

    await wait_until(lambda: all(task.done() for _, task in triggers._pollers.values()))

    assert harness.dispatcher.events == []


async def test_expired_records_reported_without_invoking(harness: Harness) -> None:
    later = lambda: time.time() + 25 * 3600  # noqa: E731 - past the 24-hour retention of both sources
    harness.start(make_trigger("stream"), Destination("function", "collect"), clock=later)
    [number] = harness.put("stream", "old")

    await wait_until(lambda: harness.invoker.accepted)

    [(_, record)] = harness.invoker.accepted
    assert harness.dispatcher.events == []
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert "responseContext" not in record
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == number


@pytest.mark.parametrize(
    ("kind", "snapshot", "test", "key"),
    [
        ("stream", "lambda-test_lambda_integration_kinesis.snapshot.json",
         "test_kinesis_event_source_mapping_with_on_failure_destination_config", "sqs_payload"),
        ("table", "lambda-test_lambda_integration_dynamodbstreams.snapshot.json",
         "test_dynamodb_event_source_mapping_with_on_failure_destination_config", "destination_queue_messages"),
    ],
)
async def test_failure_record_matches_recording(harness: Harness, kind: str, snapshot: str, test: str,
                                                key: str) -> None:
    recordings = json.loads((CONFORMANCE / "aws-recorded" / snapshot).read_text())
    [entry] = [value for name, value in recordings.items() if name.endswith("::" + test)]
    recorded = entry["recorded-content"][key]["Messages"][0]["Body"]
    harness.dispatcher.responder = always_fail
    harness.start(make_trigger(kind, max_retries=1), Destination("queue", "failures"))
    harness.put(kind, "bad")

    await wait_until(lambda: harness.invoker.sent)

    [(_, record)] = harness.invoker.sent
    assert list(record) == list(recorded)
    for section in record:
        if isinstance(recorded[section], dict):
            assert list(record[section]) == list(recorded[section]), section
    assert record["requestContext"]["approximateInvokeCount"] == recorded["requestContext"]["approximateInvokeCount"]
    info_key = "KinesisBatchInfo" if kind == "stream" else "DDBStreamBatchInfo"
    recorded_stamp = recorded[info_key]["approximateArrivalOfFirstRecord"]
    # Kinesis stamps carry milliseconds and DynamoDB Streams stamps whole seconds.
    assert record[info_key]["approximateArrivalOfFirstRecord"].count(".") == recorded_stamp.count(".")


# Lambda's 6 MB payload limit: 8 stream records of 1,000,000 bytes (1,333,336 in
# base64) make 4 per event, and 20 table items of 390,000 bytes make 16.
LARGE_RECORDS = {"stream": (8, 1_000_000, [4, 4]), "table": (20, 390_000, [16, 4])}


@pytest.mark.parametrize("kind", KINDS)
async def test_batch_cut_at_payload_limit(harness: Harness, kind: str) -> None:
    count, size, expected_batches = LARGE_RECORDS[kind]
    values = [f"{number:02d}" for number in range(count)]
    for value in values:
        if kind == "stream":
            harness.hub.store("streams").put_record("clicks", value.encode() + b"x" * (size - 2), "same-key")
        else:
            harness.hub.store("tables").put("users", {"id": value, "blob": "x" * size})
    # Started after the puts, so the first read returns every record.
    harness.start(make_trigger(kind, batch_size=100))

    await wait_until(lambda: len(harness.delivered()) >= count, timeout_s=30)

    assert [value[:2] for value in harness.delivered()] == values
    assert [len(event["Records"]) for event in harness.dispatcher.events] == expected_batches
    assert max(harness.dispatcher.payload_sizes) <= MAX_REQUEST_BYTES


@pytest.mark.parametrize("kind", KINDS)
async def test_record_above_payload_limit_goes_alone(harness: Harness, kind: str) -> None:
    big = ["b" * 1500, "c" * 1500]
    values = [big[0], "s1", "s2", big[1], "s3"]
    put_on_one_shard(harness, kind, values)
    # A limit of 2,000 bytes, which one small record fits and each big one passes on its own.
    harness.start(make_trigger(kind, batch_size=100), max_event_bytes=2000)

    await wait_until(lambda: len(harness.delivered()) >= len(values))

    batches = [[value_of(record) for record in event["Records"]] for event in harness.dispatcher.events]
    assert batches == [[big[0]], ["s1", "s2"], [big[1]], ["s3"]]
    assert checkpoint_of(harness, kind) is not None


@pytest.mark.parametrize("kind", KINDS)
async def test_full_batch_skips_batch_window(harness: Harness, kind: str) -> None:
    values = ["b" * 1500, "s1"]
    put_on_one_shard(harness, kind, values)
    # The first record fills the 2,000-byte event, so its batch goes without waiting out the 60 s window.
    harness.start(make_trigger(kind, batch_size=100, batch_window_s=60), max_event_bytes=2000)

    await wait_until(lambda: harness.delivered(), timeout_s=5)

    assert harness.delivered()[0] == values[0]
