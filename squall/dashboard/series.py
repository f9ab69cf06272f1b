"""Time series for the dashboard's charts: invocation records and provisioned usage in equal buckets."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

from squall.metering.pricing import PriceTable, gb_seconds
from squall.metering.records import InvocationRecord, Outcome, ProvisionedUsage
from squall.metering.stats import nearest_rank

BUCKETS = 60  # points per chart line, whatever the window


class Window(enum.Enum):
    """The span of time the charts cover, ending now."""

    MINUTES_15 = "15m"
    HOUR = "1h"
    HOURS_6 = "6h"
    DAY = "24h"
    WEEK = "7d"

    @property
    def seconds(self) -> int:
        return _WINDOW_SECONDS[self]

    @property
    def bucket_s(self) -> float:
        """Width of one bucket in seconds."""
        return self.seconds / BUCKETS

    @classmethod
    def parse(cls, text: str | None) -> Window:
        """Return the window named `text` (the last hour when None or empty); raises ValueError listing the valid names."""
        if not text:
            return cls.HOUR
        try:
            return cls(text)
        except ValueError:
            valid = ", ".join(window.value for window in cls)
            raise ValueError(f"invalid window {text!r}: expected one of {valid}") from None


_WINDOW_SECONDS = {
    Window.MINUTES_15: 15 * 60,
    Window.HOUR: 3600,
    Window.HOURS_6: 6 * 3600,
    Window.DAY: 24 * 3600,
    Window.WEEK: 7 * 24 * 3600,
}

_FAILED = frozenset({Outcome.ERROR, Outcome.TIMEOUT, Outcome.CRASH})


@dataclass(frozen=True, slots=True)
class Series:
    """Per-bucket values, each list as long as `time`; None where a bucket has no invocation to measure."""

    time: list[float]  # Unix seconds at the start of each bucket
    invocations: list[int]  # calls that ran, whatever their outcome
    errors: list[int]  # outcomes error, timeout and crash
    throttles: list[int]
    cold_starts: list[int]
    p50_ms: list[float | None]
    p99_ms: list[float | None]
    cost_usd: list[float]  # requests, duration and provisioned time at the server's prices

    def to_dict(self) -> dict[str, list[float] | list[int] | list[float | None]]:
        """Return the lists as JSON-ready data with the same keys."""
        return {
            "time": self.time,
            "invocations": self.invocations,
            "errors": self.errors,
            "throttles": self.throttles,
            "cold_starts": self.cold_starts,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "cost_usd": self.cost_usd,
        }


def bucket_series(
    records: Iterable[InvocationRecord],
    usage: Iterable[ProvisionedUsage],
    window: Window,
    now: float,
    prices: PriceTable,
) -> Series:
    """Split the `window` that ends at `now` into `BUCKETS` buckets and sum `records` and `usage` in each.

    The last bucket ends at `now`, so the newest invocation is always in the
    chart. Records and usage outside the window are ignored. Provisioned time
    is shared among the buckets a period overlaps, in proportion to the overlap.
    """
    width = window.bucket_s
    start = now - window.seconds
    durations: list[list[float]] = [[] for _ in range(BUCKETS)]
    invocations = [0] * BUCKETS
    errors = [0] * BUCKETS
    throttles = [0] * BUCKETS
    cold_starts = [0] * BUCKETS
    duration_gb_s = [0.0] * BUCKETS
    provisioned_gb_s = [0.0] * BUCKETS

    for record in records:
        index = _bucket_index(record.started_at, start, width)
        if index is None:
            continue
        if record.outcome is Outcome.THROTTLED:
            throttles[index] += 1
            continue
        invocations[index] += 1
        errors[index] += record.outcome in _FAILED
        cold_starts[index] += record.cold
        durations[index].append(record.duration_ms)
        duration_gb_s[index] += gb_seconds(record.billed_ms, record.memory_mb)

    for period in usage:
        _spread(period, start, width, provisioned_gb_s)

    percentiles = [sorted(values) for values in durations]
    return Series(
        time=[start + index * width for index in range(BUCKETS)],
        invocations=invocations,
        errors=errors,
        throttles=throttles,
        cold_starts=cold_starts,
        p50_ms=[nearest_rank(values, 50) for values in percentiles],
        p99_ms=[nearest_rank(values, 99) for values in percentiles],
        cost_usd=[
            prices.cost(invocations[index], duration_gb_s[index], provisioned_gb_s[index]) for index in range(BUCKETS)
        ],
    )


def _bucket_index(moment: float, start: float, width: float) -> int | None:
    if moment < start:
        return None
    index = math.floor((moment - start) / width)
    # A record written while the window was computed may start a hair after `now`.
    return min(index, BUCKETS - 1)


def _spread(period: ProvisionedUsage, start: float, width: float, totals: list[float]) -> None:
    """Add the period's GB-seconds to `totals`, each bucket getting the share that falls inside it."""
    duration_s = period.ended_at - period.started_at
    if duration_s <= 0:
        return
    per_second = period.gb_seconds / duration_s
    first = max(0, math.floor((period.started_at - start) / width))
    last = min(BUCKETS - 1, math.floor((period.ended_at - start) / width))
    for index in range(first, last + 1):
        bucket_start = start + index * width
        overlap = min(period.ended_at, bucket_start + width) - max(period.started_at, bucket_start)
        if overlap > 0:
            totals[index] += overlap * per_second

