"""Duration parsing and number formatting of the command line."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import Result

from cli_fakes import FakeApi
from squall.cli_output import (
    format_function_error,
    format_significant,
    format_usd,
    format_usd_column,
    parse_duration,
    parse_time_point,
)

Run = Callable[..., Result]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), (" 5M ", 300)],
)
def test_parse_duration_valid(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "1.5h", "-1m", "10 m", "1w", "0s"])
def test_parse_duration_invalid_quotes_value(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)

    assert repr(text) in str(caught.value)


@pytest.mark.parametrize("text", ["0s", "0m0s"])
def test_time_point_of_zero_duration_says_why(text: str) -> None:
    with pytest.raises(ValueError, match=f"invalid time '{text}': a duration before now must be longer than zero"):
        parse_time_point(text, now=1000.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"), (0.000125, "0.000125"), (0.0000002083, "0.000000208"), (0.0134, "0.0134"), (0.5, "0.500"),
        (1.0, "1.00"), (1234.5678, "1,234.57"), (0.9996, "1.00"), (0.009996, "0.0100"), (-0.0134, "-0.0134"),
    ],
)
def test_format_significant_keeps_small_numbers(value: float, expected: str) -> None:
    assert format_significant(value) == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(0.0000166667, "$0.0000167"), (0.0, "$0"), (0.36, "$0.36"), (-0.5, "-$0.50"), (0.009996, "$0.01"), (1234.5, "$1,234.50")],
)
def test_format_usd(amount: float, expected: str) -> None:
    assert format_usd(amount) == expected


def test_function_error_with_string_stack_trace() -> None:
    body = json.dumps(
        {"errorType": "KeyError", "errorMessage": "'name'", "stackTrace": '  File "app.py", line 3\n'}
    ).encode()

    assert format_function_error(body) == "  File \"app.py\", line 3\nKeyError: 'name'"


def test_function_error_body_not_json() -> None:
    assert format_function_error(b"segfault") == "the function failed: segfault"


def test_stats_narrow_terminal_keeps_digits(run: Run, api: FakeApi) -> None:
    row = {
        "name": "hello",
        "invocations": 123456,
        "errors": 0,
        "throttles": 0,
        "cold_starts": 1,
        "p50_ms": 0.42,
        "p95_ms": 0.9,
        "p99_ms": 12.5,
        "gb_seconds": 0.0154,
        "cost_usd": 0.0000002567,
    }
    api.respond(
        "GET",
        "/_squall/api/stats",
        200,
        {"functions": [row], "price": {"name": "default", "per_gb_second": 0.0000166667, "per_request": 0.0000002}},
    )

    result = run("stats", env={"COLUMNS": "40"})

    assert result.exit_code == 0
    assert "…" not in result.stdout
    assert "$0.000000257" in result.stdout
    assert "123,456" in result.stdout


def test_time_point_in_year_one_accepted() -> None:
    assert parse_time_point("0001-01-01T00:00:00+00:00", now=1000.0) == -62135596800
    assert abs(parse_time_point("0001-01-01", now=1000.0) + 62135596800) <= 86400


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        ([0.36, 1.2, 1.56], ["$0.36", "$1.20", "$1.56"]),
        ([0.00337, 0.001, 0.0025, 0.00687], ["$0.00337", "$0.00100", "$0.00250", "$0.00687"]),
        ([0.36, 0.0000006, 0.3600006], ["$0.360", "$0.000000600", "$0.360"]),
        ([0.0, 0.004], ["$0", "$0.00400"]),
    ],
)
def test_format_usd_column_one_style(amounts: list[float], expected: list[str]) -> None:
    assert format_usd_column(amounts) == expected
