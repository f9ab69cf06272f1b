"""Asynchronous invocation: accept durably, run in the background, retry, and report the outcome.

Squall follows Lambda's model. An accepted event runs once. If the function
fails, it is retried up to `max_retry_attempts` times, one minute and then
two minutes later. Throttles are retried with a growing back-off and do not
count as attempts. An event older than `max_event_age_s` is dropped. The
final outcome goes to the function's `on_success` or `on_failure`
destination as an invocation record. A dropped event also goes, unchanged,
to the function's dead-letter queue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import logging
import os
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import orjson

from squall.dispatcher.dispatcher import LATEST, Dispatcher, Invocation, InvocationResult
from squall.errors import FunctionNotFound, Throttled
from squall.events.async_store import AsyncStore, NewInvocation, QueuedInvocation
from squall.events.draining import finish_or_cancel
from squall.manifest.spec import Destination, RecursiveLoop
from squall.observability import tracing
from squall.runtime.bootstrap import lineage_key
from squall.services.errors import LimitExceeded
from squall.services.queues.model import MessageAttribute

logger = logging.getLogger(__name__)

# Concurrent asynchronous invocations per function when it has no reserved
# concurrency. Lambda shares the account's concurrency instead; a fixed
# share keeps one busy function from filling the node.
DEFAULT_CONCURRENCY = 10
# The Invoke status of a throttled call, which the record of an event that never ran carries.
# NOTE: AWS shows no record of such an event; 429 is the status its Invoke API gives a throttle.
THROTTLED_STATUS = 429
# The Invoke status of a call that recursive loop detection stopped (RecursiveInvocationException).
RECURSIVE_STOP_STATUS = 400
# Lambda retries throttled events with a back-off from 1 second up to 5 minutes.
THROTTLE_BACKOFF_S = (1.0, 300.0)
# The largest record sent whole to a destination: an asynchronous invocation's
# payload limit, which a function destination's record must meet. Larger ones
# go without their payloads.
MAX_DESTINATION_RECORD_BYTES = 1024 * 1024

# Lambda cuts a dead-letter message's ErrorMessage attribute to 1 KB (AWS
# Lambda Developer Guide, "Dead-letter queues").
MAX_DEAD_LETTER_ERROR_MESSAGE_BYTES = 1024
# Characters SQS rejects in a message attribute value, which an error message may contain.
_INVALID_SQS_CHARACTER = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# Recursive loop detection

# The error Lambda returns for a call it stops in a recursive loop.
RECURSIVE_INVOCATION = "RecursiveInvocationException"
# Lambda stops a function's next invocation once it ran 16 times in one chain
# of calls (AWS Compute Blog, "Detecting and stopping recursive loops in AWS
# Lambda functions", 2023; the Lambda Developer Guide gives "approximately 16").
MAX_CHAIN_INVOCATIONS = 16
# A function whose calls keep being stopped logs a warning at most this often.
STOPPED_LOOP_WARNING_INTERVAL_S = 10.0
_XRAY_ROOT = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_LINEAGE_ENTRY = re.compile(r"([0-9a-f]{8}):([0-9]{1,9})")


def chain_trace_header(value: str, function: str) -> tuple[int, str]:
    """Return how often `function` runs in the chain a trace header describes, counting this call, and the callee's trace fields.

    The fields are the header's Root and Sampled, when valid, and its
    Lineage with this call counted (see squall.runtime.bootstrap.lineage_key).
    Invalid fields and Lineage entries are left out, so a malformed header
    starts a new count.
    """
    root = sampled = None
    lineage: dict[str, int] = {}
    for field in value.split(";"):
        name, _, text = field.strip().partition("=")
        if name == "Root" and _XRAY_ROOT.fullmatch(text):
            root = text
        elif name == "Sampled" and text in ("0", "1"):
            sampled = text
        elif name == "Lineage":
            for entry in text.split("|"):
                match = _LINEAGE_ENTRY.fullmatch(entry)
                if match is not None:
                    lineage[match[1]] = int(match[2])

    key = lineage_key(function)
    count = lineage.get(key, 0) + 1
    lineage[key] = count
    fields = [f"Root={root}"] if root is not None else []
    if sampled is not None:
        fields.append(f"Sampled={sampled}")
    fields.append("Lineage=" + "|".join(f"{name}:{times}" for name, times in lineage.items()))
    return count, ";".join(fields)


def terminates_loops(dispatcher: Dispatcher, function: str) -> bool:
    """Tell whether the function's recursive loop setting stops its calls in a loop.

    The setting is the function's, whatever version or alias a call names,
    as Lambda's applies to the whole function. A function that is not
    deployed stops nothing: its invocation then fails as not found.
    """
    try:
        return dispatcher.pool(function).spec.recursive_loop is RecursiveLoop.TERMINATE
    except FunctionNotFound:
        return False


def recursive_loop_message(function: str, count: int) -> str:
    """Return the message of the error that stops a call of `function`, the `count`th in its chain."""
    # NOTE: AWS documents RecursiveInvocationException (HTTP 400) for this
    # case, but not its message; this one is Squall's own.
    return (
        f"Function {function} was stopped in a recursive loop: this would have been its call {count} in one chain"
        f" of calls, and it runs at most {MAX_CHAIN_INVOCATIONS} times in a chain while its recursive loop setting"
        " is Terminate. Set recursive_loop: allow (RecursiveLoop: Allow in a SAM template) if the loop is intended."
    )


# Calls stopped by recursive loop detection in this process, per function, for
# the squall_recursive_invocations_dropped metric (Lambda's RecursiveInvocationsDropped).
stopped_calls: dict[str, int] = {}


class StoppedLoopWarnings:
    """Logs the calls that recursive loop detection stopped, at most once per function every STOPPED_LOOP_WARNING_INTERVAL_S.

    Every stopped call also counts in `stopped_calls`.
    """

    def __init__(self) -> None:
        # function: (when its last warning was logged, calls stopped since then)
        self._stopped: dict[str, tuple[float, int]] = {}

    def warn(self, function: str, stopped_call: str, count: int, trace_header: str | None) -> None:
        """Count one stopped call, described by `stopped_call` ("request ID", "message ID of queue Q", ...), and log it unless logged lately."""
        stopped_calls[function] = stopped_calls.get(function, 0) + 1
        now = time.monotonic()
        last_warned, stopped = self._stopped.get(function, (-STOPPED_LOOP_WARNING_INTERVAL_S, 0))
        stopped += 1
        if now - last_warned < STOPPED_LOOP_WARNING_INTERVAL_S:
            self._stopped[function] = (last_warned, stopped)
            return
        self._stopped[function] = (now, 0)
        first_field = (trace_header or "").partition(";")[0]
        root = first_field if first_field.startswith("Root=") else ""
        logger.warning(
            "stopped a recursive loop of function %s: %s would have been its call %d in the chain of %s"
            " (%d of its calls stopped in the last %.0f s); set recursive_loop: allow if the loop is intended",
            function, stopped_call, count, root or "a trace header without Root",
            stopped, STOPPED_LOOP_WARNING_INTERVAL_S,
        )


class QueueSender(Protocol):
    """Sends one message, with optional SQS message attributes, to a queue of the queue service."""

    def __call__(
        self, queue: str, body: str, attributes: Mapping[str, MessageAttribute] | None = None
    ) -> Awaitable[None]: ...


@dataclass(frozen=True)
class AsyncSettings:
    """Timing of retries, which tests shorten."""

    retry_delays_s: tuple[float, ...] = (60.0, 120.0)  # before the 2nd and 3rd attempts, as Lambda waits
    throttle_backoff_s: tuple[float, float] = THROTTLE_BACKOFF_S


RETRY_DELAYS_VARIABLE = "SQUALL_ASYNC_RETRY_DELAYS_S"


def async_settings_from_environment() -> AsyncSettings:
    """Read the retry delays from SQUALL_ASYNC_RETRY_DELAYS_S ("60,120" by default), for tests and demos."""
    text = os.environ.get(RETRY_DELAYS_VARIABLE)
    if not text:
        return AsyncSettings()
    try:
        delays = tuple(float(part) for part in text.split(","))
    except ValueError:
        delays = ()
    if not delays or any(delay < 0 for delay in delays):
        raise ValueError(
            f"{RETRY_DELAYS_VARIABLE}={text!r} is invalid: expected comma-separated seconds such as 60,120"
        )
    return AsyncSettings(retry_delays_s=delays)


class AsyncInvoker:
    """Runs accepted asynchronous invocations on the dispatcher, at least once each."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        store: AsyncStore,
        settings: AsyncSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dispatcher = dispatcher
        self._store = store
        self._settings = settings or AsyncSettings()
        self._clock = clock
        # SQLite calls run on one thread of their own, off the event loop.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="squall-async")
        self._due: list[tuple[float, int]] = []  # heap of (due_at, row id)
        self._entries: dict[int, QueuedInvocation] = {}
        self._blocked: dict[str, deque[int]] = {}  # due, but the function is at its concurrency
        self._closing = False  # set by close(): no invocation starts any more
        self._running: dict[str, int] = {}
        self._throttles: dict[int, int] = {}  # throttled attempts per row, for the back-off
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepting: list[tuple[NewInvocation, asyncio.Future[None]]] = []
        self._flushing = False
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopped_loops = StoppedLoopWarnings()
        self.queue_sender: QueueSender | None = None

    # Lifecycle

    async def start(self) -> None:
        """Load what a previous run left pending and start running it."""
        pending = await self._in_thread(self._store.pending)
        for entry in pending:
            self._schedule(entry)
        if pending:
            logger.info("resuming %d asynchronous invocation(s) accepted before the last stop", len(pending))
        self._loop_task = asyncio.get_running_loop().create_task(self._run_forever())

    def stop_starting(self) -> None:
        """Start no more invocations; running ones go on. Safe to call from a signal handler."""
        self._closing = True

    async def close(self) -> None:
        """Stop starting invocations, give running ones a grace period, then close the store.

        An invocation cut at the end of it keeps its row in the store, so it
        runs again after a restart.
        """
        self._closing = True
        if self._loop_task is not None:
            self._loop_task.cancel()
        cut = await finish_or_cancel(list(self._tasks))
        if cut:
            logger.info("%d asynchronous invocation(s) stopped at shutdown will run again after a restart", cut)
        await self._in_thread(self._store.close)
        self._executor.shutdown(wait=True)

    # Accepting

    async def accept(self, invocation: Invocation) -> None:
        """Return once the invocation is committed to the store; it then runs in the background.

        Raises FunctionNotFound for an unknown function or qualifier, and
        StorageFull when the disk has no room. Nothing is accepted in either case.
        """
        # Checked now so that the caller learns of an unknown version or alias. An
        # alias is resolved again when the invocation runs, as Lambda does.
        self._dispatcher.resolve_version(invocation.function, invocation.qualifier)
        # Tracing: a caller without a traceparent of its own, such as the Invoke
        # API, is traced through the current span.
        traceparent = invocation.traceparent
        if traceparent is None and tracing.enabled:
            traceparent = tracing.current_traceparent()
        # The caller's X-Ray fields keep the chain's count of recursive invocations across the queue and restarts.
        entry = NewInvocation(invocation.request_id, invocation.function, invocation.trigger,
                              invocation.payload, self._clock(), traceparent, invocation.qualifier,
                              invocation.trace_header)
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._accepting.append((entry, committed))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        await committed

    async def accept_continuing(self, invocation: Invocation, sent_trace_header: str, stopped_call: str) -> bool:
        """Accept an invocation that continues the chain of calls of a trace header, or stop it in a recursive loop.

        `sent_trace_header` is the X-Ray trace header that the change or
        message triggering the invocation carried. The invocation gets it with
        this call counted in its Lineage. While the function's recursive loop
        setting is Terminate, a call that would be its 17th in the chain is
        stopped: it never runs, goes to the on-failure destination and
        dead-letter queue, and is logged with `stopped_call` describing it.
        Returns whether the invocation was accepted, and raises as `accept` does.
        """
        function = invocation.function
        count, invocation.trace_header = chain_trace_header(sent_trace_header, function)
        if count > MAX_CHAIN_INVOCATIONS and terminates_loops(self._dispatcher, function):
            self._stopped_loops.warn(function, stopped_call, count, invocation.trace_header)
            await self.stop_recursive(invocation, RECURSIVE_INVOCATION, recursive_loop_message(function, count))
            return False
        await self.accept(invocation)
        return True

    async def _flush(self) -> None:
        # Callers that arrive while a commit runs share the next one, so a
        # burst of invocations costs a few commits rather than one each.
        try:
            while self._accepting:
                batch, self._accepting = self._accepting, []
                try:
                    added = await self._in_thread(self._store.add, [entry for entry, _ in batch])
                except Exception as error:  # noqa: BLE001 - every waiting caller gets the error
                    logger.error("cannot store %d asynchronous invocation(s): %s", len(batch), error)
                    for _, committed in batch:
                        if not committed.done():
                            committed.set_exception(error)
                    continue
                for queued, (_, committed) in zip(added, batch):
                    self._schedule(queued)
                    if not committed.done():
                        committed.set_result(None)
        finally:
            self._flushing = False

    # Scheduling

    def _schedule(self, entry: QueuedInvocation) -> None:
        self._entries[entry.id] = entry
        heapq.heappush(self._due, (entry.due_at, entry.id))
        self._wake.set()

    async def _run_forever(self) -> None:
        while True:
            self._wake.clear()
            self._start_due()
            timeout = None
            if self._due:
                timeout = max(0.0, self._due[0][0] - self._clock())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    def _start_due(self) -> None:
        now = self._clock()
        while self._due and self._due[0][0] <= now and not self._closing:
            _, row_id = heapq.heappop(self._due)
            entry = self._entries.get(row_id)
            if entry is None:
                continue
            if self._running.get(entry.function, 0) >= self._concurrency(entry.function):
                self._blocked.setdefault(entry.function, deque()).append(row_id)
                continue
            self._start(entry)

    def _start(self, entry: QueuedInvocation) -> None:
        self._running[entry.function] = self._running.get(entry.function, 0) + 1
        task = asyncio.get_running_loop().create_task(self._run_one(entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _concurrency(self, function: str) -> int:
        try:
            reserved = self._dispatcher.pool(function).spec.reserved_concurrency
        except FunctionNotFound:
            return 1  # its run finds the function gone and drops the invocation
        return DEFAULT_CONCURRENCY if reserved is None else max(1, reserved)

    def _finished(self, entry: QueuedInvocation) -> None:
        self._running[entry.function] -= 1
        blocked = self._blocked.get(entry.function)
        # While the server stops, blocked invocations stay in the store and run after a restart.
        if blocked and not self._closing:
            row_id = blocked.popleft()
            if not blocked:
                del self._blocked[entry.function]
            queued = self._entries.get(row_id)
            if queued is not None:
                self._start(queued)
        self._wake.set()

    # Running one invocation

    async def _run_one(self, entry: QueuedInvocation) -> None:
        try:
            await self._attempt(entry)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep the invocation and try again later
            logger.exception("asynchronous invocation %s of %s failed in Squall; retrying in %.0f s",
                             entry.request_id, entry.function, self._settings.throttle_backoff_s[1])
            self._schedule(dataclasses.replace(entry, due_at=self._clock() + self._settings.throttle_backoff_s[1]))
        finally:
            self._finished(entry)

    async def _attempt(self, entry: QueuedInvocation) -> None:
        payload = await self._in_thread(self._store.payload, entry.id)
        if payload is None:
            self._entries.pop(entry.id, None)
            return
        try:
            spec = self._dispatcher.pool(entry.function).spec
        except FunctionNotFound:
            logger.warning("dropping asynchronous invocation %s: function %s is no longer deployed",
                           entry.request_id, entry.function)
            await self._remove(entry)
            return
        config = spec.async_config

        if self._clock() - entry.accepted_at > config.max_event_age_s:
            last_error = await self._in_thread(self._store.last_error, entry.id)
            logger.warning("asynchronous invocation %s of %s is older than %d s; dropping it",
                           entry.request_id, entry.function, config.max_event_age_s)
            await self._report(config.on_failure, "EventAgeExceeded", entry, payload, entry.attempts, None, last_error)
            await self._send_dead_letter(config.dead_letter_queue, entry, payload, last_error)
            await self._remove(entry)
            return

        invocation = Invocation(entry.function, payload, entry.trigger, request_id=entry.request_id,
                                qualifier=entry.qualifier, trace_header=entry.trace_header)
        if tracing.enabled:
            invocation.traceparent = await self._in_thread(self._store.traceparent, entry.id)
        try:
            result = await self._dispatcher.invoke(invocation)
        except FunctionNotFound:
            logger.warning("dropping asynchronous invocation %s: function %s is no longer deployed",
                           entry.request_id, entry.function)
            await self._remove(entry)
            return
        except Throttled:
            if spec.reserved_concurrency == 0:
                # As Lambda does for a function whose reserved concurrency is 0: no retries, the
                # event goes straight to the on-failure destination and the dead-letter queue.
                logger.warning("asynchronous invocation %s of %s was throttled: its reserved concurrency is 0, "
                               "so it is dropped without retries", entry.request_id, entry.function)
                await self._report(config.on_failure, "RetriesExhausted", entry, payload, entry.attempts, None, None)
                await self._send_dead_letter(config.dead_letter_queue, entry, payload, None)
                await self._remove(entry)
                return
            await self._retry_throttled(entry)
            return

        attempts = entry.attempts + 1
        if result.error_type is None:
            await self._report(config.on_success, "Success", entry, payload, attempts, result, None)
            await self._remove(entry)
            return

        if attempts <= config.max_retry_attempts:
            delays = self._settings.retry_delays_s
            delay = delays[min(attempts, len(delays)) - 1]
            logger.info("asynchronous invocation %s of %s failed with %s (attempt %d); retrying in %.1f s",
                        entry.request_id, entry.function, result.error_type, attempts, delay)
            due_at = self._clock() + delay
            await self._in_thread(self._store.reschedule, entry.id, due_at, attempts, result.payload)
            self._schedule(dataclasses.replace(entry, due_at=due_at, attempts=attempts))
            return

        logger.warning("asynchronous invocation %s of %s failed with %s after %d attempt(s)",
                       entry.request_id, entry.function, result.error_type, attempts)
        await self._report(config.on_failure, "RetriesExhausted", entry, payload, attempts, result, None)
        await self._send_dead_letter(config.dead_letter_queue, entry, payload, result.payload)
        await self._remove(entry)

    async def _retry_throttled(self, entry: QueuedInvocation) -> None:
        count = self._throttles.get(entry.id, 0) + 1
        self._throttles[entry.id] = count
        shortest, longest = self._settings.throttle_backoff_s
        delay = min(longest, shortest * 2 ** (count - 1))
        due_at = self._clock() + delay
        logger.info("asynchronous invocation %s of %s was throttled; retrying in %.0f s",
                    entry.request_id, entry.function, delay)
        self._schedule(dataclasses.replace(entry, due_at=due_at))

    async def _remove(self, entry: QueuedInvocation) -> None:
        await self._in_thread(self._store.remove, entry.id)
        self._entries.pop(entry.id, None)
        self._throttles.pop(entry.id, None)

    async def stop_recursive(self, invocation: Invocation, error_type: str, message: str) -> None:
        """Drop an event that recursive loop detection stopped, sending it to the on-failure destination and the dead-letter queue.

        The event never runs and is never stored. Raises FunctionNotFound
        when the function is not deployed.
        """
        config = self._dispatcher.pool(invocation.function).spec.async_config
        now = self._clock()
        entry = QueuedInvocation(0, invocation.request_id, invocation.function, invocation.trigger, now, now, 0,
                                 invocation.qualifier)
        error = orjson.dumps({"errorMessage": message, "errorType": error_type})
        # NOTE: AWS documents that the event goes to these destinations, but not
        # the condition or status the record then shows. The condition here is the
        # error type, and the status that of the synchronous error (400).
        await self._report(config.on_failure, error_type, entry, invocation.payload, 0, None, error,
                           status_code=RECURSIVE_STOP_STATUS)
        await self._send_dead_letter(config.dead_letter_queue, entry, invocation.payload, error,
                                     status_code=RECURSIVE_STOP_STATUS)

    # Destinations

    async def _report(
        self,
        destination: Destination | None,
        condition: str,
        entry: QueuedInvocation,
        payload: bytes,
        attempts: int,
        result: InvocationResult | None,
        last_error: bytes | None,
        status_code: int | None = None,
    ) -> None:
        """Send the invocation record to the destination, before the caller removes the row.

        `status_code` marks an event that Squall stopped before it ran, with
        the status its Invoke call would have returned; `last_error` is then
        that error, not the function's.

        A record too large for the destination goes without its request and
        response payloads, as Lambda drops them. A record that still cannot be
        delivered is logged and lost: the invocation has ended, and it never
        runs again for its destination's sake.
        """
        if destination is None:
            return

        response = result.payload if result is not None else last_error

        def record(with_payloads: bool) -> bytes:
            return invocation_record(
                condition=condition,
                request_id=entry.request_id,
                function_arn=self._dispatcher.arn(entry.function, entry.qualifier or LATEST),
                executed_version=result.executed_version if result is not None else None,
                request_payload=payload if with_payloads else None,
                invoke_count=attempts,
                response=response if with_payloads else None,
                function_error=status_code is None and (
                    (result is not None and result.error_type is not None) or last_error is not None
                ),
                status_code=status_code or (THROTTLED_STATUS if result is None and last_error is None else 200),
            )

        full = record(with_payloads=True)
        try:
            try:
                await self._deliver(destination, full if len(full) <= MAX_DESTINATION_RECORD_BYTES else None)
            except LimitExceeded as error:
                logger.warning("the record of asynchronous invocation %s is too large for %s %s (%s); "
                               "sending it without its payloads", entry.request_id, destination.kind,
                               destination.name, error)
                await self._deliver(destination, record(with_payloads=False))
        except Exception as error:  # noqa: BLE001 - a lost record must not run the invocation again
            logger.error("delivering the record of asynchronous invocation %s of %s to %s %s failed: %s",
                         entry.request_id, entry.function, destination.kind, destination.name, error)

    async def _deliver(self, destination: Destination, record: bytes | None) -> None:
        """Send one record; None stands for a record over MAX_DESTINATION_RECORD_BYTES, which raises LimitExceeded."""
        if record is None:
            raise LimitExceeded(f"the record exceeds {MAX_DESTINATION_RECORD_BYTES} bytes")
        if destination.kind == "function":
            # A destination may name the function by the name AWS would deploy it under.
            await self.accept(Invocation(self._dispatcher.function_name(destination.name), record, "destination"))
        elif self.queue_sender is not None:
            await self.queue_sender(destination.name, record.decode())
        else:
            raise RuntimeError("no queue service is running")

    async def _send_dead_letter(
        self,
        queue: str | None,
        entry: QueuedInvocation,
        payload: bytes,
        error: bytes | None,
        status_code: int | None = None,
    ) -> None:
        """Send a dropped event, unchanged, to the dead-letter queue, before the caller removes the row.

        `error` is the error JSON of the last failed attempt, or of the stop
        when `status_code` is set (see _report). A message the queue rejects,
        such as one over its size limit, is logged and lost, as Lambda drops it.
        """
        if queue is None:
            return
        try:
            if self.queue_sender is None:
                raise RuntimeError("no queue service is running")
            if status_code is None:
                status_code = 200 if error is not None else THROTTLED_STATUS
            await self.queue_sender(queue, payload.decode(errors="replace"),
                                    dead_letter_attributes(entry.request_id, error, status_code))
        except Exception as failure:  # noqa: BLE001 - a lost message must not run the invocation again
            logger.error("sending the event of asynchronous invocation %s of %s to dead-letter queue %s failed: %s",
                         entry.request_id, entry.function, queue, failure)

    async def _in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    # Introspection

    def pending_count(self) -> int:
        """Return how many accepted invocations have not finished yet."""
        return len(self._entries)


def invocation_record(
    *,
    condition: str,
    request_id: str,
    function_arn: str,
    request_payload: bytes | None,
    invoke_count: int,
    response: bytes | None,
    function_error: bool,
    executed_version: str | None = None,
    now: float | None = None,
    status_code: int = 200,
) -> bytes:
    """Build the record Lambda sends to an asynchronous invocation's destination.

    `status_code` is that of the last attempt's Invoke response: 200 when
    the function ran, whatever its outcome, and THROTTLED_STATUS when it
    never ran.
    """
    stamp = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
    response_context: dict[str, Any] = {"statusCode": status_code, "executedVersion": executed_version or LATEST}
    if function_error:
        response_context["functionError"] = "Unhandled"
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
    }
    # Left out when the record is too large for its destination, as Lambda drops them.
    if request_payload is not None:
        record["requestPayload"] = _json_or_text(request_payload)
    record["responseContext"] = response_context
    if response is not None:
        record["responsePayload"] = _json_or_text(response)
    return orjson.dumps(record)


def dead_letter_attributes(request_id: str, error: bytes | None, status_code: int = 200) -> dict[str, MessageAttribute]:
    """Build the message attributes Lambda adds to an event it sends to a dead-letter queue.

    `error` is the error JSON of the last failed attempt, or None when no
    attempt failed, as for an event that was throttled until it aged out.
    """
    # NOTE: AWS documents ErrorCode only as a 3-digit HTTP status code. After a
    # function error AWS sends 200, the status code of its Invoke response, as LocalStack
    # recorded it (tests/aws/services/lambda_/test_lambda_destinations.snapshot.json,
    # TestLambdaDLQ). THROTTLED_STATUS for an event that never ran is a guess.
    return {
        "RequestID": MessageAttribute("String", request_id),
        "ErrorCode": MessageAttribute("Number", str(status_code)),
        "ErrorMessage": MessageAttribute("String", _dead_letter_error_message(error)),
    }


def _dead_letter_error_message(error: bytes | None) -> str:
    """Return the error's errorMessage, else its errorType, cut to 1 KB and cleaned of characters SQS rejects."""
    details = _json_or_text(error) if error else None
    message = ""
    if isinstance(details, dict):
        message = details.get("errorMessage") or details.get("errorType") or ""
    elif isinstance(details, str):
        message = details
    if not isinstance(message, str) or not message:
        # SQS rejects an empty attribute value.
        message = "the event was not processed"
    cut = message.encode(errors="replace")[:MAX_DEAD_LETTER_ERROR_MESSAGE_BYTES].decode(errors="ignore")
    return _INVALID_SQS_CHARACTER.sub("\ufffd", cut)


def _json_or_text(data: bytes) -> Any:
    try:
        return orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        return data.decode(errors="replace")
