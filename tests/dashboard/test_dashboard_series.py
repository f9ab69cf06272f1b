"""The dashboard's chart series: records and provisioned usage split into equal time buckets."""

from __future__ import annotations

import pytest

from squall.dashboard.series import BUCKETS, Window, bucket_series
from squall.metering.pricing import PriceTable
from squall.metering.records import InvocationRecord, Outcome, ProvisionedUsage

NOW = 1_700_000_000.0
# Round prices make the expected costs exact: 1 per request, 1000 per GB-second, 10 per provisioned GB-second.
PRICES = PriceTable(per_gb_second=1000.0, per_request=1.0, name="test", per_provisioned_gb_second=10.0)


def record(
    started_at: float,
    outcome: Outcome = Outcome.SUCCESS,
    duration_ms: float = 10.0,
    cold: bool = False,
) -> InvocationRecord:
    return InvocationRecord(
        request_id=f"r-{started_at}-{duration_ms}",
        function="hello",
        version="$LATEST",
        trigger="http",
        started_at=started_at,
        duration_ms=duration_ms,
        billed_ms=int(duration_ms) if outcome is not Outcome.THROTTLED else 0,
        memory_mb=1024,
        max_memory_mb=30,
        init_ms=5.0 if cold else None,
        cold=cold,
        outcome=outcome,
        error_type=None if outcome in (Outcome.SUCCESS, Outcome.THROTTLED) else "ValueError",
    )


def test_buckets_cover_window_ending_now() -> None:
    series = bucket_series([], [], Window.HOUR, NOW, PRICES)

    assert len(series.time) == BUCKETS
    assert series.time[0] == NOW - 3600
    assert series.time[-1] == NOW - 60
    assert series.invocations == [0] * BUCKETS
    assert series.p50_ms == [None] * BUCKETS


def test_counts_land_in_their_bucket() -> None:
    last = NOW - 30  # inside the last minute of the hour
    earlier = NOW - 3600 + 90  # inside the second minute
    records = [
        record(last),
        record(last, Outcome.ERROR),
        record(last, Outcome.TIMEOUT),
        record(last, Outcome.THROTTLED),
        record(earlier, cold=True),
        record(NOW - 7200),  # before the window
    ]

    series = bucket_series(records, [], Window.HOUR, NOW, PRICES)

    assert series.invocations[-1] == 3
    assert series.errors[-1] == 2
    assert series.throttles[-1] == 1
    assert series.cold_starts[-1] == 0
    assert series.invocations[1] == 1
    assert series.cold_starts[1] == 1
    assert sum(series.invocations) == 4


def test_record_after_now_counts_in_last_bucket() -> None:
    series = bucket_series([record(NOW + 0.5)], [], Window.MINUTES_15, NOW, PRICES)

    assert series.invocations[-1] == 1


def test_percentiles_per_bucket_skip_throttles() -> None:
    moment = NOW - 10
    durations = [float(value) for value in range(1, 101)]
    records = [record(moment, duration_ms=value) for value in durations]
    records.append(record(moment, Outcome.THROTTLED, duration_ms=0.0))

    series = bucket_series(records, [], Window.HOUR, NOW, PRICES)

    assert series.p50_ms[-1] == 50.0
    assert series.p99_ms[-1] == 99.0
    assert series.p50_ms[0] is None


def test_cost_counts_requests_and_duration() -> None:
    # Two calls of 100 ms at 1024 MB: 2 requests and 0.2 GB-seconds; a throttle is free.
    moment = NOW - 10
    records = [record(moment, duration_ms=100.0), record(moment, duration_ms=100.0), record(moment, Outcome.THROTTLED)]

    series = bucket_series(records, [], Window.HOUR, NOW, PRICES)

    assert series.cost_usd[-1] == pytest.approx(2 * 1.0 + 0.2 * 1000.0)
    assert series.cost_usd[0] == 0.0


def test_provisioned_usage_spread_over_buckets() -> None:
    # One 1024 MB instance from 150 s to 30 s before now: 30 s in bucket 57, 60 s in bucket 58, 30 s in bucket 59.
    period = ProvisionedUsage("hello", started_at=NOW - 150, ended_at=NOW - 30, instances=1, memory_mb=1024)

    series = bucket_series([], [period], Window.HOUR, NOW, PRICES)

    assert series.cost_usd[57] == pytest.approx(30 * 10.0)
    assert series.cost_usd[58] == pytest.approx(60 * 10.0)
    assert series.cost_usd[59] == pytest.approx(30 * 10.0)
    assert sum(series.cost_usd) == pytest.approx(120 * 10.0)


def test_provisioned_usage_before_window_is_clipped() -> None:
    period = ProvisionedUsage("hello", started_at=NOW - 3700, ended_at=NOW - 3540, instances=2, memory_mb=512)

    series = bucket_series([], [period], Window.HOUR, NOW, PRICES)

    # Only the 60 s inside the window count: 60 s x 2 instances x 0.5 GB.
    assert sum(series.cost_usd) == pytest.approx(60 * 1.0 * 10.0)


@pytest.mark.parametrize(
    ("text", "window", "seconds"),
    [(None, Window.HOUR, 3600), ("", Window.HOUR, 3600), ("15m", Window.MINUTES_15, 900), ("7d", Window.WEEK, 604_800)],
)
def test_window_parse(text: str | None, window: Window, seconds: int) -> None:
    assert Window.parse(text) is window
    assert window.seconds == seconds


def test_window_parse_names_valid_values() -> None:
    with pytest.raises(ValueError, match="'2d'.*15m, 1h, 6h, 24h, 7d"):
        Window.parse("2d")
