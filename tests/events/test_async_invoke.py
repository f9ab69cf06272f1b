"""AsyncInvoker with a fake dispatcher and clock: event age, throttles and records."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from squall.dispatcher.dispatcher import Invocation, InvocationResult
from squall.errors import FunctionNotFound, Throttled
from squall.services.errors import LimitExceeded
from squall.events.async_invoke import AsyncInvoker, AsyncSettings, dead_letter_attributes
from squall.events.async_store import AsyncStore, NewInvocation
from squall.manifest.spec import AsyncConfig, Destination
from squall.metering.records import Outcome
from squall.services.queues.model import MessageAttribute

ERROR = b'{"errorType": "ValueError", "errorMessage": "no"}'


class FakeDispatcher:
    """A dispatcher that returns results from a script of outcomes: "error", "ok" or "throttle"."""

    def __init__(self, script: list[str], config: AsyncConfig) -> None:
        self.script = script
        self.calls: list[Invocation] = []
        spec = SimpleNamespace(reserved_concurrency=None, async_config=config)
        self._pool = SimpleNamespace(spec=spec)

    def pool(self, function: str) -> Any:
        return self._pool

    def arn(self, function: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def resolve_version(self, function: str, qualifier: str | None) -> str:
        """Resolve $LATEST, version 1 and the alias "live" (which points at version 1), else raise FunctionNotFound."""
        versions = {None: "$LATEST", "$LATEST": "$LATEST", "1": "1", "live": "1"}
        if qualifier not in versions:
            raise FunctionNotFound(function)
        return versions[qualifier]

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        self.calls.append(invocation)
        step = self.script.pop(0)
        version = self.resolve_version(invocation.function, invocation.qualifier)
        if step == "throttle":
            raise Throttled(invocation.function, "at its cap")
        if step == "error":
            return InvocationResult(invocation.request_id, ERROR, Outcome.ERROR, "ValueError", version)
        return InvocationResult(invocation.request_id, b'"done"', Outcome.SUCCESS, None, version)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def run_until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def start(tmp_path: Path, script: list[str], config: AsyncConfig, clock: Any) -> tuple[AsyncInvoker, FakeDispatcher, list[Any]]:
    dispatcher = FakeDispatcher(script, config)
    invoker = AsyncInvoker(dispatcher, AsyncStore(tmp_path / "async.db"),  # type: ignore[arg-type]
                           AsyncSettings(retry_delays_s=(0.05, 0.05), throttle_backoff_s=(0.01, 0.05)), clock)
    sent: list[Any] = []

    async def queue_sender(queue: str, body: str, attributes: Any = None) -> None:
        sent.append((queue, json.loads(body)))

    invoker.queue_sender = queue_sender
    await invoker.start()
    return invoker, dispatcher, sent


async def test_old_event_dropped_with_record(tmp_path: Path) -> None:
    clock = Clock()
    config = AsyncConfig(max_event_age_s=60, on_failure=Destination("queue", "dlq"))
    invoker, dispatcher, sent = await start(tmp_path, ["error"], config, clock)

    await invoker.accept(Invocation("fn", b'{"n": 1}', "event"))
    await run_until(lambda: len(dispatcher.calls) == 1)
    clock.now += 120  # the retry comes due after the event is too old
    await run_until(lambda: sent)
    await invoker.close()

    queue, record = sent[0]
    assert queue == "dlq"
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert len(dispatcher.calls) == 1


Message = tuple[str, str, dict[str, MessageAttribute] | None]


def capture_messages(invoker: AsyncInvoker) -> list[Message]:
    """Replace the invoker's queue sender with one that keeps each message whole: (queue, body, attributes)."""
    messages: list[Message] = []

    async def queue_sender(queue: str, body: str, attributes: Any = None) -> None:
        messages.append((queue, body, None if attributes is None else dict(attributes)))

    invoker.queue_sender = queue_sender
    return messages


async def test_dead_letter_gets_event_as_is(tmp_path: Path) -> None:
    config = AsyncConfig(max_retry_attempts=1, on_failure=Destination("queue", "failures"), dead_letter_queue="dlq")
    invoker, dispatcher, _ = await start(tmp_path, ["error", "error"], config, time.time)
    messages = capture_messages(invoker)

    await invoker.accept(Invocation("fn", b'{"order": 7,  "spaced": true}', "event", request_id="r-7"))
    await run_until(lambda: len(messages) == 2)
    await invoker.close()

    by_queue = {queue: (body, attributes) for queue, body, attributes in messages}
    body, attributes = by_queue["dlq"]
    assert body == '{"order": 7,  "spaced": true}'
    assert attributes == {
        "RequestID": MessageAttribute("String", "r-7"),
        "ErrorCode": MessageAttribute("Number", "200"),
        "ErrorMessage": MessageAttribute("String", "no"),
    }
    record = json.loads(by_queue["failures"][0])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"order": 7, "spaced": True}
    assert len(dispatcher.calls) == 2


async def test_old_event_sent_to_dead_letter(tmp_path: Path) -> None:
    clock = Clock()
    config = AsyncConfig(max_event_age_s=60, dead_letter_queue="dlq")
    invoker, dispatcher, _ = await start(tmp_path, ["error"], config, clock)
    messages = capture_messages(invoker)

    await invoker.accept(Invocation("fn", b'{"n": 1}', "event", request_id="r-1"))
    await run_until(lambda: len(dispatcher.calls) == 1)
    clock.now += 120  # the retry comes due after the event is too old
    await run_until(lambda: messages)
    await invoker.close()

    queue, body, attributes = messages[0]
    assert queue == "dlq"
    assert body == '{"n": 1}'
    assert attributes is not None
    assert attributes["RequestID"].string_value == "r-1"
    assert attributes["ErrorMessage"].string_value == "no"  # from the last failed attempt
    assert len(dispatcher.calls) == 1


async def test_no_dead_letter_on_success(tmp_path: Path) -> None:
    invoker, dispatcher, _ = await start(tmp_path, ["ok"], AsyncConfig(dead_letter_queue="dlq"), time.time)
    messages = capture_messages(invoker)

    await invoker.accept(Invocation("fn", b"{}", "event"))
    await run_until(lambda: invoker.pending_count() == 0 and dispatcher.calls)
    await invoker.close()

    assert messages == []


async def test_dead_letter_failure_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = AsyncConfig(max_retry_attempts=0, dead_letter_queue="dlq")
    invoker, dispatcher, _ = await start(tmp_path, ["error"], config, time.time)

    async def rejecting_sender(queue: str, body: str, attributes: Any = None) -> None:
        raise LimitExceeded("the message exceeds 262144 bytes")

    invoker.queue_sender = rejecting_sender
    await invoker.accept(Invocation("fn", b"{}", "event", request_id="r-2"))
    await run_until(lambda: invoker.pending_count() == 0)
    await invoker.close()

    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert errors == ["sending the event of asynchronous invocation r-2 of fn to dead-letter queue dlq failed: "
                      "the message exceeds 262144 bytes"]
    assert len(dispatcher.calls) == 1  # a lost message does not run the invocation again


@pytest.mark.parametrize(
    ("error", "message"),
    [
        pytest.param(b'{"errorType": "KeyError", "errorMessage": ""}', "KeyError", id="empty message gives type"),
        pytest.param(None, "the event was not processed", id="no failed attempt"),
        pytest.param(b"not json", "not json", id="text error"),
        pytest.param(b'{"errorMessage": "bell \\u0007 rang"}', "bell \ufffd rang", id="character SQS rejects"),
        pytest.param(json.dumps({"errorMessage": "\u00e9" * 600}).encode(), "\u00e9" * 512, id="cut to 1 KB"),
        pytest.param(json.dumps({"errorMessage": "a" + "\u00e9" * 600}).encode(), "a" + "\u00e9" * 511,
                     id="cut between characters"),
    ],
)
def test_dead_letter_error_message(error: bytes | None, message: str) -> None:
    attributes = dead_letter_attributes("r-1", error)

    assert attributes["ErrorMessage"] == MessageAttribute("String", message)


async def test_throttles_not_counted_as_attempts(tmp_path: Path) -> None:
    config = AsyncConfig(max_retry_attempts=0, on_success=Destination("queue", "done"))
    invoker, dispatcher, sent = await start(tmp_path, ["throttle", "throttle", "ok"], config, time.time)

    await invoker.accept(Invocation("fn", b"{}", "event"))
    await run_until(lambda: sent)
    await invoker.close()

    assert len(dispatcher.calls) == 3
    assert sent[0][1]["requestContext"]["condition"] == "Success"
    assert sent[0][1]["requestContext"]["approximateInvokeCount"] == 1
    assert sent[0][1]["responsePayload"] == "done"


async def test_zero_concurrency_fails_without_retries(tmp_path: Path) -> None:
    config = AsyncConfig(on_failure=Destination("queue", "failures"), dead_letter_queue="dlq")
    invoker, dispatcher, _ = await start(tmp_path, ["throttle", "ok"], config, time.time)
    dispatcher._pool.spec.reserved_concurrency = 0
    messages = capture_messages(invoker)

    await invoker.accept(Invocation("fn", b'{"n": 1}', "event", request_id="r-0"))
    await run_until(lambda: len(messages) == 2)
    await invoker.close()

    # As Lambda does with reserved concurrency 0: straight to the destinations, without a retry.
    assert len(dispatcher.calls) == 1
    by_queue = {queue: (body, attributes) for queue, body, attributes in messages}
    record = json.loads(by_queue["failures"][0])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    # The function never ran, so the record claims no function error.
    assert record["responseContext"] == {"statusCode": 429, "executedVersion": "$LATEST"}
    assert "responsePayload" not in record
    body, attributes = by_queue["dlq"]
    assert body == '{"n": 1}'
    assert attributes is not None
    assert attributes["ErrorCode"] == MessageAttribute("Number", "429")


async def test_finished_rows_removed(tmp_path: Path) -> None:
    invoker, dispatcher, _ = await start(tmp_path, ["ok", "ok"], AsyncConfig(), time.time)

    await invoker.accept(Invocation("fn", b"{}", "event"))
    await invoker.accept(Invocation("fn", b"{}", "event"))
    await run_until(lambda: invoker.pending_count() == 0)
    await invoker.close()

    assert AsyncStore(tmp_path / "async.db").count() == 0


async def test_alias_kept_through_retries(tmp_path: Path) -> None:
    config = AsyncConfig(max_retry_attempts=1, on_success=Destination("queue", "done"))
    invoker, dispatcher, sent = await start(tmp_path, ["error", "ok"], config, time.time)

    await invoker.accept(Invocation("fn", b"{}", "event", qualifier="live"))
    await run_until(lambda: sent)
    await invoker.close()

    assert [call.qualifier for call in dispatcher.calls] == ["live", "live"]
    record = sent[0][1]
    assert record["requestContext"]["functionArn"].endswith(":function:fn:live")
    assert record["responseContext"]["executedVersion"] == "1"


async def test_qualifier_survives_restart(tmp_path: Path) -> None:
    store = AsyncStore(tmp_path / "async.db")
    store.add([NewInvocation("r-1", "fn", "event", b"{}", time.time(), qualifier="1")])
    store.close()

    invoker, dispatcher, _ = await start(tmp_path, ["ok"], AsyncConfig(), time.time)
    await run_until(lambda: invoker.pending_count() == 0 and dispatcher.calls)
    await invoker.close()

    assert [(call.request_id, call.qualifier) for call in dispatcher.calls] == [("r-1", "1")]


async def test_trace_header_survives_restart(tmp_path: Path) -> None:
    header = "Root=1-67a1b2c3-0123456789abcdef01234567;Sampled=0;Lineage=1a2b3c4d:5"
    first, _, _ = await start(tmp_path, [], AsyncConfig(), time.time)
    await first.close()  # nothing runs it before the restart
    store = AsyncStore(tmp_path / "async.db")
    store.add([NewInvocation("r-1", "fn", "event", b"{}", time.time(), trace_header=header)])
    store.close()

    invoker, dispatcher, _ = await start(tmp_path, ["ok"], AsyncConfig(), time.time)
    await run_until(lambda: invoker.pending_count() == 0 and dispatcher.calls)
    await invoker.close()

    # The chain's count of recursive invocations goes on where it was.
    assert [call.trace_header for call in dispatcher.calls] == [header]


async def test_old_store_gains_trace_header_column(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "async.db")
    old.execute(
        "CREATE TABLE invocations (id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, function TEXT NOT NULL,"
        " trigger TEXT NOT NULL, payload BLOB NOT NULL, accepted_at REAL NOT NULL, due_at REAL NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0, last_error BLOB, traceparent TEXT, qualifier TEXT)"
    )
    old.execute("INSERT INTO invocations (request_id, function, trigger, payload, accepted_at, due_at)"
                " VALUES ('r-old', 'fn', 'event', x'7b7d', 1, 1)")
    old.commit()
    old.close()

    (pending,) = AsyncStore(tmp_path / "async.db").pending()

    assert (pending.request_id, pending.trace_header) == ("r-old", None)


async def test_unknown_qualifier_rejected(tmp_path: Path) -> None:
    invoker, dispatcher, _ = await start(tmp_path, [], AsyncConfig(), time.time)
    with pytest.raises(FunctionNotFound):
        await invoker.accept(Invocation("fn", b"{}", "event", qualifier="staging"))
    await invoker.close()

    assert AsyncStore(tmp_path / "async.db").count() == 0


class SlowDispatcher(FakeDispatcher):
    """A dispatcher whose function allows one invocation at a time, each taking a moment."""

    def __init__(self) -> None:
        super().__init__(["ok"] * 10, AsyncConfig())
        self._pool.spec.reserved_concurrency = 1
        self.started: list[str] = []

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        self.started.append(invocation.request_id)
        await asyncio.sleep(0.2)
        return await super().invoke(invocation)


async def test_close_starts_no_blocked_invocation(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dispatcher = SlowDispatcher()
    invoker = AsyncInvoker(dispatcher, AsyncStore(tmp_path / "async.db"), AsyncSettings())  # type: ignore[arg-type]
    await invoker.start()
    for _ in range(4):
        await invoker.accept(Invocation("fn", b"{}", "event"))
    await run_until(lambda: len(dispatcher.started) == 1)

    await invoker.close()

    # The running one ended; the three blocked ones wait in the store for the next start.
    assert len(dispatcher.started) == 1
    assert AsyncStore(tmp_path / "async.db").count() == 3
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


class StoppingDispatcher(FakeDispatcher):
    """A dispatcher whose call fails on its own while the server begins to stop."""

    def __init__(self, invoker_ref: list[AsyncInvoker]) -> None:
        super().__init__(["error"], AsyncConfig(max_retry_attempts=0, on_failure=Destination("queue", "failed")))
        self.invoker_ref = invoker_ref

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        self.invoker_ref[0].stop_starting()  # the signal arrives while the call runs
        return await super().invoke(invocation)


async def test_failure_during_stop_counted(tmp_path: Path) -> None:
    holder: list[AsyncInvoker] = []
    dispatcher = StoppingDispatcher(holder)
    invoker = AsyncInvoker(dispatcher, AsyncStore(tmp_path / "async.db"), AsyncSettings())  # type: ignore[arg-type]
    holder.append(invoker)
    sent: list[Any] = []

    async def queue_sender(queue: str, body: str, attributes: Any = None) -> None:
        sent.append(queue)

    invoker.queue_sender = queue_sender
    await invoker.start()
    await invoker.accept(Invocation("fn", b"{}", "event"))
    await run_until(lambda: len(dispatcher.calls) == 1)
    await invoker.close()

    # A call that ended with its own error counts as an attempt, stop or not: no retry is left, so it is done.
    assert sent == ["failed"]
    assert AsyncStore(tmp_path / "async.db").count() == 0
