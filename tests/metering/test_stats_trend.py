"""The last hour's invocation trend behind `squall stats`, and its sparkline."""

from __future__ import annotations

from squall.cli_output import sparkline
from squall.metering.records import InvocationRecord, Outcome
from squall.metering.stats import hourly_trend

NOW = 1_800_000_000.0


def record(function: str, seconds_ago: float, outcome: Outcome = Outcome.SUCCESS) -> InvocationRecord:
    return InvocationRecord(
        request_id="r", function=function, version="$LATEST", trigger="http", started_at=NOW - seconds_ago,
        duration_ms=1.0, billed_ms=1, memory_mb=128, max_memory_mb=20, init_ms=None, cold=False, outcome=outcome,
    )


def test_trend_buckets_oldest_first() -> None:
    records = [record("a", 3590), record("a", 10), record("a", 20), record("b", 1000),
               record("a", 5, Outcome.THROTTLED), record("a", 4000)]

    trend = hourly_trend(records, NOW)

    assert trend["a"] == [1] + [0] * 10 + [2]
    assert sum(trend["b"]) == 1
    assert trend["b"][8] == 1


def test_sparkline_scales_to_largest() -> None:
    assert sparkline([0, 1, 2, 4]) == "▁▄▅█"
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([]) == "-"
