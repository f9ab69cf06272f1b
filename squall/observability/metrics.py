"""Prometheus metrics of the platform, in the text format `GET /metrics` returns.

Invocation counts, errors, throttles, cold starts, durations and GB-seconds
come from the invocation records: `Metrics.observe` adds each record to
plain per-function totals as it is written. Instances, queues and stream
pollers are read when a scrape calls `Metrics.render`.

`observe` runs on the event loop for every invocation, so it only adds to
numbers in memory: about 0.7 µs per record. prometheus-client's own Counter
and Histogram take a lock per update and scan the buckets in Python, which
took 1.7 µs for three of the updates (docs/performance.md). A scrape builds the metric families from those totals on
the event loop as well, so it never reads a half-added record.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from squall.dispatcher.pool import PoolSettings
from squall.manifest.spec import FunctionSpec
from squall.metering.pricing import gb_seconds
from squall.metering.records import InvocationRecord, LogEntry, Outcome
from squall.observability.emf import EmfMetrics
from squall.services.errors import ServiceError
from squall.services.hub import ServiceHub
from squall.services.queues import QueueDoesNotExist

logger = logging.getLogger(__name__)

# Upper bounds in seconds, from 1 ms to Squall's maximum timeout of 900 s.
DURATION_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0,
)
# An init phase may last up to the dispatcher's init timeout of 10 s.
INIT_DURATION_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
# The content type prometheus-client sends with generate_latest's text format.
CONTENT_TYPE = CONTENT_TYPE_LATEST
# NOTE: the same file name as ServiceHub opens; the hub keeps it private.
QUEUE_DATABASE = "queues.db"

# What the metrics read from the running platform. `squall.server.Platform`
# has all of it; tests pass small stand-ins.

class PoolView(Protocol):
    """The parts of a `FunctionPool` the instance gauges read."""

    @property
    def spec(self) -> FunctionSpec: ...

    @property
    def settings(self) -> PoolSettings: ...

    @property
    def idle_count(self) -> int: ...

    @property
    def busy_count(self) -> int: ...


class DispatcherView(Protocol):
    @property
    def pools(self) -> Mapping[str, PoolView]: ...


class IteratorAgeSource(Protocol):
    def iterator_ages(self) -> dict[tuple[str, str, str], float]: ...


class MetricSources(Protocol):
    """The parts of the platform that `Metrics` reads at scrape time: pools, the service hub and record triggers."""

    @property
    def dispatcher(self) -> DispatcherView: ...

    @property
    def hub(self) -> ServiceHub: ...

    @property
    def record_triggers(self) -> IteratorAgeSource: ...


# Totals kept per function version

class _Histogram:
    """Observation counts per bucket (not cumulative; the last slot is +Inf) and their sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def add(self, value: float) -> None:
        # bisect_left finds the first bound >= value: Prometheus buckets include their upper bound.
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), list(self.counts)):
            running += count
            buckets.append((floatToGoString(bound), running))
        return buckets


class _FunctionTotals:
    __slots__ = ("invocations", "errors", "throttles", "cold_starts", "gb_seconds", "duration", "init")

    def __init__(self) -> None:
        self.invocations: dict[str, int] = {}  # per trigger
        # NOTE: one series per error type, so a handler that raises exception
        # classes with generated names grows the scrape without bound.
        self.errors: dict[str, int] = {}  # per error type
        self.throttles = 0
        self.cold_starts = 0
        self.gb_seconds = 0.0
        self.duration = _Histogram(DURATION_BUCKETS_S)
        self.init = _Histogram(INIT_DURATION_BUCKETS_S)


@dataclass(frozen=True, slots=True)
class QueueReading:
    """One queue's counts at scrape time."""

    name: str
    visible: int
    in_flight: int
    delayed: int
    oldest_age_s: float  # 0 for an empty queue
    dead_letter_target: bool  # some queue's redrive policy moves messages here

    @property
    def depth(self) -> int:
        return self.visible + self.in_flight + self.delayed


class Metrics:
    """The platform's Prometheus metrics, in a registry of their own.

    Call `observe` on the event loop thread for every invocation record,
    throttles included, `observe_log` for log entries that contain
    `emf.EMF_MARKER`, and `render` from the event loop to serve a scrape.
    """

    def __init__(self, platform: MetricSources) -> None:
        self._platform = platform
        self._totals: dict[tuple[str, str], _FunctionTotals] = {}
        self._queues: list[QueueReading] = []
        self._queue_failures = 0
        self.emf = EmfMetrics()
        self.content_type = CONTENT_TYPE
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self._collect_invocations))
        self.registry.register(_Collector(self._collect_instances))
        self.registry.register(_Collector(self._collect_queues))
        self.registry.register(_Collector(self._collect_iterator_ages))
        self.registry.register(_Collector(self.emf.collect))
        # The server's own CPU time, memory and open files, read from /proc.
        ProcessCollector(registry=self.registry)

    # Recording

    def observe(self, record: InvocationRecord) -> None:
        """Add one invocation record to its function's totals."""
        key = (record.function, record.version)
        totals = self._totals.get(key)
        if totals is None:
            totals = self._totals[key] = _FunctionTotals()

        # A throttled call never ran: like Lambda, count it only as a throttle.
        if record.outcome is Outcome.THROTTLED:
            totals.throttles += 1
            return

        invocations = totals.invocations
        invocations[record.trigger] = invocations.get(record.trigger, 0) + 1
        # Every outcome but success and throttled is a failure: error, timeout, crash.
        if record.outcome is not Outcome.SUCCESS:
            error_type = record.error_type or record.outcome.value
            totals.errors[error_type] = totals.errors.get(error_type, 0) + 1
        if record.cold:
            totals.cold_starts += 1
        if record.init_ms is not None:
            totals.init.add(record.init_ms / 1000)
        totals.duration.add(record.duration_ms / 1000)
        totals.gb_seconds += gb_seconds(record.billed_ms, record.memory_mb)

    def observe_log(self, entry: LogEntry) -> None:
        """Add the EMF metrics that a function printed; invalid documents are counted and skipped."""
        self.emf.observe(entry)

    # Scraping

    async def render(self) -> bytes:
        """Read the queues, then return every metric in Prometheus's text format (see `content_type`)."""
        self._queues = await self._read_queues()
        # Collect on the event loop, where records are added, so that no record
        # is half-counted. Formatting the text is three quarters of a scrape's
        # cost (20 of 27 ms for 100 functions on a 2-vCPU machine), so it runs on a worker thread.
        families = list(self.registry.collect())
        return await asyncio.to_thread(generate_latest, _Collector(lambda: families))

    async def _read_queues(self) -> list[QueueReading]:
        hub = self._platform.hub
        # A scrape must not create the queue database of a server that never used queues.
        if not (hub.data_dir / QUEUE_DATABASE).exists():
            return []
        try:
            store = await hub.run(hub.store, "queues")
            readings: list[QueueReading] = await hub.run(read_queues, store)
        except (ServiceError, sqlite3.Error, OSError) as error:
            # Function metrics are still worth returning, so the queue metrics are left out.
            self._queue_failures += 1
            if self._queue_failures == 1:
                logger.warning("reading the queues for metrics failed; leaving them out of scrapes: %s", error)
            return []
        if self._queue_failures:
            logger.info("reading the queues for metrics succeeded again after %d failed scrapes", self._queue_failures)
            self._queue_failures = 0
        return readings

    def _collect_invocations(self) -> Iterator[Metric]:
        labels = ["function", "version"]
        invocations = CounterMetricFamily(
            "squall_invocations", "Invocations that ran, whatever their outcome; throttled calls are not counted.",
            labels=[*labels, "trigger"],
        )
        errors = CounterMetricFamily(
            "squall_invocation_errors", "Invocations that ended in an error, a timeout or a crash of the instance.",
            labels=[*labels, "error_type"],
        )
        throttles = CounterMetricFamily(
            "squall_throttles", "Calls rejected because the function was at its concurrency cap.", labels=labels
        )
        cold_starts = CounterMetricFamily(
            "squall_cold_starts", "Invocations that ran on a newly started instance.", labels=labels
        )
        usage = CounterMetricFamily(
            "squall_gb_seconds", "Billed duration in seconds times configured memory in GB (1024 MB).", labels=labels
        )
        duration = HistogramMetricFamily(
            "squall_invocation_duration_seconds", "Run time of invocations, init phase excluded.", labels=labels
        )
        init = HistogramMetricFamily(
            "squall_init_duration_seconds", "Init phase of newly started instances.", labels=labels
        )

        # list() copies each dict in one step, so a record added meanwhile cannot break the iteration.
        for (function, version), totals in list(self._totals.items()):
            values = [function, version]
            for trigger, count in list(totals.invocations.items()):
                invocations.add_metric([*values, trigger], count)
            for error_type, count in list(totals.errors.items()):
                errors.add_metric([*values, error_type], count)
            throttles.add_metric(values, totals.throttles)
            cold_starts.add_metric(values, totals.cold_starts)
            usage.add_metric(values, totals.gb_seconds)
            duration.add_metric(values, totals.duration.cumulative(), totals.duration.total)
            init.add_metric(values, totals.init.cumulative(), totals.init.total)
        # Imported here because async_invoke imports the dispatcher, which may still be loading when this module is.
        from squall.events.async_invoke import stopped_calls

        dropped = CounterMetricFamily(
            "squall_recursive_invocations_dropped",
            "Calls that recursive loop detection stopped, as Lambda's RecursiveInvocationsDropped counts them.",
            labels=["function"],
        )
        for function, count in list(stopped_calls.items()):
            dropped.add_metric([function], count)
        return iter([invocations, errors, throttles, cold_starts, usage, duration, init, dropped])

    def _collect_instances(self) -> Iterator[Metric]:
        labels = ["function", "version"]
        concurrent = GaugeMetricFamily(
            "squall_concurrent_executions", "Instances running an invocation now.", labels=labels
        )
        instances = GaugeMetricFamily(
            "squall_instances", "Started instances of the function by state.", labels=[*labels, "state"]
        )
        provisioned = GaugeMetricFamily(
            "squall_provisioned_instances", "Instances the manifest asks to keep initialised.", labels=labels
        )
        for pool in self._platform.dispatcher.running_pools():
            values = [pool.spec.name, pool.settings.version]
            busy = pool.busy_count
            concurrent.add_metric(values, busy)
            instances.add_metric([*values, "idle"], pool.idle_count)
            instances.add_metric([*values, "busy"], busy)
            provisioned.add_metric(values, pool.spec.provisioned)
        return iter([concurrent, instances, provisioned])

    def _collect_queues(self) -> Iterator[Metric]:
        messages = GaugeMetricFamily(
            "squall_queue_messages", "Messages in the queue by state.", labels=["queue", "state"]
        )
        oldest = GaugeMetricFamily(
            "squall_queue_oldest_message_age_seconds", "Age of the oldest message; 0 for an empty queue.",
            labels=["queue"],
        )
        dead_letter = GaugeMetricFamily(
            "squall_dead_letter_queue_messages",
            "Messages in a queue that is another queue's dead-letter queue, in any state.",
            labels=["queue"],
        )
        for reading in self._queues:
            messages.add_metric([reading.name, "visible"], reading.visible)
            messages.add_metric([reading.name, "in_flight"], reading.in_flight)
            messages.add_metric([reading.name, "delayed"], reading.delayed)
            oldest.add_metric([reading.name], reading.oldest_age_s)
            if reading.dead_letter_target:
                dead_letter.add_metric([reading.name], reading.depth)
        return iter([messages, oldest, dead_letter])

    def _collect_iterator_ages(self) -> Iterator[Metric]:
        ages = GaugeMetricFamily(
            "squall_stream_iterator_age_seconds",
            "Time since the newest record of the batch in delivery arrived in its stream or table; "
            "0 once the trigger has read everything.",
            labels=["function", "source", "shard"],
        )
        for (function, source, shard), age in self._platform.record_triggers.iterator_ages().items():
            ages.add_metric([function, source, shard], age)
        return iter([ages])


def read_queues(store: Any) -> list[QueueReading]:
    """Read every queue's counts from a `Queues` store; blocking, so run it on the hub's threads."""
    queues = store.list_queues()
    targets = {queue.settings.dead_letter.target for queue in queues if queue.settings.dead_letter is not None}
    readings: list[QueueReading] = []
    for queue in queues:
        try:
            stats = store.stats(queue.name)
        except QueueDoesNotExist:
            continue  # deleted since the listing
        readings.append(
            QueueReading(
                name=queue.name,
                visible=stats.visible,
                in_flight=stats.in_flight,
                delayed=stats.delayed,
                oldest_age_s=stats.oldest_age_s or 0.0,
                dead_letter_target=queue.name in targets,
            )
        )
    return readings


class _Collector:
    """Adapts a function that yields metric families to the registry's collector interface."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self.collect = collect
