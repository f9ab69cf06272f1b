"""The cost of a time window: usage grouped by function, day or trigger, priced twice.

Each row is priced at a `PriceTable` (the server's, or prices the caller
passes) and at what AWS Lambda would bill for the same usage on x86 in
us-east-1, with AWS's rules for provisioned concurrency (see `pricing`).
"""

from __future__ import annotations

import enum
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from squall.metering.pricing import (
    AWS_DURATION_ON_PROVISIONED_GB_SECOND,
    AWS_LAMBDA_X86,
    AWS_PROVISIONED_GB_SECOND,
    PriceTable,
    gb_seconds,
)
from squall.metering.records import InvocationRecord, Outcome, ProvisionedUsage

# Provisioned instance time belongs to no trigger, so `--by trigger` shows it in a row of its own.
PROVISIONED_ROW = "(provisioned instances)"
GB_SECOND_DIGITS = 9
USD_DIGITS = 12


class CostGrouping(enum.Enum):
    """The unit of one row of a cost report."""

    FUNCTION = "function"
    DAY = "day"  # a calendar day in UTC, written YYYY-MM-DD
    TRIGGER = "trigger"  # "http", "invoke", "event", "queue", ...

    @classmethod
    def parse(cls, text: str) -> CostGrouping:
        """Return the grouping named `text`; raises ValueError listing the valid names."""
        try:
            return cls(text)
        except ValueError:
            valid = ", ".join(grouping.value for grouping in cls)
            raise ValueError(f"invalid grouping {text!r}: expected one of {valid}") from None


@dataclass(frozen=True, slots=True)
class CostRow:
    """Usage and cost of one function, day or trigger."""

    key: str
    requests: int  # invocations that ran; throttled calls are free, as on AWS
    gb_seconds: float  # billed duration x configured memory
    provisioned_gb_seconds: float  # configured provisioned instances x time x memory
    cost: float  # at the report's price table
    aws_cost: float  # AWS Lambda x86 us-east-1, without the free tier

    def to_dict(self, grouping: CostGrouping) -> dict[str, str | int | float]:
        """Return the row as JSON-ready data whose first key names the grouping.

        Sums of floats carry noise such as 0.30000000000000004. Rounding to
        nano GB-seconds and pico dollars removes it and keeps every digit a
        bill can show.
        """
        return {
            grouping.value: self.key,
            "requests": self.requests,
            "gb_seconds": round(self.gb_seconds, GB_SECOND_DIGITS),
            "provisioned_gb_seconds": round(self.provisioned_gb_seconds, GB_SECOND_DIGITS),
            "cost_usd": round(self.cost, USD_DIGITS),
            "aws_lambda_usd": round(self.aws_cost, USD_DIGITS),
        }


@dataclass(frozen=True, slots=True)
class CostReport:
    """Rows ordered by key, and their totals under the key "total"."""

    grouping: CostGrouping
    rows: tuple[CostRow, ...]
    total: CostRow
    prices: PriceTable


@dataclass(slots=True)
class _Sums:
    requests: int = 0
    gb_seconds: float = 0.0
    provisioned_gb_seconds: float = 0.0
    aws_cost: float = 0.0


def cost_report(
    records: Iterable[InvocationRecord],
    usage: Iterable[ProvisionedUsage],
    grouping: CostGrouping,
    prices: PriceTable,
    since: float | None = None,
) -> CostReport:
    """Group and price `records` and `usage`; periods of `usage` are clipped to start at `since`.

    AWS bills an invocation's duration at the lower provisioned price when it
    ran on a provisioned instance. Records do not say which instance ran
    them, so within each function and UTC day the duration is priced as if
    provisioned instances ran as much of it as their configured time allows
    (the smaller of the two), and the rest at the on-demand price.
    """
    ran = [record for record in records if record.outcome is not Outcome.THROTTLED]
    periods = [_clip(period, since) for period in usage]
    periods = [period for period in periods if period.ended_at > period.started_at]

    # Step 1: the share of each function-day's duration that provisioned instances cover.
    duration_by_cell: dict[tuple[str, str], float] = defaultdict(float)
    provisioned_by_cell: dict[tuple[str, str], float] = defaultdict(float)
    for record in ran:
        duration_by_cell[(record.function, utc_day(record.started_at))] += _gb_seconds(record)
    for period in periods:
        provisioned_by_cell[(period.function, utc_day(period.started_at))] += period.gb_seconds
    covered = {
        cell: min(1.0, provisioned_by_cell.get(cell, 0.0) / duration) if duration else 0.0
        for cell, duration in duration_by_cell.items()
    }

    # Step 2: add every record and period to its row.
    sums: dict[str, _Sums] = defaultdict(_Sums)
    for record in ran:
        row = sums[_key(record, grouping)]
        duration = _gb_seconds(record)
        share = covered[(record.function, utc_day(record.started_at))]
        row.requests += 1
        row.gb_seconds += duration
        row.aws_cost += AWS_LAMBDA_X86.per_request + duration * (
            share * AWS_DURATION_ON_PROVISIONED_GB_SECOND + (1 - share) * AWS_LAMBDA_X86.per_gb_second
        )
    for period in periods:
        row = sums[_period_key(period, grouping)]
        row.provisioned_gb_seconds += period.gb_seconds
        row.aws_cost += period.gb_seconds * AWS_PROVISIONED_GB_SECOND

    rows = tuple(_priced(key, sums[key], prices) for key in sorted(sums))
    total = _Sums(
        requests=sum(row.requests for row in rows),
        gb_seconds=math.fsum(row.gb_seconds for row in rows),
        provisioned_gb_seconds=math.fsum(row.provisioned_gb_seconds for row in rows),
        aws_cost=math.fsum(row.aws_cost for row in rows),
    )
    return CostReport(grouping, rows, _priced("total", total, prices), prices)


def utc_day(unix_time: float) -> str:
    """Return the UTC calendar day of `unix_time` as YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.gmtime(unix_time))


def _gb_seconds(record: InvocationRecord) -> float:
    return gb_seconds(record.billed_ms, record.memory_mb)


def _key(record: InvocationRecord, grouping: CostGrouping) -> str:
    if grouping is CostGrouping.FUNCTION:
        return record.function
    if grouping is CostGrouping.DAY:
        return utc_day(record.started_at)
    return record.trigger


def _period_key(period: ProvisionedUsage, grouping: CostGrouping) -> str:
    if grouping is CostGrouping.FUNCTION:
        return period.function
    if grouping is CostGrouping.DAY:
        # A period is a sampling interval of a minute or so; one that spans
        # midnight counts on the day it started.
        return utc_day(period.started_at)
    return PROVISIONED_ROW


def _clip(period: ProvisionedUsage, since: float | None) -> ProvisionedUsage:
    if since is None or period.started_at >= since:
        return period
    return ProvisionedUsage(
        function=period.function,
        started_at=min(since, period.ended_at),
        ended_at=period.ended_at,
        instances=period.instances,
        memory_mb=period.memory_mb,
    )


def _priced(key: str, sums: _Sums, prices: PriceTable) -> CostRow:
    return CostRow(
        key=key,
        requests=sums.requests,
        gb_seconds=sums.gb_seconds,
        provisioned_gb_seconds=sums.provisioned_gb_seconds,
        cost=prices.cost(sums.requests, sums.gb_seconds, sums.provisioned_gb_seconds),
        aws_cost=sums.aws_cost,
    )
