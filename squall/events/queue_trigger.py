"""Queue triggers: poll a queue, deliver SQS-format batches, delete what the function handled.

Squall follows Lambda's SQS behaviour. A trigger with filter patterns
deletes each received message that matches none of them, unseen by the
function, and fills its batch with the matching ones. A batch is deleted
only after the function succeeds. When the result lists `batchItemFailures`, only the
listed messages stay. A malformed result or a function error leaves the whole
batch, which comes back after the queue's visibility timeout and goes to the
dead-letter queue after `max_receive_count` receives. A batch's event stays
within Lambda's 6 MB payload limit, and the messages that would pass it are
left on the queue for the next batch.

A message that a function sent from inside an invocation carries the
invocation's X-Ray trace header (its AWSTraceHeader system attribute), and
the batch's invocation continues that chain of calls. As on Lambda, a message
whose chain has already run the function 16 times is left out of its batch,
unless the function's recursive_loop setting is `allow`. Such a message is
neither delivered nor deleted, so it is received again after its visibility
timeout until the dead-letter queue takes it (or its retention ends).

A stop lets a batch already received run to its end within the grace
period of `squall.events.draining`, and receives no more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from squall.dispatcher.dispatcher import Dispatcher, Invocation
from squall.errors import FunctionNotFound, Throttled
from squall.events.async_invoke import (
    MAX_CHAIN_INVOCATIONS,
    StoppedLoopWarnings,
    chain_trace_header,
    terminates_loops,
)
from squall.events.draining import finish_or_cancel
from squall.events.filters import FilterCriteria, compile_filters, sqs_filter_view
from squall.events.record_sources import EMPTY_EVENT_BYTES, MAX_EVENT_BYTES, added_event_bytes
from squall.manifest.spec import QueueTrigger, ServiceSpec
from squall.services.errors import ServiceError
from squall.services.hub import ServiceHub
from squall.services.queues.model import TRACE_HEADER_ATTRIBUTE

logger = logging.getLogger(__name__)

# Concurrent batches per trigger when the manifest sets no max_concurrency;
# Lambda starts an SQS event source with five pollers.
DEFAULT_POLLERS = 5
# Maximum sleep of an idle poller. Messages that become visible again after a
# visibility timeout or a delay do not wake it, so it polls again this often.
IDLE_POLL_S = 1.0
# Pause after a throttle or a failure in Squall itself before polling again.
BACKOFF_S = 1.0
MAX_RECEIVE = 10  # SQS returns at most ten messages per receive
# A trigger whose pollers keep failing (its queue was deleted, say) logs its
# first failure and then every this many, counted over all its pollers.
REPEAT_LOG_EVERY = 300
# Bytes a record adds to an event besides twice its message's size, since
# JSON escaping at most doubles a body or attribute value. They cover the ids,
# receipt handle, MD5s, system attributes and JSON keys. An estimate with
# room to spare, since a FIFO message with 128-character ids and the longest
# queue name measured 1.3 KB.
RECORD_OVERHEAD_BYTES = 4096


@dataclass(frozen=True)
class _Key:
    function: str
    queue: str


def _traceparent(batch: list[Any]) -> str | None:
    """Return the trace context the batch's first traced message carries, so the batch joins that trace."""
    for message in batch:
        attribute = message.message_attributes.get("traceparent")
        if attribute is not None and attribute.string_value:
            return str(attribute.string_value)
    return None


class QueueTriggers:
    """Runs one set of pollers per (function, queue) trigger of the deployed services."""

    def __init__(self, hub: ServiceHub, dispatcher: Dispatcher, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        """`max_event_bytes` bounds the JSON of each event, Lambda's 6 MB unless a test sets less."""
        self._hub = hub
        self._dispatcher = dispatcher
        self._max_event_bytes = max_event_bytes
        self._pollers: dict[_Key, tuple[QueueTrigger, list[asyncio.Task[None]], asyncio.Event]] = {}
        # Pollers of triggers a redeploy changed or removed: each finishes the batch it has, then ends.
        self._retiring: set[asyncio.Task[None]] = set()
        # One poller of a trigger fills a batch at a time, so that a batch window
        # gathers the messages of a slow trickle into one batch instead of one per poller.
        self._filling: dict[_Key, asyncio.Lock] = {}
        self._waiting: set[_Key] = set()  # triggers whose qualifier names no version or alias yet
        self._closing = False  # set by close(): pollers receive nothing more
        self._failures: dict[_Key, int] = {}  # failures in a row of each trigger's pollers
        self._stopped_loops = StoppedLoopWarnings()

    def update(self, services: Mapping[str, ServiceSpec]) -> None:
        """Start pollers for new triggers and stop those of removed or changed ones."""
        configured: dict[_Key, QueueTrigger] = {}
        for service in services.values():
            for spec in service.functions.values():
                for trigger in spec.triggers:
                    if isinstance(trigger, QueueTrigger) and trigger.enabled:
                        configured[_Key(spec.name, trigger.queue)] = trigger

        for key in list(self._pollers):
            trigger, tasks, stop = self._pollers[key]
            if configured.get(key) != trigger:
                # A batch in flight finishes, as calls in flight do across a redeploy, and no new one starts.
                stop.set()
                self._hub.notify("queues", key.queue)  # wakes the pollers waiting for messages
                for task in tasks:
                    if not task.done():
                        self._retiring.add(task)
                        task.add_done_callback(self._retiring.discard)
                del self._pollers[key]
        for key, trigger in configured.items():
            if key not in self._pollers:
                count = trigger.max_concurrency or DEFAULT_POLLERS
                stop = asyncio.Event()
                tasks = [asyncio.get_running_loop().create_task(self._poll(key, trigger, stop)) for _ in range(count)]
                self._pollers[key] = (trigger, tasks, stop)
                logger.info("polling queue %s for function %s with %d poller(s)", key.queue, key.function, count)

    def stop_receiving(self) -> None:
        """Receive no more messages; batches already received go on. Safe to call from a signal handler."""
        self._closing = True

    async def close(self) -> None:
        """Stop receiving; a batch already received gets the grace period to finish.

        A batch cut at the end of it comes back after its visibility timeout.
        """
        self._closing = True
        tasks = [task for _, tasks, _ in self._pollers.values() for task in tasks] + list(self._retiring)
        for key in self._pollers:
            self._hub.notify("queues", key.queue)  # wakes the pollers waiting for messages
        self._pollers.clear()
        cut = await finish_or_cancel(tasks)
        if cut:
            logger.info("%d queue batch(es) cut at shutdown come back after their visibility timeout", cut)

    async def _poll(self, key: _Key, trigger: QueueTrigger, stop: asyncio.Event) -> None:
        store = self._hub.store("queues")
        queue_arn: str | None = None
        filters = compile_filters(trigger.filter_patterns)
        while not (self._closing or stop.is_set()):
            try:
                if queue_arn is None:
                    queue_arn = (await self._hub.run(store.get_queue, key.queue)).arn
                if trigger.qualifier is not None and not self._qualifier_ready(key, trigger.qualifier):
                    # Receiving now would count against each message's receives
                    # and send them to the dead-letter queue for nothing.
                    await asyncio.sleep(BACKOFF_S)
                    continue
                async with self._filling.setdefault(key, asyncio.Lock()):
                    batch = await self._fill_batch(store, key, queue_arn, trigger, filters, stop)
                failures = self._failures.pop(key, 0)
                if failures:
                    logger.info("polling queue %s for %s works again after %d failure(s)", key.queue, key.function,
                                failures)
                if batch:
                    await self._deliver(store, key, queue_arn, batch, trigger)
            except asyncio.CancelledError:
                raise
            except FunctionNotFound:
                logger.warning("function %s is gone; its queue %s poller stops", key.function, key.queue)
                return
            except ServiceError as error:
                queue_arn = None  # the queue may have been deleted and created again
                if self._count_failure(key):
                    logger.warning("polling queue %s for %s failed: %s; retrying every %.0f s (failure %d in a row)",
                                   key.queue, key.function, error, BACKOFF_S, self._failures[key])
                await asyncio.sleep(BACKOFF_S)
            except Exception:  # noqa: BLE001 - a poller outlives any single failure
                if self._count_failure(key):
                    logger.exception("polling queue %s for %s failed; retrying every %.0f s (failure %d in a row)",
                                     key.queue, key.function, BACKOFF_S, self._failures[key])
                await asyncio.sleep(BACKOFF_S)

    def _count_failure(self, key: _Key) -> bool:
        """Count a failed poll of the trigger and tell whether to log it: the first, then every REPEAT_LOG_EVERY."""
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        return count == 1 or count % REPEAT_LOG_EVERY == 0

    async def _fill_batch(
        self, store: Any, key: _Key, queue_arn: str, trigger: QueueTrigger, filters: FilterCriteria | None,
        stop: asyncio.Event,
    ) -> list[Any]:
        """Receive up to batch_size matching messages, waiting up to batch_window_s once the first has come.

        The batch also ends before its event would exceed the payload limit.
        Each receive requests no more messages than fit at the largest size
        the queue accepts, so a message the batch cannot carry stays on the
        queue unreceived, with its receive count and its place in a FIFO
        group unchanged.

        Limitation: that size is taken after JSON escaping doubles it, so a
        queue that accepts large messages gets fewer messages per receive, and
        smaller batches, than the payload limit alone allows: 2 per receive at
        1 MiB. Keeping the received messages that do not fit for the next
        batch, instead of not receiving them, would lift it.
        """
        queue = key.queue
        settings = (await self._hub.run(store.get_queue, queue)).settings
        largest_record_bytes = 2 * settings.max_message_bytes + RECORD_OVERHEAD_BYTES
        batch: list[Any] = []
        event_bytes = EMPTY_EVENT_BYTES
        window_ends: float | None = None
        while len(batch) < trigger.batch_size and not (self._closing or stop.is_set()):
            fitting = (self._max_event_bytes - event_bytes) // largest_record_bytes
            if batch and fitting == 0:
                break  # the next message might not fit
            requested = min(MAX_RECEIVE, trigger.batch_size - len(batch), max(fitting, 1))
            received = await self._hub.run(store.receive, queue, requested)
            matching = received
            if filters is not None and received:
                matching = await self._discard_unmatched(store, key, queue_arn, received, filters)
            event_bytes, full = await self._add_within_limit(store, key, queue_arn, batch, event_bytes, matching)
            if matching:
                if window_ends is None:
                    window_ends = time.monotonic() + trigger.batch_window_s
                if full:
                    break
                if len(received) < requested and trigger.batch_window_s == 0:
                    break  # the queue is drained and there is no window to wait in
                continue
            if received:
                continue  # every message was filtered out, and more may be waiting
            if batch:
                remaining = (window_ends or 0.0) - time.monotonic()
                if remaining <= 0:
                    break
                await self._hub.wait_for_change("queues", queue, remaining)
            else:
                await self._hub.wait_for_change("queues", queue, IDLE_POLL_S)
        return batch

    async def _add_within_limit(
        self, store: Any, key: _Key, queue_arn: str, batch: list[Any], event_bytes: int, messages: list[Any]
    ) -> tuple[int, bool]:
        """Append the leading messages whose records fit the event to `batch`, and return its new size and whether it is full.

        The messages that do not fit are made visible again at once. That
        happens only for a message larger than the queue accepts now, one sent
        before its maximum message size was lowered, and it counts a receive.
        The first message of a batch is always taken, since no message fits
        any better on its own.
        """
        from squall.services.queues.lambda_events import sqs_event

        records = sqs_event(messages, queue_arn, self._hub.region)["Records"]
        left_out: list[Any] = []
        for message, record in zip(messages, records, strict=True):
            added = added_event_bytes(record, len(batch))
            if left_out or (batch and event_bytes + added > self._max_event_bytes):
                left_out.append(message)
                continue
            batch.append(message)
            event_bytes += added
        if left_out:
            await self._release(store, key, left_out)
        return event_bytes, bool(left_out)

    async def _release(self, store: Any, key: _Key, messages: list[Any]) -> None:
        """Make received messages visible again at once, for a later batch."""
        for message in messages:
            try:
                await self._hub.run(store.change_visibility, key.queue, message.receipt_handle, 0)
            except ServiceError as error:
                # The message comes back after its visibility timeout instead.
                logger.warning("making message %s of queue %s visible again failed: %s",
                               message.message_id, key.queue, error)
        logger.warning("%d message(s) of queue %s are larger than the queue accepts now and do not fit the batch "
                       "for function %s; they are visible again for the next batch",
                       len(messages), key.queue, key.function)

    async def _discard_unmatched(
        self, store: Any, key: _Key, queue_arn: str, received: list[Any], filters: FilterCriteria
    ) -> list[Any]:
        """Delete the received messages that match no filter pattern, as Lambda does, and return the others."""
        from squall.services.queues.lambda_events import sqs_event

        records = sqs_event(received, queue_arn, self._hub.region)["Records"]
        matching: list[Any] = []
        unmatched: list[Any] = []
        for message, record in zip(received, records, strict=True):
            (matching if filters.matches(sqs_filter_view(record)) else unmatched).append(message)
        if unmatched:
            await self._delete(store, key.queue, unmatched)
            logger.info("deleted %d message(s) from queue %s that match no filter pattern of function %s",
                        len(unmatched), key.queue, key.function)
        return matching

    async def _delete(self, store: Any, queue: str, messages: list[Any]) -> None:
        """Delete messages by their receipt handles, ten per call, logging the ones that could not be deleted."""
        from squall.services.queues import DeleteEntry

        for start in range(0, len(messages), MAX_RECEIVE):
            chunk = messages[start : start + MAX_RECEIVE]
            entries = [DeleteEntry(str(index), message.receipt_handle) for index, message in enumerate(chunk)]
            outcome = await self._hub.run(store.delete_batch, queue, entries)
            if outcome.failed:
                logger.warning("deleting %d message(s) from queue %s failed: %s",
                               len(outcome.failed), queue, dict(outcome.failed))

    def _qualifier_ready(self, key: _Key, qualifier: str) -> bool:
        """Return whether the trigger's version or alias exists, logging the first wait for it."""
        if self._dispatcher.qualifier_exists(key.function, qualifier):
            self._waiting.discard(key)
            return True
        if key not in self._waiting:
            self._waiting.add(key)
            logger.warning("queue %s waits for version or alias %r of function %s to exist",
                           key.queue, qualifier, key.function)
        return False

    def _leave_out_loops(self, key: _Key, batch: list[Any]) -> tuple[list[Any], str | None]:
        """Return the messages to deliver, without those stopped in a recursive loop, and the invocation's trace header.

        The trace header is that of the first delivered message that carries
        one, with this call counted in its Lineage.
        NOTE: a batch mixing messages of several chains continues only that
        first chain, so the others' counts start again from it. Lambda does
        not document which chain a batch continues.
        """
        delivered: list[Any] = []
        trace_header: str | None = None
        for message in batch:
            sent_header = message.attributes.get(TRACE_HEADER_ATTRIBUTE)
            if sent_header is None:
                delivered.append(message)
                continue
            count, counted = chain_trace_header(sent_header, key.function)
            if count > MAX_CHAIN_INVOCATIONS and terminates_loops(self._dispatcher, key.function):
                stopped_call = f"message {message.message_id} of queue {key.queue}"
                self._stopped_loops.warn(key.function, stopped_call, count, counted)
                continue
            delivered.append(message)
            if trace_header is None:
                trace_header = counted
        return delivered, trace_header

    async def _deliver(self, store: Any, key: _Key, queue_arn: str, batch: list[Any], trigger: QueueTrigger) -> None:
        qualifier = trigger.qualifier
        from squall.services.queues.lambda_events import failed_message_ids, sqs_event

        batch, trace_header = self._leave_out_loops(key, batch)
        if not batch:
            return
        event = sqs_event(batch, queue_arn, self._hub.region)
        ids = [message.message_id for message in batch]
        invocation = Invocation(key.function, orjson.dumps(event), "queue", traceparent=_traceparent(batch),
                                qualifier=qualifier, trace_header=trace_header)
        try:
            result = await self._dispatcher.invoke(invocation)
        except Throttled:
            # The batch stays invisible until its visibility timeout, as on Lambda.
            logger.info("function %s throttled a batch of %d from queue %s", key.function, len(batch), key.queue)
            await asyncio.sleep(BACKOFF_S)
            return
        if result.error_type is not None:
            logger.info("function %s failed a batch of %d from queue %s with %s; it returns after the visibility timeout",
                        key.function, len(batch), key.queue, result.error_type)
            return

        # Without ReportBatchItemFailures, Lambda ignores the result: the whole batch succeeded.
        failed = failed_message_ids(result.payload, ids) if trigger.report_batch_item_failures else set()
        done = [message for message in batch if message.message_id not in failed]
        await self._delete(store, key.queue, done)
        if failed:
            logger.info("%d of %d message(s) from queue %s stay on the queue after the result of function %s",
                        len(failed), len(batch), key.queue, key.function)
