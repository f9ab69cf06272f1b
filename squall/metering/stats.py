"""Per-function statistics and cost, computed from invocation records."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from squall.metering.pricing import PriceTable, gb_seconds
from squall.metering.records import InvocationRecord, Outcome

_FAILED = frozenset({Outcome.ERROR, Outcome.TIMEOUT, Outcome.CRASH})


@dataclass(frozen=True, slots=True)
class FunctionStats:
    """Counts, latency percentiles and cost of one function's invocations.

    Throttled calls never ran, so they count only in `throttles`: not in
    `invocations`, the percentiles, `gb_seconds` or `cost`. AWS does the same,
    because it counts a request only when the function starts executing.
    """

    function: str
    invocations: int  # calls that ran, whatever their outcome
    errors: int  # outcomes error, timeout and crash
    throttles: int
    cold_starts: int
    p50_ms: float | None  # nearest-rank percentiles of duration_ms; None without invocations
    p95_ms: float | None
    p99_ms: float | None
    avg_init_ms: float | None  # mean init_ms of the cold starts that report one
    gb_seconds: float  # from each record's billed_ms and memory_mb
    cost: float  # invocations * per_request + gb_seconds * per_gb_second
    price_table: str  # name of the PriceTable behind `cost`

    def to_dict(self) -> dict[str, str | int | float | None]:
        """Return the fields as a JSON-ready dict with the same keys."""
        return {
            "function": self.function,
            "invocations": self.invocations,
            "errors": self.errors,
            "throttles": self.throttles,
            "cold_starts": self.cold_starts,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "avg_init_ms": self.avg_init_ms,
            "gb_seconds": self.gb_seconds,
            "cost": self.cost,
            "price_table": self.price_table,
        }


def hourly_trend(
    records: Iterable[InvocationRecord], now: float, buckets: int = 12, bucket_s: float = 300.0,
    by_version: bool = False,
) -> dict[str, list[int]]:
    """Count each function's invocations (throttles left out) in `buckets` windows ending at `now`, oldest first.

    With `by_version`, each version of a function counts apart, as "NAME:VERSION".
    """
    start = now - buckets * bucket_s
    trend: dict[str, list[int]] = {}
    for record in records:
        if record.outcome is Outcome.THROTTLED or not start <= record.started_at < now:
            continue
        counts = trend.setdefault(_row_name(record, by_version), [0] * buckets)
        counts[min(buckets - 1, int((record.started_at - start) // bucket_s))] += 1
    return trend


def function_stats(
    records: Iterable[InvocationRecord], prices: PriceTable, by_version: bool = False
) -> list[FunctionStats]:
    """Summarise `records` per function, ordered by function name.

    With `by_version`, each version of a function ("$LATEST", "3") gets a row
    of its own, named "NAME:VERSION", so a weighted alias's versions compare.
    Free tiers are not subtracted: `cost` is what the usage would cost at
    `prices` from the first request on.
    """
    by_function: dict[str, list[InvocationRecord]] = defaultdict(list)
    for record in records:
        by_function[_row_name(record, by_version)].append(record)
    return [
        _summarise(function, by_function[function], prices) for function in sorted(by_function)
    ]


def _summarise(
    function: str, records: Sequence[InvocationRecord], prices: PriceTable
) -> FunctionStats:
    ran = [record for record in records if record.outcome is not Outcome.THROTTLED]
    durations = sorted(record.duration_ms for record in ran)
    init_times = [record.init_ms for record in ran if record.cold and record.init_ms is not None]
    total_gb_seconds = math.fsum(gb_seconds(record.billed_ms, record.memory_mb) for record in ran)

    return FunctionStats(
        function=function,
        invocations=len(ran),
        errors=sum(1 for record in ran if record.outcome in _FAILED),
        throttles=len(records) - len(ran),
        cold_starts=sum(1 for record in ran if record.cold),
        p50_ms=nearest_rank(durations, 50),
        p95_ms=nearest_rank(durations, 95),
        p99_ms=nearest_rank(durations, 99),
        avg_init_ms=math.fsum(init_times) / len(init_times) if init_times else None,
        gb_seconds=total_gb_seconds,
        cost=prices.cost(len(ran), total_gb_seconds),
        price_table=prices.name,
    )


def nearest_rank(sorted_values: Sequence[float], percent: float) -> float | None:
    """Return the nearest-rank percentile of ascending `sorted_values`; None when empty.

    The result is the smallest value with at least `percent`% of the values
    at or below it, so it is always one of the values, never an interpolation.
    Raises ValueError unless 0 < percent <= 100.
    """
    if not 0 < percent <= 100:
        raise ValueError(f"nearest_rank: percent: expected 0 < percent <= 100, got {percent!r}")
    if not sorted_values:
        return None
    # Multiply before dividing: 7 * 100 / 100 is exactly 7, but 7 / 100 * 100
    # is 7.000000000000001, which would round up to rank 8.
    rank = math.ceil(percent * len(sorted_values) / 100)
    return sorted_values[rank - 1]


def _row_name(record: InvocationRecord, by_version: bool) -> str:
    return f"{record.function}:{record.version}" if by_version else record.function
