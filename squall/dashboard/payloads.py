"""The JSON the page script fetches under `/ui/data/`: chart series, table data and the HTML fragments to swap in.

The fragments come from the same functions that render the page, so a
refreshed table looks exactly like the first one.
"""

from __future__ import annotations

from typing import Any

from squall.observability.metrics import QueueReading

from squall.dashboard import pages
from squall.dashboard.queries import FunctionDetail, FunctionRow, Overview, RecentInvocation, StreamConsumer


def overview_data(overview: Overview) -> dict[str, Any]:
    """Return the overview's data with the fragments `status`, `functions`, `queues`, `streams` and `problems`."""
    return {
        "generated_at": overview.generated_at,
        "window": overview.window.value,
        "series": overview.series.to_dict(),
        "functions": [_function(row) for row in overview.functions],
        "queues": [_queue(queue) for queue in overview.queues],
        "streams": [
            {"name": stream.name, "shards": stream.shards, "retention_h": stream.retention_h}
            for stream in overview.streams
        ],
        "consumers": [_consumer(consumer) for consumer in overview.consumers],
        "problems": list(overview.problems),
        "html": {
            "status": pages.status_summary(overview.functions),
            "functions": pages.functions_table(overview.functions, overview.window),
            "queues": pages.queues_table(overview.queues),
            "streams": pages.streams_section(overview.streams, overview.consumers, overview.window),
            "problems": pages.problems_list(overview.problems),
        },
    }


def function_data(detail: FunctionDetail) -> dict[str, Any]:
    """Return one function's data with the fragments `summary` and `recent`."""
    return {
        "generated_at": detail.generated_at,
        "window": detail.window.value,
        "series": detail.series.to_dict(),
        "function": _function(detail.function),
        "recent": [_invocation(row) for row in detail.recent],
        "consumers": [_consumer(consumer) for consumer in detail.consumers],
        "html": {
            "summary": pages.function_summary(detail.function, detail.consumers, detail.window),
            "recent": pages.recent_invocations(detail.recent),
        },
    }


def _function(row: FunctionRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "service": row.service,
        "handler": row.handler,
        "memory_mb": row.memory_mb,
        "timeout_s": row.timeout_s,
        "routes": list(row.routes),
        "triggers": list(row.triggers),
        "destinations": list(row.destinations),
        "status": row.status.value,
        "instances": {"busy": row.busy, "idle": row.idle},
        # FunctionStats.to_dict's keys, over the window, without the function name.
        "stats": None if row.stats is None else {
            key: value for key, value in row.stats.to_dict().items() if key != "function"
        },
        # Over the window, with provisioned time, which stats.cost leaves out.
        "cost": row.cost,
    }


def _queue(queue: QueueReading) -> dict[str, Any]:
    return {
        "name": queue.name,
        "depth": queue.depth,
        "visible": queue.visible,
        "in_flight": queue.in_flight,
        "delayed": queue.delayed,
        "oldest_age_s": queue.oldest_age_s,
        "dead_letter_target": queue.dead_letter_target,
    }


def _consumer(consumer: StreamConsumer) -> dict[str, Any]:
    return {
        "function": consumer.function,
        "source": consumer.source,
        "shard": consumer.shard,
        "iterator_age_s": consumer.iterator_age_s,
    }


def _invocation(row: RecentInvocation) -> dict[str, Any]:
    return {
        "request_id": row.request_id,
        "time": row.time,
        "trigger": row.trigger,
        "outcome": row.outcome.value if row.outcome else None,
        "error_type": row.error_type,
        "duration_ms": row.duration_ms,
        "init_ms": row.init_ms,
        "log": row.log,
        "version": row.version,
    }
