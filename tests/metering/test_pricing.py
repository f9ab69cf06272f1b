"""Billing arithmetic and the default AWS price table."""

from __future__ import annotations

import dataclasses
import math

import pytest

from squall.metering.pricing import (
    AWS_LAMBDA_X86,
    DEFAULT_PRICES,
    PriceTable,
    billed_ms,
    gb_seconds,
)


@pytest.mark.parametrize(
    ("duration_ms", "expected"),
    [
        (0.0, 0),
        (0.2, 1),
        (1.0, 1),
        (1.0001, 2),
        (100.5, 101),
        (3.0000000000000004, 3),  # float noise, not a real extra millisecond
        (3.000001, 4),  # one nanosecond over is billed
    ],
)
def test_billed_ms_rounds_up(duration_ms: float, expected: int) -> None:
    assert billed_ms(duration_ms) == expected


@pytest.mark.parametrize("duration_ms", [-0.5, math.nan, math.inf])
def test_billed_ms_rejects_invalid_duration(duration_ms: float) -> None:
    with pytest.raises(ValueError, match="duration_ms"):
        billed_ms(duration_ms)


@pytest.mark.parametrize(
    ("billed", "memory_mb", "expected"),
    [
        (1000, 1024, 1.0),
        (100, 128, 0.0125),
        (1, 512, 0.0005),
        (0, 1024, 0.0),
    ],
)
def test_gb_seconds(billed: int, memory_mb: int, expected: float) -> None:
    assert gb_seconds(billed, memory_mb) == pytest.approx(expected, rel=1e-12)


def test_gb_seconds_matches_aws_example() -> None:
    # AWS's pricing example: 512 MB, 3 million runs of 1 s each, is 1,500,000 GB-s.
    assert 3_000_000 * gb_seconds(1000, 512) == pytest.approx(1_500_000)


@pytest.mark.parametrize(("billed", "memory_mb"), [(-1, 128), (10, -128)])
def test_gb_seconds_rejects_negative(billed: int, memory_mb: int) -> None:
    with pytest.raises(ValueError, match="expected an integer >= 0"):
        gb_seconds(billed, memory_mb)


def test_default_prices_are_aws_x86() -> None:
    assert DEFAULT_PRICES is AWS_LAMBDA_X86
    assert AWS_LAMBDA_X86.per_gb_second == 0.0000166667
    assert AWS_LAMBDA_X86.per_request * 1_000_000 == pytest.approx(0.20)


def test_price_table_cost() -> None:
    table = PriceTable(per_gb_second=2.0, per_request=0.5, name="test")

    assert table.cost(requests=4, gb_seconds=1.25) == pytest.approx(4.5)


def test_price_table_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        AWS_LAMBDA_X86.per_request = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("per_gb_second", "per_request", "name", "message"),
    [
        (-1.0, 0.0, "test", "per_gb_second"),
        (0.0, math.nan, "test", "per_request"),
        (0.0, 0.0, "", "name"),
    ],
)
def test_price_table_rejects_invalid(
    per_gb_second: float, per_request: float, name: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PriceTable(per_gb_second=per_gb_second, per_request=per_request, name=name)
