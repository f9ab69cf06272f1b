"""GET /_squall/api/cost and the search parameters of GET /_squall/api/logs, on a fake platform."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest

from squall.gateway.app import GatewayApp
from squall.gateway.router import Router
from squall.metering.pricing import AWS_LAMBDA_X86, AWS_PROVISIONED_GB_SECOND
from squall.metering.records import InvocationRecord, LogEntry, Outcome, ProvisionedUsage
from squall.store.sqlite import SqliteStore

T0 = 1_700_006_400.0  # 2023-11-15T00:00:00Z


@pytest.fixture
async def http(store: SqliteStore) -> AsyncIterator[httpx.AsyncClient]:
    dispatcher = SimpleNamespace(pools={"orders": object()}, services={}, function_name=lambda name: name)
    platform = SimpleNamespace(
        dispatcher=dispatcher, router=Router([]), async_invoker=None, hub=None, store=store, prices=AWS_LAMBDA_X86
    )
    app = GatewayApp(platform, None)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://squall.test") as client:
        yield client


def record(function: str, trigger: str, started_at: float, billed_ms: int = 1000) -> InvocationRecord:
    return InvocationRecord(
        request_id=f"{function}-{started_at}",
        function=function,
        version="$LATEST",
        trigger=trigger,
        started_at=started_at,
        duration_ms=float(billed_ms),
        billed_ms=billed_ms,
        memory_mb=1024,
        max_memory_mb=40,
        init_ms=None,
        cold=False,
        outcome=Outcome.SUCCESS,
    )


def json_entry(request_id: str, level: str, time: float) -> LogEntry:
    line = json.dumps({"level": level, "message": f"handled {request_id}"})
    return LogEntry("orders", request_id, time, f"START RequestId: {request_id}\n{line}\nEND RequestId: {request_id}\n")


@pytest.fixture
def usage(store: SqliteStore) -> SqliteStore:
    for item in (record("orders", "http", T0 + 10), record("orders", "queue", T0 + 20), record("thumbs", "http", T0 + 86_400)):
        store.add_record(item)
    assert store.flush(30)
    store.add_usage([ProvisionedUsage("orders", T0, T0 + 60, 1, 1024)])
    return store


@pytest.fixture
def logs(store: SqliteStore) -> SqliteStore:
    for index, level in enumerate(["INFO", "ERROR", "INFO", "ERROR"]):
        store.add_log(json_entry(f"r{index}", level, T0 + index))
    assert store.flush(30)
    return store


async def test_cost_by_function(http: httpx.AsyncClient, usage: SqliteStore) -> None:
    answer = await http.get("/_squall/api/cost", params={"since": T0 - 1, "by": "function"})

    assert answer.status_code == 200
    body = answer.json()
    assert body["by"] == "function"
    assert [row["function"] for row in body["rows"]] == ["orders", "thumbs"]
    orders = body["rows"][0]
    assert orders["requests"] == 2
    assert orders["gb_seconds"] == pytest.approx(2.0)
    assert orders["provisioned_gb_seconds"] == pytest.approx(60.0)
    assert orders["cost_usd"] == pytest.approx(
        2 * AWS_LAMBDA_X86.per_request + 2.0 * AWS_LAMBDA_X86.per_gb_second + 60.0 * AWS_PROVISIONED_GB_SECOND
    )
    assert orders["aws_lambda_usd"] < orders["cost_usd"]  # duration on provisioned instances costs less on AWS
    assert body["total"]["requests"] == 3
    assert body["price"]["name"] == AWS_LAMBDA_X86.name
    assert body["aws_price"]["per_provisioned_gb_second"] == AWS_PROVISIONED_GB_SECOND


@pytest.mark.parametrize(
    ("grouping", "keys"),
    [("day", ["2023-11-15", "2023-11-16"]), ("trigger", ["(provisioned instances)", "http", "queue"])],
)
async def test_cost_groupings(http: httpx.AsyncClient, usage: SqliteStore, grouping: str, keys: list[str]) -> None:
    answer = await http.get("/_squall/api/cost", params={"by": grouping})

    assert answer.status_code == 200
    assert [row[grouping] for row in answer.json()["rows"]] == keys


async def test_cost_since_excludes_older(http: httpx.AsyncClient, usage: SqliteStore) -> None:
    answer = await http.get("/_squall/api/cost", params={"since": T0 + 3600})

    assert [row["function"] for row in answer.json()["rows"]] == ["thumbs"]


async def test_cost_custom_prices(http: httpx.AsyncClient, usage: SqliteStore) -> None:
    params = {"per_gb_second": "1", "per_request": "0", "per_provisioned_gb_second": "0"}
    answer = await http.get("/_squall/api/cost", params=params)

    body = answer.json()
    assert body["price"]["name"] == "custom"
    assert body["total"]["cost_usd"] == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [({"by": "week"}, "'week'"), ({"per_request": "-1"}, "per_request"), ({"since": "yesterday"}, "since")],
)
async def test_cost_rejects_invalid(http: httpx.AsyncClient, params: dict[str, str], fragment: str) -> None:
    answer = await http.get("/_squall/api/cost", params=params)

    assert answer.status_code == 400
    assert fragment in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "query parameter since: expected a Unix time in seconds, such as 1767225600, got 'yesterday'"),
        ({"limit": "abc"}, "query parameter limit: expected a whole number of entries, got 'abc'"),
    ],
)
async def test_logs_number_error_says_unit(http: httpx.AsyncClient, logs: SqliteStore, params: dict[str, str], message: str) -> None:
    answer = await http.get("/_squall/api/logs", params={"function": "orders", **params})

    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == message


async def test_logs_field_filter(http: httpx.AsyncClient, logs: SqliteStore) -> None:
    answer = await http.get("/_squall/api/logs", params={"function": "orders", "field": "level=ERROR"})

    assert answer.status_code == 200
    entries = answer.json()["entries"]
    assert [entry["request_id"] for entry in entries] == ["r1", "r3"]
    assert [json.loads(line)["level"] for entry in entries for line in entry["matches"]] == ["ERROR", "ERROR"]


async def test_logs_repeated_fields_all_required(http: httpx.AsyncClient, logs: SqliteStore) -> None:
    params = [("function", "orders"), ("field", "level=ERROR"), ("field", "message=handled r3")]
    answer = await http.get("/_squall/api/logs", params=params)

    assert [entry["request_id"] for entry in answer.json()["entries"]] == ["r3"]


async def test_logs_contains_and_time_range(http: httpx.AsyncClient, logs: SqliteStore) -> None:
    params = {"function": "orders", "contains": "handled", "since": T0 + 1, "until": T0 + 2}
    answer = await http.get("/_squall/api/logs", params=params)

    entries = answer.json()["entries"]
    assert [entry["request_id"] for entry in entries] == ["r1", "r2"]
    assert entries[0]["matches"] == [json.dumps({"level": "ERROR", "message": "handled r1"})]


async def test_logs_without_filter_have_no_matches(http: httpx.AsyncClient, logs: SqliteStore) -> None:
    answer = await http.get("/_squall/api/logs", params={"function": "orders"})

    assert all("matches" not in entry for entry in answer.json()["entries"])


async def test_logs_no_match_of_known_function_is_empty(http: httpx.AsyncClient, store: SqliteStore) -> None:
    store.add_log(LogEntry("gone", "r9", T0, "START RequestId: r9\nbye\n"))
    assert store.flush(30)

    for function in ("orders", "gone"):
        answer = await http.get("/_squall/api/logs", params={"function": function, "field": "level=FATAL"})
        assert answer.status_code == 200
        assert answer.json() == {"entries": []}


async def test_logs_unknown_function_with_filter_is_404(http: httpx.AsyncClient, logs: SqliteStore) -> None:
    answer = await http.get("/_squall/api/logs", params={"function": "nope", "field": "level=ERROR"})

    assert answer.status_code == 404
    assert "'nope'" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"field": "level"}, "KEY=VALUE"),
        ({"field": "..=x"}, "KEY=VALUE"),
        ({"since": T0 + 5, "until": T0}, "since must not be after until"),
        ({"until": "later"}, "until"),
    ],
)
async def test_logs_rejects_invalid(http: httpx.AsyncClient, params: dict[str, object], fragment: str) -> None:
    answer = await http.get("/_squall/api/logs", params={"function": "orders", **params})

    assert answer.status_code == 400
    assert fragment in answer.json()["error"]["message"]
