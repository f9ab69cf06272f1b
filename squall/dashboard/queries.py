"""The data the dashboard shows, read from the running platform: functions, charts, invocations, queues and streams.

Store reads block, so each page's reads run together on one worker thread;
queue and stream reads run on the service hub's threads.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from squall.gateway.management import describe_destinations, describe_route, describe_trigger
from squall.manifest.spec import FunctionSpec
from squall.metering.cost import CostGrouping, cost_report
from squall.metering.pricing import PriceTable
from squall.metering.records import InvocationRecord, LogEntry, Outcome, ProvisionedUsage
from squall.metering.stats import FunctionStats, function_stats
from squall.observability.metrics import QUEUE_DATABASE, QueueReading, read_queues
from squall.services.errors import ResourceNotFound, ServiceError

from squall.dashboard.series import Series, Window, bucket_series

logger = logging.getLogger(__name__)

RECENT_INVOCATIONS = 20
# NOTE: the same file name as ServiceHub opens for the stream service; the hub keeps it private.
STREAM_DATABASE = "streams.db"


class FunctionStatus(enum.Enum):
    """The state of a function's instances at the moment of reading."""

    BUSY = "busy"  # at least one instance is running an invocation
    WARM = "warm"  # initialised instances wait for calls
    COLD = "cold"  # no instance: the next call starts one
    THROTTLED = "throttled"  # reserved_concurrency is 0, so every call is rejected
    REMOVED = "removed"  # no longer deployed; its records and logs remain


class Store(Protocol):
    """The reads of `squall.store.sqlite.SqliteStore` that the dashboard makes."""

    def records(self, since: float | None = None, function: str | None = None) -> list[InvocationRecord]: ...

    def logs(self, function: str | None = None, limit: int = 1000, newest: bool = False) -> list[LogEntry]: ...

    def usage(self, since: float | None = None) -> list[ProvisionedUsage]: ...


class DashboardSources(Protocol):
    """The parts of `squall.server.Platform` the dashboard reads; tests pass stand-ins.

    `hub` and `record_triggers` may be None on such stand-ins, and the
    queue and stream sections are then empty.
    """

    @property
    def dispatcher(self) -> Any: ...

    @property
    def store(self) -> Store: ...

    @property
    def prices(self) -> PriceTable: ...


@dataclass(frozen=True, slots=True)
class FunctionRow:
    """A function as deployed, with its instances and its statistics over the window."""

    name: str
    service: str | None  # None once the function is no longer deployed
    handler: str | None
    memory_mb: int | None
    timeout_s: int | None
    routes: tuple[str, ...]  # "GET /hello"
    triggers: tuple[str, ...]  # "queue orders", as `squall ls` describes them
    destinations: tuple[str, ...]
    status: FunctionStatus
    idle: int
    busy: int
    stats: FunctionStats | None  # None without records in the window
    # Requests, duration and provisioned time over the window, at the server's prices.
    cost: float = 0.0


@dataclass(frozen=True, slots=True)
class StreamRow:
    """A stream of the stream service."""

    name: str
    shards: int
    retention_h: int


@dataclass(frozen=True, slots=True)
class StreamConsumer:
    """One shard that a stream or table-stream trigger reads, and how far behind it is."""

    function: str
    source: str  # the stream or table name
    shard: str
    iterator_age_s: float  # 0 once the trigger has read every record


@dataclass(frozen=True, slots=True)
class RecentInvocation:
    """One invocation with its log; either may be missing."""

    request_id: str
    time: float  # Unix seconds when the call started
    trigger: str | None
    outcome: Outcome | None  # None when only the log is stored
    error_type: str | None
    duration_ms: float | None
    init_ms: float | None  # set on a cold start
    log: str | None  # None for a throttled call, which never ran
    version: str | None = None  # "$LATEST" or a published version; None when only the log is stored


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything the overview page shows."""

    generated_at: float
    window: Window
    series: Series  # all functions together
    functions: tuple[FunctionRow, ...]
    queues: tuple[QueueReading, ...]
    streams: tuple[StreamRow, ...]
    consumers: tuple[StreamConsumer, ...]
    problems: tuple[str, ...]  # sections that could not be read, with the reason


@dataclass(frozen=True, slots=True)
class FunctionDetail:
    """Everything one function's page shows."""

    generated_at: float
    window: Window
    function: FunctionRow
    series: Series
    recent: tuple[RecentInvocation, ...]  # newest first
    consumers: tuple[StreamConsumer, ...]


@dataclass(frozen=True, slots=True)
class _StoreReads:
    records: list[InvocationRecord]
    usage: list[ProvisionedUsage]
    recent_records: list[InvocationRecord]
    logs: list[LogEntry]


async def read_overview(platform: DashboardSources, window: Window, now: float) -> Overview:
    """Read the functions, charts, queues and streams of the window that ends at `now`."""
    # NOTE: every record of the window is read and summed in Python on each
    # refresh; for a week of busy traffic, sums per bucket in SQL would be cheaper.
    start = now - window.seconds
    store = platform.store
    records, usage = await asyncio.to_thread(lambda: (store.records(since=start), store.usage(since=start)))
    problems: list[str] = []
    queues = await _read_queues(platform, problems)
    streams = await _read_streams(platform, problems)

    return Overview(
        generated_at=now,
        window=window,
        series=bucket_series(records, usage, window, now, platform.prices),
        functions=tuple(_function_rows(platform, records, _costs(records, usage, platform.prices, start))),
        queues=tuple(queues),
        streams=tuple(streams),
        consumers=tuple(_consumers(platform)),
        problems=tuple(problems),
    )


async def read_function(platform: DashboardSources, name: str, window: Window, now: float) -> FunctionDetail | None:
    """Read one function's charts and recent invocations; None when it is neither deployed nor has stored data."""
    reads = await asyncio.to_thread(_read_function_store, platform.store, name, now - window.seconds)
    deployed = _deployed(platform).get(name)
    if deployed is None and not reads.records and not reads.logs and not reads.recent_records:
        return None

    stats = function_stats(reads.records, platform.prices)
    cost = _costs(reads.records, reads.usage, platform.prices, now - window.seconds).get(name, 0.0)
    return FunctionDetail(
        generated_at=now,
        window=window,
        function=_function_row(platform, name, deployed, stats[0] if stats else None, cost),
        series=bucket_series(reads.records, reads.usage, window, now, platform.prices),
        recent=tuple(_recent(reads.recent_records, reads.logs)),
        consumers=tuple(consumer for consumer in _consumers(platform) if consumer.function == name),
    )


def _read_function_store(store: Store, name: str, start: float) -> _StoreReads:
    records = store.records(since=start, function=name)
    usage = [period for period in store.usage(since=start) if period.function == name]
    logs = store.logs(function=name, limit=RECENT_INVOCATIONS, newest=True)
    # A log's time is its record's `started_at`, so this finds the records of
    # those logs, and the throttled calls among them, even outside the window.
    oldest = logs[0].time if logs else start
    recent_records = records if oldest >= start else store.records(since=oldest, function=name)
    return _StoreReads(records, usage, recent_records, logs)


def _recent(records: Sequence[InvocationRecord], logs: Sequence[LogEntry]) -> list[RecentInvocation]:
    by_request = {entry.request_id: entry for entry in logs}
    rows: list[RecentInvocation] = []
    for record in records:
        entry = by_request.pop(record.request_id, None)
        rows.append(
            RecentInvocation(
                request_id=record.request_id,
                time=record.started_at,
                trigger=record.trigger,
                outcome=record.outcome,
                error_type=record.error_type,
                duration_ms=None if record.outcome is Outcome.THROTTLED else record.duration_ms,
                init_ms=record.init_ms,
                log=entry.text if entry else None,
                version=record.version,
            )
        )
    # The store's writer commits a log and its record together, but retention may have deleted the record.
    for entry in by_request.values():
        rows.append(RecentInvocation(entry.request_id, entry.time, None, None, None, None, None, entry.text))
    rows.sort(key=lambda row: row.time, reverse=True)
    return rows[:RECENT_INVOCATIONS]


def _deployed(platform: DashboardSources) -> dict[str, tuple[str, FunctionSpec]]:
    """Return each deployed function's service name and spec, by function name."""
    functions: dict[str, tuple[str, FunctionSpec]] = {}
    for service in platform.dispatcher.services.values():
        for spec in service.functions.values():
            functions[spec.name] = (service.service, spec)
    return functions


def _costs(
    records: Sequence[InvocationRecord], usage: Sequence[ProvisionedUsage], prices: PriceTable, since: float
) -> dict[str, float]:
    """Return each function's cost over the window, provisioned time included, as `squall cost --by function` prices it."""
    report = cost_report(records, usage, CostGrouping.FUNCTION, prices, since)
    return {row.key: row.cost for row in report.rows}


def _function_rows(
    platform: DashboardSources, records: Sequence[InvocationRecord], costs: Mapping[str, float]
) -> list[FunctionRow]:
    deployed = _deployed(platform)
    stats = {item.function: item for item in function_stats(records, platform.prices)}
    names = sorted(set(deployed) | set(stats) | set(costs))
    return [_function_row(platform, name, deployed.get(name), stats.get(name), costs.get(name, 0.0)) for name in names]


def _function_row(
    platform: DashboardSources,
    name: str,
    deployed: tuple[str, FunctionSpec] | None,
    stats: FunctionStats | None,
    cost: float = 0.0,
) -> FunctionRow:
    if deployed is None:
        return FunctionRow(name, None, None, None, None, (), (), (), FunctionStatus.REMOVED, 0, 0, stats, cost)

    service, spec = deployed
    # Instances of published versions count too: an alias may take all the traffic.
    pools = platform.dispatcher.function_pools(name)
    idle = sum(pool.idle_count for pool in pools)
    busy = sum(pool.busy_count for pool in pools)
    if spec.reserved_concurrency == 0:
        status = FunctionStatus.THROTTLED
    elif busy:
        status = FunctionStatus.BUSY
    elif idle:
        status = FunctionStatus.WARM
    else:
        status = FunctionStatus.COLD
    routes = tuple(describe_route(event) for event in spec.http)
    return FunctionRow(
        name=name,
        service=service,
        handler=spec.handler,
        memory_mb=spec.memory_mb,
        timeout_s=spec.timeout_s,
        routes=routes,
        triggers=tuple(describe_trigger(trigger) for trigger in spec.triggers),
        destinations=tuple(describe_destinations(spec.async_config)),
        status=status,
        idle=idle,
        busy=busy,
        stats=stats,
        cost=cost,
    )


def _consumers(platform: DashboardSources) -> list[StreamConsumer]:
    triggers = getattr(platform, "record_triggers", None)
    if triggers is None:
        return []
    ages = triggers.iterator_ages()
    return [
        StreamConsumer(function, source, shard, age) for (function, source, shard), age in sorted(ages.items())
    ]


async def _read_queues(platform: DashboardSources, problems: list[str]) -> list[QueueReading]:
    hub = getattr(platform, "hub", None)
    # Reading must not create the queue database of a server that never used queues.
    if hub is None or not (hub.data_dir / QUEUE_DATABASE).exists():
        return []
    try:
        store = await hub.run(hub.store, "queues")
        readings: list[QueueReading] = await hub.run(read_queues, store)
    except (ServiceError, sqlite3.Error, OSError) as error:
        logger.warning("reading the queues for the dashboard failed: %s", error)
        problems.append(f"queues could not be read: {error}")
        return []
    return readings


async def _read_streams(platform: DashboardSources, problems: list[str]) -> list[StreamRow]:
    hub = getattr(platform, "hub", None)
    if hub is None or not (hub.data_dir / STREAM_DATABASE).exists():
        return []
    try:
        store = await hub.run(hub.store, "streams")
        return list(await hub.run(_describe_streams, store))
    except (ServiceError, sqlite3.Error, OSError) as error:
        logger.warning("reading the streams for the dashboard failed: %s", error)
        problems.append(f"streams could not be read: {error}")
        return []


def _describe_streams(store: Any) -> list[StreamRow]:
    rows: list[StreamRow] = []
    for name in store.list_streams():
        try:
            description = store.describe_stream(name)
        except ResourceNotFound:
            continue  # deleted since the listing
        rows.append(StreamRow(name, description.shard_count, description.retention_h))
    return rows


def status_counts(functions: Sequence[FunctionRow]) -> Mapping[FunctionStatus, int]:
    """Return how many functions are in each status, for the overview's summary line."""
    counts = {status: 0 for status in FunctionStatus}
    for row in functions:
        counts[row.status] += 1
    return counts
