"""Per-function statistics, checked against numbers worked out by hand."""

from __future__ import annotations

import dataclasses
import json

import pytest

from squall.metering.pricing import AWS_LAMBDA_X86, PriceTable
from squall.metering.records import InvocationRecord, Outcome
from squall.metering.stats import FunctionStats, function_stats, nearest_rank

# Round prices make the expected costs easy to check by hand.
ROUND_PRICES = PriceTable(per_gb_second=1.0, per_request=0.5, name="round")


def _record(
    function: str,
    outcome: Outcome,
    duration_ms: float,
    billed: int,
    memory_mb: int = 1024,
    *,
    cold: bool = False,
    init_ms: float | None = None,
) -> InvocationRecord:
    return InvocationRecord(
        request_id=f"{function}-{outcome.value}-{duration_ms}",
        function=function,
        version="1",
        trigger="invoke",
        started_at=1_700_000_000.0,
        duration_ms=duration_ms,
        billed_ms=billed,
        memory_mb=memory_mb,
        max_memory_mb=40,
        init_ms=init_ms,
        cold=cold,
        outcome=outcome,
    )


# "resize": five calls ran (three failed in different ways), one was throttled.
# Durations 10, 20.4, 30, 40, 50 ms; GB-seconds:
# (10 + 21 + 30 + 40) ms at 1 GB = 0.101, plus 50 ms at 0.5 GB = 0.025, total 0.126.
# "idle": throttled only.
RECORDS = [
    _record("resize", Outcome.TIMEOUT, 30.0, 30),
    _record("idle", Outcome.THROTTLED, 0.0, 0),
    _record("resize", Outcome.SUCCESS, 10.0, 10, cold=True, init_ms=100.0),
    _record("resize", Outcome.ERROR, 20.4, 21),
    _record("resize", Outcome.CRASH, 40.0, 40, cold=True, init_ms=50.0),
    _record("resize", Outcome.THROTTLED, 0.0, 0),
    _record("resize", Outcome.SUCCESS, 50.0, 50, memory_mb=512),
]


@pytest.fixture
def resize() -> FunctionStats:
    by_name = {stats.function: stats for stats in function_stats(RECORDS, ROUND_PRICES)}
    return by_name["resize"]


def test_functions_sorted_by_name() -> None:
    names = [stats.function for stats in function_stats(RECORDS, ROUND_PRICES)]

    assert names == ["idle", "resize"]


def test_counts(resize: FunctionStats) -> None:
    assert resize.invocations == 5
    assert resize.errors == 3
    assert resize.throttles == 1
    assert resize.cold_starts == 2


def test_percentiles_nearest_rank(resize: FunctionStats) -> None:
    # Five sorted durations: p50 is rank ceil(2.5) = 3, p95 and p99 are rank 5.
    assert resize.p50_ms == 30.0
    assert resize.p95_ms == 50.0
    assert resize.p99_ms == 50.0


def test_average_init(resize: FunctionStats) -> None:
    assert resize.avg_init_ms == pytest.approx(75.0)


def test_gb_seconds_and_cost(resize: FunctionStats) -> None:
    assert resize.gb_seconds == pytest.approx(0.126)
    # 5 requests * 0.5 + 0.126 GB-s * 1.0; the throttled call is free.
    assert resize.cost == pytest.approx(2.626)
    assert resize.price_table == "round"


def test_cost_at_aws_prices() -> None:
    stats = function_stats(RECORDS, AWS_LAMBDA_X86)[1]

    # 5 * 0.0000002 + 0.126 * 0.0000166667
    assert stats.cost == pytest.approx(0.0000031000042, rel=1e-9)


def test_throttled_only_function() -> None:
    idle = function_stats(RECORDS, ROUND_PRICES)[0]

    assert idle.invocations == 0
    assert idle.throttles == 1
    assert idle.errors == 0
    assert idle.p50_ms is None
    assert idle.p99_ms is None
    assert idle.avg_init_ms is None
    assert idle.gb_seconds == 0.0
    assert idle.cost == 0.0


def test_no_records() -> None:
    assert function_stats([], ROUND_PRICES) == []


def test_to_dict_is_json(resize: FunctionStats) -> None:
    as_dict = json.loads(json.dumps(resize.to_dict()))

    assert as_dict["function"] == "resize"
    assert as_dict["invocations"] == 5
    assert as_dict["p50_ms"] == 30.0
    assert as_dict["cost"] == pytest.approx(2.626)
    assert set(as_dict) == {
        "function",
        "invocations",
        "errors",
        "throttles",
        "cold_starts",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "avg_init_ms",
        "gb_seconds",
        "cost",
        "price_table",
    }


@pytest.mark.parametrize(
    ("percent", "expected"),
    [(1, 1.0), (7, 7.0), (50, 50.0), (95, 95.0), (99, 99.0), (100, 100.0)],
)
def test_nearest_rank_on_hundred_values(percent: float, expected: float) -> None:
    values = [float(value) for value in range(1, 101)]

    assert nearest_rank(values, percent) == expected


def test_nearest_rank_single_value() -> None:
    assert nearest_rank([4.5], 99) == 4.5


def test_nearest_rank_empty() -> None:
    assert nearest_rank([], 50) is None


@pytest.mark.parametrize("percent", [0, -5, 100.5])
def test_nearest_rank_rejects_percent(percent: float) -> None:
    with pytest.raises(ValueError, match="percent"):
        nearest_rank([1.0], percent)


def test_by_version_gives_each_version_a_row() -> None:
    canary = _record("rel", Outcome.ERROR, 10.0, 10)
    stable = [
        dataclasses.replace(_record("rel", Outcome.SUCCESS, float(index), 1), version="4", request_id=f"s{index}")
        for index in range(3)
    ]

    rows = {row.function: row for row in function_stats([canary, *stable], ROUND_PRICES, by_version=True)}
    together = function_stats([canary, *stable], ROUND_PRICES)

    assert sorted(rows) == ["rel:1", "rel:4"]
    assert (rows["rel:1"].invocations, rows["rel:1"].errors) == (1, 1)
    assert (rows["rel:4"].invocations, rows["rel:4"].errors) == (3, 0)
    assert [(row.function, row.invocations) for row in together] == [("rel", 4)]
