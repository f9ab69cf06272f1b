"""`squall cost` and the search options of `squall logs`, against a fake API."""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Callable

import pytest
from click.testing import Result

from cli_fakes import FIXED_NOW, FakeApi

Run = Callable[..., Result]

COST = {
    "by": "function",
    "since": FIXED_NOW - 7 * 86400,
    "rows": [
        {
            "function": "orders",
            "requests": 1200,
            "gb_seconds": 150.0,
            "provisioned_gb_seconds": 86400.0,
            "cost_usd": 0.36,
            "aws_lambda_usd": 0.3,
        },
        {
            "function": "thumbs",
            "requests": 3,
            "gb_seconds": 0.000375,
            "provisioned_gb_seconds": 0.0,
            "cost_usd": 0.0000006,
            "aws_lambda_usd": 0.0000006,
        },
    ],
    "total": {
        "function": "total",
        "requests": 1203,
        "gb_seconds": 150.000375,
        "provisioned_gb_seconds": 86400.0,
        "cost_usd": 0.3600006,
        "aws_lambda_usd": 0.3000006,
    },
    "price": {
        "name": "aws-lambda-x86-us-east-1",
        "per_gb_second": 0.0000166667,
        "per_request": 0.0000002,
        "per_provisioned_gb_second": 0.0000041667,
    },
}
ERROR_LINE = '{"level": "ERROR", "message": "payment failed"}'
ENTRY = {
    "id": 4,
    "function": "orders",
    "request_id": "r4",
    "time": FIXED_NOW - 5,
    "text": f"START RequestId: r4\n{ERROR_LINE}\nEND RequestId: r4\n",
    "matches": [ERROR_LINE],
}


def test_cost_table_with_totals(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/cost", 200, COST)

    result = run("cost")

    assert result.exit_code == 0, result.output
    assert dict(api.last.url.params) == {"since": str(FIXED_NOW - 7 * 86400), "by": "function"}
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["FUNCTION", "REQUESTS", "GB-S", "PROVISIONED", "GB-S", "COST", "USD", "AWS", "LAMBDA", "USD"]
    # thumbs costs less than a cent, so each cost column shows significant digits throughout.
    orders = next(line for line in lines if line.startswith("orders"))
    assert orders.split() == ["orders", "1,200", "150.00", "86,400.00", "$0.360", "$0.300"]
    total = next(line for line in lines if line.startswith("total"))
    assert total.split() == ["total", "1,203", "150.00", "86,400.00", "$0.360", "$0.300"]
    assert "'aws-lambda-x86-us-east-1'" in result.stdout
    assert "$0.0000041667 per provisioned GB-s" in result.stdout


def test_cost_csv_full_precision(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/cost", 200, COST)

    result = run("cost", "--output", "csv")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["function", "requests", "gb_seconds", "provisioned_gb_seconds", "cost_usd", "aws_lambda_usd"]
    assert [row["function"] for row in rows] == ["orders", "thumbs"]
    assert float(rows[1]["gb_seconds"]) == 0.000375
    assert float(rows[1]["aws_lambda_usd"]) == 0.0000006
    assert "e-" not in result.stdout  # no scientific notation


def test_cost_json_is_server_report(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/cost", 200, COST)

    result = run("cost", "--output", "json")

    assert json.loads(result.stdout) == COST


def test_cost_sends_grouping_window_and_prices(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/cost", 200, {**COST, "by": "day", "rows": []})

    result = run(
        "cost", "--since", "2d", "--by", "day", "--price-gb-second", "0.5", "--price-request", "0",
        "--price-provisioned-gb-second", "0.25",
    )

    assert result.exit_code == 0, result.output
    params = api.last.url.params
    assert float(params["since"]) == FIXED_NOW - 2 * 86400
    assert params["by"] == "day"
    assert float(params["per_gb_second"]) == 0.5
    assert float(params["per_request"]) == 0
    assert float(params["per_provisioned_gb_second"]) == 0.25
    assert result.stdout == "no usage in the last 2d\n"


def test_cost_since_takes_iso_time(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/cost", 200, {**COST, "rows": []})

    result = run("cost", "--since", "2024-05-01T14:00:00+00:00")

    assert result.exit_code == 0, result.output
    assert float(api.last.url.params["since"]) == 1714572000.0
    assert result.stdout == "no usage since 2024-05-01T14:00:00+00:00\n"


def test_cost_since_rejects_bad_time(run: Run, api: FakeApi) -> None:
    result = run("cost", "--since", "last tuesday")

    assert result.exit_code == 2
    assert "'last tuesday'" in result.stderr
    assert "ISO 8601" in result.stderr


def test_cost_rejects_unknown_grouping(run: Run, api: FakeApi) -> None:
    result = run("cost", "--by", "week")

    assert result.exit_code == 2
    assert "'week'" in result.stderr
    assert api.requests == []


def test_logs_sends_filters_to_server(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/logs", 200, {"entries": [ENTRY]})

    result = run("logs", "orders", "--filter", "payment", "--field", "level=ERROR", "--field", "order.id=7")

    assert result.exit_code == 0, result.output
    params = api.last.url.params
    assert params["contains"] == "payment"
    assert params.get_list("field") == ["level=ERROR", "order.id=7"]
    assert result.stdout == ENTRY["text"]


def test_logs_output_json_one_object_per_entry(run: Run, api: FakeApi) -> None:
    second = {**ENTRY, "id": 5, "request_id": "r5"}
    api.respond("GET", "/_squall/api/logs", 200, {"entries": [ENTRY, second]})

    result = run("logs", "orders", "--field", "level=ERROR", "--output", "json")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [ENTRY, second]


def test_logs_until_accepts_iso_time(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/logs", 200, {"entries": []})

    result = run("logs", "orders", "--since", "2023-11-14T20:00:00+00:00", "--until", "10m")

    assert result.exit_code == 0, result.output
    expected_since = datetime.datetime(2023, 11, 14, 20, tzinfo=datetime.timezone.utc).timestamp()
    assert float(api.last.url.params["since"]) == expected_since
    assert float(api.last.url.params["until"]) == FIXED_NOW - 600


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--field", "level"], "KEY=VALUE"),
        (["--field", "=ERROR"], "KEY=VALUE"),
        (["--filter", ""], "non-empty"),
        (["--until", "tomorrow-ish"], "ISO 8601"),
        (["--since", "1h", "--until", "2h"], "earlier than --until"),
        (["--output", "yaml"], "'yaml'"),
    ],
)
def test_logs_rejects_invalid_options(run: Run, api: FakeApi, arguments: list[str], fragment: str) -> None:
    result = run("logs", "orders", *arguments)

    assert result.exit_code == 2
    assert fragment in result.stderr
    assert api.requests == []
