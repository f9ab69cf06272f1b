"""Cost reports: grouping, provisioned instance time and the AWS Lambda equivalent."""

from __future__ import annotations

import pytest

from squall.metering.cost import PROVISIONED_ROW, CostGrouping, cost_report
from squall.metering.pricing import (
    AWS_DURATION_ON_PROVISIONED_GB_SECOND,
    AWS_LAMBDA_X86,
    AWS_PROVISIONED_GB_SECOND,
    PriceTable,
)
from squall.metering.records import InvocationRecord, Outcome, ProvisionedUsage

DAY_1 = 1_700_006_400.0  # 2023-11-15T00:00:00Z
DAY_2 = DAY_1 + 86_400
FREE = PriceTable(per_gb_second=0.0, per_request=0.0, name="free")


def record(
    function: str = "resize",
    *,
    started_at: float = DAY_1 + 60,
    billed_ms: int = 1000,
    memory_mb: int = 1024,
    trigger: str = "http",
    outcome: Outcome = Outcome.SUCCESS,
) -> InvocationRecord:
    return InvocationRecord(
        request_id="r",
        function=function,
        version="$LATEST",
        trigger=trigger,
        started_at=started_at,
        duration_ms=float(billed_ms),
        billed_ms=billed_ms,
        memory_mb=memory_mb,
        max_memory_mb=40,
        init_ms=None,
        cold=False,
        outcome=outcome,
    )


def period(function: str = "resize", *, start: float = DAY_1, seconds: float = 60.0, instances: int = 2) -> ProvisionedUsage:
    return ProvisionedUsage(function, start, start + seconds, instances, memory_mb=1024)


def test_by_function_sums_and_prices() -> None:
    records = [record(), record(), record("thumb", billed_ms=500, memory_mb=512)]
    prices = PriceTable(per_gb_second=0.01, per_request=1.0, name="test")

    report = cost_report(records, [], CostGrouping.FUNCTION, prices)

    assert [row.key for row in report.rows] == ["resize", "thumb"]
    resize, thumb = report.rows
    assert resize.requests == 2
    assert resize.gb_seconds == pytest.approx(2.0)
    assert resize.cost == pytest.approx(2 * 1.0 + 2.0 * 0.01)
    assert thumb.gb_seconds == pytest.approx(0.25)
    assert report.total.requests == 3
    assert report.total.gb_seconds == pytest.approx(2.25)
    assert report.total.cost == pytest.approx(3 * 1.0 + 2.25 * 0.01)


def test_aws_price_without_provisioned() -> None:
    report = cost_report([record()] * 3, [], CostGrouping.FUNCTION, FREE)

    expected = 3 * AWS_LAMBDA_X86.per_request + 3.0 * AWS_LAMBDA_X86.per_gb_second
    assert report.rows[0].aws_cost == pytest.approx(expected)
    assert report.rows[0].cost == 0.0


def test_throttled_calls_are_free() -> None:
    report = cost_report([record(), record(outcome=Outcome.THROTTLED, billed_ms=0)], [], CostGrouping.FUNCTION, FREE)

    assert report.rows[0].requests == 1


def test_provisioned_time_priced_and_discounts_duration() -> None:
    # 2 instances x 60 s x 1 GB = 120 GB-s provisioned, covering all 3 GB-s of duration.
    report = cost_report([record()] * 3, [period()], CostGrouping.FUNCTION, AWS_LAMBDA_X86)
    row = report.rows[0]

    assert row.provisioned_gb_seconds == pytest.approx(120.0)
    assert row.cost == pytest.approx(
        3 * AWS_LAMBDA_X86.per_request + 3.0 * AWS_LAMBDA_X86.per_gb_second + 120.0 * AWS_PROVISIONED_GB_SECOND
    )
    assert row.aws_cost == pytest.approx(
        3 * AWS_LAMBDA_X86.per_request + 3.0 * AWS_DURATION_ON_PROVISIONED_GB_SECOND + 120.0 * AWS_PROVISIONED_GB_SECOND
    )


def test_duration_beyond_provisioned_at_on_demand_price() -> None:
    # 1 GB-s of provisioned time covers a quarter of 4 GB-s of duration.
    report = cost_report([record()] * 4, [period(seconds=1.0, instances=1)], CostGrouping.FUNCTION, FREE)

    duration = 1.0 * AWS_DURATION_ON_PROVISIONED_GB_SECOND + 3.0 * AWS_LAMBDA_X86.per_gb_second
    expected = 4 * AWS_LAMBDA_X86.per_request + duration + 1.0 * AWS_PROVISIONED_GB_SECOND
    assert report.rows[0].aws_cost == pytest.approx(expected)


def test_provisioned_of_other_day_no_discount() -> None:
    report = cost_report([record(started_at=DAY_2 + 5)], [period(start=DAY_1)], CostGrouping.DAY, FREE)

    by_day = {row.key: row for row in report.rows}
    assert set(by_day) == {"2023-11-15", "2023-11-16"}
    assert by_day["2023-11-16"].aws_cost == pytest.approx(AWS_LAMBDA_X86.per_request + AWS_LAMBDA_X86.per_gb_second)
    assert by_day["2023-11-15"].requests == 0
    assert by_day["2023-11-15"].provisioned_gb_seconds == pytest.approx(120.0)


def test_by_trigger_puts_provisioned_apart() -> None:
    records = [record(trigger="http"), record(trigger="queue"), record(trigger="queue")]

    report = cost_report(records, [period()], CostGrouping.TRIGGER, FREE)

    assert [(row.key, row.requests) for row in report.rows] == [(PROVISIONED_ROW, 0), ("http", 1), ("queue", 2)]
    assert report.rows[0].provisioned_gb_seconds == pytest.approx(120.0)
    assert report.total.provisioned_gb_seconds == pytest.approx(120.0)


def test_period_clipped_to_since() -> None:
    report = cost_report([], [period(seconds=60.0)], CostGrouping.FUNCTION, FREE, since=DAY_1 + 45)

    assert report.rows[0].provisioned_gb_seconds == pytest.approx(2 * 15.0)


def test_empty_report() -> None:
    report = cost_report([], [], CostGrouping.DAY, FREE)

    assert report.rows == ()
    assert report.total.requests == 0
    assert report.total.aws_cost == 0.0


def test_row_dict_names_grouping() -> None:
    report = cost_report([record()], [], CostGrouping.TRIGGER, FREE)

    assert report.rows[0].to_dict(CostGrouping.TRIGGER) == {
        "trigger": "http",
        "requests": 1,
        "gb_seconds": 1.0,
        "provisioned_gb_seconds": 0.0,
        "cost_usd": 0.0,
        "aws_lambda_usd": pytest.approx(AWS_LAMBDA_X86.per_request + AWS_LAMBDA_X86.per_gb_second),
    }


def test_grouping_parse_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="'week'.*function, day, trigger"):
        CostGrouping.parse("week")


def test_provisioned_price_validated() -> None:
    with pytest.raises(ValueError, match="per_provisioned_gb_second"):
        PriceTable(per_gb_second=0.0, per_request=0.0, name="bad", per_provisioned_gb_second=-1.0)


def test_row_dict_has_no_float_noise() -> None:
    # Three invocations of 100 ms at 1024 MB add up to 0.30000000000000004 GB-s as floats.
    records = [record(billed_ms=100) for _ in range(3)]
    report = cost_report(records, [], CostGrouping.FUNCTION, PriceTable(0.1, 0.0, "tenth"))

    row = report.rows[0].to_dict(CostGrouping.FUNCTION)

    assert repr(row["gb_seconds"]) == "0.3"
    assert repr(row["cost_usd"]) == "0.03"
