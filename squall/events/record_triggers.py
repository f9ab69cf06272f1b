"""Stream and table-stream triggers: deliver records in order, checkpoint after success, retry, report.

They follow Lambda's event source mappings for Kinesis and DynamoDB Streams:

- one poller per shard (a table's change stream is one shard) delivers one
  batch at a time, so records reach the function in order;
- the checkpoint advances only after the function handled the records;
- a `batchItemFailures` response checkpoints just before the lowest failed
  record, and the records from there on are retried;
- a function error retries the batch, split in halves first when
  `bisect_on_error` is set (a split does not count as a retry);
- after `max_retries` retries (-1: until the records expire) the batch's
  description goes to the function's `on_failure` destination and the
  poller moves past it;
- throttles are retried after a back-off without counting;
- with filter patterns, only the records that match one of them are
  delivered, and the checkpoint moves past the others.

While tracing is on, a batch's invocation joins the trace of the first of its
records whose writer sent a W3C traceparent.

A stop lets a call in flight run to its end within the grace period of
`squall.events.draining` and checkpoint, and starts no other call; the
records after the checkpoint are delivered after the next start.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import orjson

from squall.dispatcher.dispatcher import Dispatcher, Invocation
from squall.errors import FunctionNotFound, Throttled
from squall.events.async_invoke import AsyncInvoker
from squall.events.draining import finish_or_cancel
from squall.events.filters import FilterCriteria, compile_filters
from squall.events.record_sources import (
    MAX_EVENT_BYTES,
    FailureCondition,
    RecordSource,
    SourceRecord,
    StartingPosition,
    StreamShardSource,
    TableCheckpoints,
    TableSource,
    count_within_payload_limit,
    failure_record,
)
from squall.manifest.spec import Destination, ServiceSpec, StreamTrigger, TableStreamTrigger
from squall.observability import tracing
from squall.services.errors import ServiceError
from squall.services.hub import ServiceHub

logger = logging.getLogger(__name__)

# Maximum sleep of an idle poller between reads; a put wakes it sooner.
IDLE_POLL_S = 1.0
# Pause before a retry, after a throttle and after a failure in Squall itself.
DEFAULT_BACKOFF_S = 1.0
# A poller that keeps failing logs its first failure and then every this many.
REPEAT_LOG_EVERY = 60
TABLE_CHECKPOINTS_FILE = "table_triggers.db"

RecordTrigger = StreamTrigger | TableStreamTrigger


class SourceKind(enum.Enum):
    """The kind of source a record trigger reads."""

    STREAM = "stream"
    TABLE = "table_stream"


@dataclass(frozen=True)
class _Key:
    function: str
    kind: SourceKind
    source: str


# The stop event of the trigger whose poller runs in the current task (see RecordTriggers._run_trigger).
_TRIGGER_STOP: contextvars.ContextVar[asyncio.Event | None] = contextvars.ContextVar("trigger_stop", default=None)


class _Stopping(Exception):
    """Raised where a poller would start a call after close() began."""


class _Outcome(enum.Enum):
    SUCCESS = "success"
    PARTIAL = "partial"  # the function returned batchItemFailures
    ERROR = "error"  # the function raised, timed out or ran out of memory


@dataclass(frozen=True)
class _Attempt:
    outcome: _Outcome
    failed_index: int  # first record to retry; 0 unless PARTIAL
    request_id: str


@dataclass(frozen=True)
class _Pending:
    """Records still to deliver, with the failures that count against max_retries."""

    records: tuple[SourceRecord, ...]
    failures: int = 0
    invocations: int = 0
    last_request_id: str | None = None


class RecordTriggers:
    """Runs the pollers of every stream and table-stream trigger of the deployed services.

    `backoff_s` is the pause before each retry, after a throttle and after a
    failure in Squall itself; tests shorten it. `clock` returns epoch seconds
    and decides when records expire and the timestamp of on-failure records.
    `max_event_bytes` bounds the JSON of each event, Lambda's 6 MB unless a
    test sets less.
    """

    def __init__(
        self,
        hub: ServiceHub,
        dispatcher: Dispatcher,
        async_invoker: AsyncInvoker,
        clock: Callable[[], float] = time.time,
        backoff_s: float = DEFAULT_BACKOFF_S,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self._hub = hub
        self._dispatcher = dispatcher
        self._async_invoker = async_invoker
        self._clock = clock
        self._backoff_s = backoff_s
        self._max_event_bytes = max_event_bytes
        self._pollers: dict[_Key, tuple[RecordTrigger, asyncio.Task[None]]] = {}
        self._stops: dict[_Key, asyncio.Event] = {}  # set when a redeploy changes or removes the trigger
        # Pollers of changed or removed triggers: each finishes the batch it has, checkpoints and ends.
        self._retiring: set[asyncio.Task[None]] = set()
        self._closing = False  # set by close(): pollers start no more calls
        self._on_failure: dict[str, Destination | None] = {}
        self._table_checkpoints: TableCheckpoints | None = None
        # Arrival time of the newest record each shard poller has read and not
        # yet finished delivering; None once it has read everything.
        self._newest_read: dict[tuple[str, str, str], float | None] = {}
        self._waiting: set[tuple[str, str, str]] = set()  # pollers whose qualifier names no version or alias yet

    def iterator_ages(self) -> dict[tuple[str, str, str], float]:
        """Return each running shard poller's iterator age in seconds, keyed by (function, stream or table, shard id).

        The age is the time since the newest record of the batch in delivery
        arrived in its source, and 0 once the poller has read every record.
        Lambda's IteratorAge takes that age once, when it reads the batch; this
        one keeps growing while the batch is retried. A poller appears after
        its first read.
        """
        running = {(key.function, key.source) for key in self._pollers}
        now = self._clock()
        return {
            key: 0.0 if arrival is None else max(0.0, now - arrival)
            for key, arrival in self._newest_read.items()
            if key[:2] in running
        }

    # Lifecycle

    def update(self, services: Mapping[str, ServiceSpec]) -> None:
        """Start pollers for new triggers and stop those of removed or changed ones."""
        configured: dict[_Key, RecordTrigger] = {}
        on_failure: dict[str, Destination | None] = {}
        for service in services.values():
            for spec in service.functions.values():
                on_failure[spec.name] = spec.async_config.on_failure
                for trigger in spec.triggers:
                    if isinstance(trigger, StreamTrigger):
                        configured[_Key(spec.name, SourceKind.STREAM, trigger.stream)] = trigger
                    elif isinstance(trigger, TableStreamTrigger):
                        configured[_Key(spec.name, SourceKind.TABLE, trigger.table)] = trigger
        # Pollers read the destination when they give up, so a redeploy that
        # only changes on_failure needs no restart.
        self._on_failure = on_failure

        stopped: dict[_Key, asyncio.Task[None]] = {}
        for key in list(self._pollers):
            trigger, task = self._pollers[key]
            if configured.get(key) != trigger:
                # A batch in flight finishes and checkpoints, as calls in flight do across a redeploy.
                self._stops.pop(key).set()
                self._hub.notify("streams" if key.kind is SourceKind.STREAM else "tables", key.source)
                if not task.done():
                    self._retiring.add(task)
                    task.add_done_callback(self._retiring.discard)
                stopped[key] = task
                del self._pollers[key]
                logger.info("stopped the %s trigger of function %s on %s", key.kind.value, key.function, key.source)

        loop = asyncio.get_running_loop()
        for key, trigger in configured.items():
            if key not in self._pollers:
                stop = self._stops[key] = asyncio.Event()
                task = loop.create_task(self._run_trigger(key, trigger, stopped.get(key), stop))
                self._pollers[key] = (trigger, task)
                logger.info("started the %s trigger of function %s on %s", key.kind.value, key.function, key.source)

    def stop_receiving(self) -> None:
        """Start no more calls; batches already running go on. Safe to call from a signal handler."""
        self._closing = True

    def _stopping(self) -> bool:
        """Tell whether the running poller should start no more calls: the server stops, or its trigger changed."""
        stop = _TRIGGER_STOP.get()
        return self._closing or (stop is not None and stop.is_set())

    async def close(self) -> None:
        """Stop every poller; a call in flight gets the grace period to finish and checkpoint.

        Undelivered records stay after their checkpoints for the next start.
        """
        self._closing = True
        tasks = [task for _, task in self._pollers.values()] + list(self._retiring)
        for key in self._pollers:
            # Wakes the pollers waiting for new records.
            self._hub.notify("streams" if key.kind is SourceKind.STREAM else "tables", key.source)
        self._pollers.clear()
        cut = await finish_or_cancel(tasks)
        if cut:
            logger.info("%d stream or table trigger call(s) cut at shutdown run again after a restart", cut)
        if self._table_checkpoints is not None:
            self._table_checkpoints.close()
            self._table_checkpoints = None

    # Starting the pollers of one trigger

    async def _run_trigger(
        self, key: _Key, trigger: RecordTrigger, previous: asyncio.Task[None] | None, stop: asyncio.Event
    ) -> None:
        # The shard pollers this task starts inherit the stop event through the context.
        _TRIGGER_STOP.set(stop)
        # A changed trigger's old poller may be in the middle of a batch. It
        # stops first, so that two pollers never deliver the same shard at once.
        if previous is not None:
            await asyncio.wait([previous])

        sources = await self._open_sources(key, trigger)
        async with asyncio.TaskGroup() as group:
            for source in sources:
                group.create_task(self._poll(key.function, source, trigger))

    async def _open_sources(self, key: _Key, trigger: RecordTrigger) -> list[RecordSource]:
        """Return one source per shard, retrying until the stream or table can be read, or none once stopping."""
        while not self._stopping():
            try:
                starting_position = StartingPosition(trigger.starting_position)
                if key.kind is SourceKind.TABLE:
                    checkpoints = await self._checkpoints()
                    return [TableSource(self._hub, checkpoints, key.function, key.source, starting_position,
                                        self._clock)]
                store = self._hub.store("streams")
                description = await self._hub.run(store.describe_stream, key.source)
                return [
                    StreamShardSource(self._hub, key.function, key.source, shard.shard_id, description.retention_h,
                                      starting_position)
                    for shard in description.shards
                ]
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the trigger waits for its source to appear
                logger.warning("function %s: %s %s cannot be read: %s; retrying in %.1f s",
                               key.function, key.kind.value, key.source, _describe_error(error), self._backoff_s)
                await asyncio.sleep(self._backoff_s)
        return []

    async def _checkpoints(self) -> TableCheckpoints:
        if self._table_checkpoints is None:
            path = self._hub.data_dir / TABLE_CHECKPOINTS_FILE
            self._table_checkpoints = await self._hub.run(TableCheckpoints, path)
        return self._table_checkpoints

    # Polling one shard

    async def _poll(self, function: str, source: RecordSource, trigger: RecordTrigger) -> None:
        opened = False
        failures_in_row = 0
        filters = compile_filters(trigger.filter_patterns)
        while not self._stopping():
            try:
                if not opened:
                    await source.open()
                    opened = True
                if trigger.qualifier is not None and not self._qualifier_ready(function, trigger.qualifier, source):
                    await asyncio.sleep(self._backoff_s)
                    continue
                batch = await self._fill_batch(source, trigger)
                self._newest_read[(function, source.resource, source.shard_id)] = batch[-1].arrival_s if batch else None
                if batch:
                    await self._deliver(function, source, trigger, batch, filters)
                failures_in_row = 0
            except asyncio.CancelledError:
                raise
            except _Stopping:
                return
            except FunctionNotFound:
                logger.warning("function %s is gone; its poller on %s stops", function, source.describe())
                return
            except Exception as error:  # noqa: BLE001 - a poller outlives any single failure
                # Opening again reloads the checkpoint, which also recovers from a
                # stream or table that was deleted and created again.
                opened = False
                failures_in_row += 1
                if failures_in_row == 1 or failures_in_row % REPEAT_LOG_EVERY == 0:
                    logger.warning("poller of function %s on %s failed: %s (failure %d in a row); retrying in %.1f s",
                                   function, source.describe(), _describe_error(error), failures_in_row,
                                   self._backoff_s)
                logger.debug("poller failure in detail", exc_info=True)
                await asyncio.sleep(self._backoff_s)

    def _qualifier_ready(self, function: str, qualifier: str, source: RecordSource) -> bool:
        """Return whether the trigger's version or alias exists, logging the first wait for it."""
        waiting = (function, source.resource, source.shard_id)
        if self._dispatcher.qualifier_exists(function, qualifier):
            self._waiting.discard(waiting)
            return True
        if waiting not in self._waiting:
            self._waiting.add(waiting)
            logger.warning("poller of function %s on %s waits for version or alias %r to exist",
                           function, source.describe(), qualifier)
        return False

    async def _fill_batch(self, source: RecordSource, trigger: RecordTrigger) -> list[SourceRecord]:
        """Read up to batch_size records, waiting up to batch_window_s once the first has come.

        The batch ends early where its event would exceed the payload limit
        (Lambda's 6 MB), and the records after that come in the next batch.
        """
        records, full = self._within_payload_limit(source, await source.read(trigger.batch_size))
        if not records:
            await self._hub.wait_for_change(source.service, source.resource, IDLE_POLL_S)
            return []

        window_ends = time.monotonic() + trigger.batch_window_s
        while len(records) < trigger.batch_size and not full and not self._stopping():
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            if await self._hub.wait_for_change(source.service, source.resource, remaining):
                records, full = self._within_payload_limit(source, await source.read(trigger.batch_size))
        return records

    def _within_payload_limit(
        self, source: RecordSource, records: list[SourceRecord]
    ) -> tuple[list[SourceRecord], bool]:
        """Return the leading records whose event fits the payload limit, and whether any were left out.

        A record whose event alone is past the limit makes a batch of its own,
        so that it cannot stop the shard.
        """
        if not records:
            return records, False
        count = count_within_payload_limit(source.event(records)["Records"], self._max_event_bytes)
        if count == 0:
            # NOTE: Lambda documents no behaviour for a record too large for any
            # event. A stream record, at most 1 MiB of data, cannot be one, but a
            # table change whose two images hold many small attributes may come close.
            logger.warning("record %s of %s alone makes an event above %d bytes; delivering it in a batch of its own",
                           records[0].sequence_number, source.describe(), self._max_event_bytes)
            count = 1
        return records[:count], count < len(records)

    # Delivering one batch

    async def _deliver(
        self,
        function: str,
        source: RecordSource,
        trigger: RecordTrigger,
        batch: Sequence[SourceRecord],
        filters: FilterCriteria | None = None,
    ) -> None:
        """Deliver a batch until every record is handled or given up on, checkpointing as it goes.

        NOTE: the retry count lives in memory, so a restart or a redeploy that
        changes the trigger delivers the batch again with a fresh count.
        """
        matching = _matching(source, batch, filters)
        if not matching:
            # Lambda invokes nothing for records that no filter matches and moves past them.
            await source.checkpoint(batch[-1])
            return

        work: deque[_Pending] = deque([_Pending(tuple(matching))])
        while work:
            if self._stopping():
                return  # the records after the checkpoint come again after a restart or from the new poller
            pending = await self._drop_expired(function, source, work.popleft())
            if pending is None:
                continue

            attempt = await self._invoke(
                function, source, pending.records, trigger.qualifier, trigger.report_batch_item_failures
            )
            invocations = pending.invocations + 1
            if attempt.outcome is _Outcome.SUCCESS:
                await source.checkpoint(pending.records[-1])
                continue

            if attempt.outcome is _Outcome.ERROR and trigger.bisect_on_error and len(pending.records) > 1:
                first, second = _halves(pending.records)
                logger.info("function %s failed a batch of %d from %s; retrying it in halves of %d and %d",
                            function, len(pending.records), source.describe(), len(first), len(second))
                work.appendleft(_Pending(second, pending.failures, invocations, attempt.request_id))
                work.appendleft(_Pending(first, pending.failures, invocations, attempt.request_id))
                continue

            if attempt.failed_index > 0:
                await source.checkpoint(pending.records[attempt.failed_index - 1])
            remaining = pending.records[attempt.failed_index :]
            failures = pending.failures + 1
            if 0 <= trigger.max_retries < failures:
                await self._give_up(
                    function, source, remaining, FailureCondition.RETRY_ATTEMPTS_EXHAUSTED, attempt.request_id,
                    invocations, function_error=attempt.outcome is _Outcome.ERROR,
                )
                await source.checkpoint(remaining[-1])
                continue

            logger.info("function %s failed %d record(s) from %s (failure %d); retrying in %.1f s",
                        function, len(remaining), source.describe(), failures, self._backoff_s)
            work.appendleft(_Pending(remaining, failures, invocations, attempt.request_id))
            await asyncio.sleep(self._backoff_s)

        if matching[-1] is not batch[-1]:
            await source.checkpoint(batch[-1])  # past the filtered-out records at the batch's end

    async def _invoke(
        self,
        function: str,
        source: RecordSource,
        records: Sequence[SourceRecord],
        qualifier: str | None = None,
        report_failures: bool = True,
    ) -> _Attempt:
        from squall.services.streams import StreamRecord, failed_sequence_number

        payload = orjson.dumps(source.event(records))
        kind = SourceKind.STREAM if source.service == "streams" else SourceKind.TABLE
        traceparent = first_traceparent(records) if tracing.enabled else None
        while True:
            invocation = Invocation(function, payload, kind.value, traceparent=traceparent, qualifier=qualifier)
            try:
                result = await self._dispatcher.invoke(invocation)
            except Throttled:
                logger.info("function %s throttled a batch of %d from %s; retrying in %.1f s",
                            function, len(records), source.describe(), self._backoff_s)
                await asyncio.sleep(self._backoff_s)
                if self._stopping():
                    raise _Stopping from None
                continue
            break

        if result.error_type is not None:
            return _Attempt(_Outcome.ERROR, 0, result.request_id)
        if not report_failures:
            # Without ReportBatchItemFailures, Lambda ignores the result: the whole batch succeeded.
            return _Attempt(_Outcome.SUCCESS, 0, result.request_id)
        # failed_sequence_number reads only `.sequence_number`, which SourceRecord has too.
        failed = failed_sequence_number(result.payload, cast(Sequence[StreamRecord], records))
        if failed is None:
            return _Attempt(_Outcome.SUCCESS, 0, result.request_id)
        index = next(i for i, record in enumerate(records) if record.sequence_number == failed)
        return _Attempt(_Outcome.PARTIAL, index, result.request_id)

    async def _drop_expired(self, function: str, source: RecordSource, pending: _Pending) -> _Pending | None:
        """Give up on the records past the source's retention period; return the rest, or None."""
        oldest = self._clock() - source.retention_s
        count = 0
        while count < len(pending.records) and pending.records[count].arrival_s < oldest:
            count += 1
        if count == 0:
            return pending

        expired = pending.records[:count]
        await self._give_up(function, source, expired, FailureCondition.RECORD_AGE_EXCEEDED,
                            pending.last_request_id, pending.invocations, function_error=False)
        await source.checkpoint(expired[-1])
        if count == len(pending.records):
            return None
        return _Pending(pending.records[count:], pending.failures, pending.invocations, pending.last_request_id)

    # Reporting

    async def _give_up(
        self,
        function: str,
        source: RecordSource,
        records: Sequence[SourceRecord],
        condition: FailureCondition,
        request_id: str | None,
        invocations: int,
        *,
        function_error: bool,
    ) -> None:
        """Send the description of records the trigger skips to the function's on_failure destination."""
        span = f"{records[0].sequence_number}..{records[-1].sequence_number}"
        destination = self._on_failure.get(function)
        if destination is None:
            logger.warning("function %s: skipping %d record(s) %s of %s (%s after %d invocation(s));"
                           " it has no on_failure destination", function, len(records), span, source.describe(),
                           condition.value, invocations)
            return

        record = failure_record(
            source=source,
            records=records,
            condition=condition,
            request_id=request_id or str(uuid.uuid4()),
            function_arn=self._dispatcher.arn(function),
            invoke_count=invocations,
            function_error=function_error,
            now=self._clock(),
        )
        body = orjson.dumps(record)
        try:
            if destination.kind == "function":
                await self._async_invoker.accept(Invocation(destination.name, body, "destination"))
            elif self._async_invoker.queue_sender is not None:
                await self._async_invoker.queue_sender(destination.name, body.decode())
            else:
                logger.error("function %s: cannot send the failure record of %s to queue %s:"
                             " no queue service is running", function, span, destination.name)
                return
        except (FunctionNotFound, ServiceError) as error:
            # Retrying would block the shard for as long as the destination is
            # missing, so the records are skipped as if none were configured.
            logger.error("function %s: sending the failure record of %s of %s to %s %s failed: %s;"
                         " skipping the records", function, span, source.describe(), destination.kind,
                         destination.name, error)
            return
        logger.warning("function %s: skipped %d record(s) %s of %s (%s after %d invocation(s));"
                       " sent their description to %s %s", function, len(records), span, source.describe(),
                       condition.value, invocations, destination.kind, destination.name)


def _matching(
    source: RecordSource, batch: Sequence[SourceRecord], filters: FilterCriteria | None
) -> Sequence[SourceRecord]:
    """Return the records of a batch that match one of the trigger's filter patterns, or all without patterns.

    NOTE: Lambda fills a batch with matching records only, while here the
    matching records of the next batch_size read make the batch, so a
    filtered trigger may deliver smaller batches than Lambda would.
    """
    if filters is None:
        return batch
    event_records = source.event(batch)["Records"]
    return [
        record
        for record, event_record in zip(batch, event_records, strict=True)
        if filters.matches(source.filter_view(event_record))
    ]


def first_traceparent(records: Sequence[SourceRecord]) -> str | None:
    """Return the trace context of the batch's first record that has one, or None."""
    for record in records:
        if record.traceparent is not None:
            return record.traceparent
    return None


def _halves(records: tuple[SourceRecord, ...]) -> tuple[tuple[SourceRecord, ...], tuple[SourceRecord, ...]]:
    from squall.services.streams import bisect

    return bisect(records)


def _describe_error(error: BaseException) -> str:
    if isinstance(error, ServiceError):
        return str(error)
    return f"{type(error).__name__}: {error}"
