"""The dashboard's pages, JSON and files over HTTP, on the gateway app with a fake platform."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from squall.gateway.app import GatewayApp
from squall.metering.records import LogEntry, ProvisionedUsage
from squall.services.hub import ServiceHub
from squall.store.sqlite import SqliteStore
from tests.dashboard.conftest import HANDLER_OUTPUT, TOKEN, fake_platform


async def client_for(platform: SimpleNamespace, token: str | None) -> httpx.AsyncClient:
    app = GatewayApp(platform, token)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://squall.test")


@pytest.fixture
async def http(store: SqliteStore, hub: ServiceHub) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(fake_platform(store, hub), None) as client:
        yield client


DASHBOARD_PATHS = ["/ui", "/ui/", "/ui/data/overview", "/ui/functions/resize", "/ui/data/functions/resize", "/ui/static/dashboard.js"]


@pytest.mark.parametrize("path", DASHBOARD_PATHS)
@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": f"Bearer {TOKEN}"}, 200)],
)
async def test_dashboard_needs_token(store: SqliteStore, path: str, headers: dict[str, str], status: int) -> None:
    async with await client_for(fake_platform(store, None), TOKEN) as client:
        answer = await client.get(path, headers=headers)

    assert answer.status_code == status
    if status == 401:
        assert "token" in answer.json()["error"]["message"]


async def test_path_beginning_with_ui_goes_to_functions(store: SqliteStore) -> None:
    async with await client_for(fake_platform(store, None), TOKEN) as client:
        answer = await client.get("/uikit")

    # No token needed and no dashboard: the router returns API Gateway's 404 for an unknown route.
    assert answer.status_code == 404
    assert answer.json() == {"message": "Not Found"}


async def test_overview_lists_functions(http: httpx.AsyncClient, stored: dict[str, float]) -> None:
    answer = await http.get("/ui")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    page = answer.text
    assert 'href="/ui/functions/resize"' in page
    assert "POST /resize" in page
    assert "queue uploads" in page
    assert '<span class="status warm">warm</span>' in page
    assert '<span class="status throttled">throttled</span>' in page
    assert 'data-source="/ui/data/overview?window=1h"' in page
    assert "/ui/static/uPlot.iife.min.js" in page
    assert 'data-chart="activity"' in page


async def test_links_keep_chosen_window(http: httpx.AsyncClient, stored: dict[str, float]) -> None:
    overview = (await http.get("/ui", params={"window": "6h"})).text
    function = (await http.get("/ui/functions/resize", params={"window": "6h"})).text

    assert 'href="/ui/functions/resize?window=6h"' in overview
    assert '<a href="/ui?window=6h" aria-current="page">6h</a>' in overview
    assert 'data-source="/ui/data/functions/resize?window=6h"' in function
    assert '<a href="/ui?window=6h">Functions</a>' in function


async def test_overview_data_counts_window(http: httpx.AsyncClient, stored: dict[str, float]) -> None:
    answer = await http.get("/ui/data/overview", params={"window": "15m"})

    assert answer.status_code == 200
    data = answer.json()
    assert data["window"] == "15m"
    series = data["series"]
    assert len(series["time"]) == 60
    assert sum(series["invocations"]) == 2
    assert sum(series["errors"]) == 1
    assert sum(series["throttles"]) == 1
    assert sum(series["cold_starts"]) == 1
    assert sum(series["cost_usd"]) > 0
    functions = {row["name"]: row for row in data["functions"]}
    assert functions["resize"]["status"] == "warm"
    assert functions["resize"]["triggers"] == ["queue uploads"]
    assert functions["resize"]["stats"]["invocations"] == 2
    assert functions["closed"]["status"] == "throttled"
    assert functions["closed"]["stats"] is None
    assert set(data["html"]) == {"status", "functions", "queues", "streams", "problems"}


async def test_function_cost_includes_provisioned(http: httpx.AsyncClient, store: SqliteStore) -> None:
    # One provisioned 1 GB instance for 100 s, and no invocation.
    now = time.time()
    store.add_usage([ProvisionedUsage("closed", now - 200, now - 100, 1, 1024)])

    data = (await http.get("/ui/data/overview", params={"window": "15m"})).json()
    page = (await http.get("/ui/functions/closed")).text

    functions = {row["name"]: row for row in data["functions"]}
    # 100 GB-seconds at AWS's provisioned price, as `squall cost` prices them.
    assert functions["closed"]["cost"] == pytest.approx(100 * 0.0000041667)
    assert functions["closed"]["stats"] is None
    assert "No invocation in this window; its provisioned instances cost" in page


async def test_overview_shows_queues_and_streams(http: httpx.AsyncClient, hub: ServiceHub) -> None:
    queues = hub.store("queues")
    queues.create_queue("uploads")
    queues.send("uploads", "cat.png")
    queues.send("uploads", "dog.png")
    hub.store("streams").create_stream("clicks", shard_count=2)

    data = (await http.get("/ui/data/overview")).json()

    assert [(queue["name"], queue["depth"], queue["visible"]) for queue in data["queues"]] == [("uploads", 2, 2)]
    assert data["queues"][0]["oldest_age_s"] >= 0
    assert data["streams"] == [{"name": "clicks", "shards": 2, "retention_h": 24}]
    assert data["consumers"] == [
        {"function": "resize", "source": "clicks", "shard": "shardId-000000000000", "iterator_age_s": 12.5}
    ]
    assert "uploads" in data["html"]["queues"]
    assert "12.5 s" in data["html"]["streams"]


async def test_overview_without_queue_database(http: httpx.AsyncClient, hub: ServiceHub) -> None:
    answer = await http.get("/ui/data/overview")

    assert answer.json()["queues"] == []
    # Looking must not create the queue database of a server that never used queues.
    assert not (hub.data_dir / "queues.db").exists()


async def test_function_page_shows_logs(http: httpx.AsyncClient, stored: dict[str, float]) -> None:
    answer = await http.get("/ui/functions/resize")

    assert answer.status_code == 200
    page = answer.text
    assert HANDLER_OUTPUT in page
    assert 'data-request-id="req-cold"' in page
    assert "cold start, init 3.0 ms" in page
    assert "No log: a throttled call never ran." in page
    # Handler output is text, never markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in page
    assert 'data-chart="cold_starts"' in page


async def test_function_data_lists_recent_newest_first(http: httpx.AsyncClient, stored: dict[str, float]) -> None:
    data = (await http.get("/ui/data/functions/resize")).json()

    assert [row["request_id"] for row in data["recent"]] == ["req-throttled", "req-error", "req-cold"]
    assert [row["outcome"] for row in data["recent"]] == ["throttled", "error", "success"]
    assert [row["version"] for row in data["recent"]] == ["$LATEST", "2", "$LATEST"]
    assert "version 2" in data["html"]["recent"]
    assert data["recent"][0]["log"] is None
    assert HANDLER_OUTPUT in data["recent"][2]["log"]
    assert data["function"]["stats"]["errors"] == 1
    assert data["function"]["stats"]["throttles"] == 1
    assert data["consumers"][0]["source"] == "clicks"
    assert HANDLER_OUTPUT in data["html"]["recent"]


async def test_removed_function_with_logs_still_shown(http: httpx.AsyncClient, store: SqliteStore) -> None:
    store.add_log(LogEntry("retired", "req-old", time.time() - 5, "START RequestId: req-old\nbye\n"))
    assert store.flush(30)

    data = (await http.get("/ui/data/functions/retired")).json()

    assert data["function"]["status"] == "removed"
    assert data["recent"][0]["log"].endswith("bye\n")


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/ui/data/functions/missing", 404, "FunctionNotFound"),
        ("/ui/data/elsewhere", 404, "NotFound"),
        ("/ui/data/overview?window=2d", 400, "InvalidParameterValue"),
        ("/ui/static/secrets.txt", 404, "NotFound"),
        ("/ui/static/%2E%2E%2Fhandler.py", 404, "NotFound"),
    ],
)
async def test_data_errors_are_json(http: httpx.AsyncClient, path: str, status: int, kind: str) -> None:
    answer = await http.get(path)

    assert answer.status_code == status
    assert answer.json()["error"]["type"] == kind


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/ui/functions/missing", 404, "function not found: &#x27;missing&#x27;"),
        ("/ui/nowhere", 404, "/ui/functions/NAME"),
        ("/ui?window=forever", 400, "expected one of 15m, 1h, 6h, 24h, 7d"),
    ],
)
async def test_page_errors_are_html(http: httpx.AsyncClient, path: str, status: int, text: str) -> None:
    answer = await http.get(path)

    assert answer.status_code == status
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert text in answer.text
    assert 'href="/ui"' in answer.text


@pytest.mark.parametrize(
    ("name", "content_type", "start"),
    [
        ("uPlot.iife.min.js", "text/javascript; charset=utf-8", b"/*! https://github.com/leeoniya/uPlot"),
        ("uPlot.min.css", "text/css; charset=utf-8", b".uplot"),
        ("uPlot.LICENSE", "text/plain; charset=utf-8", b"The MIT License"),
        ("dashboard.js", "text/javascript; charset=utf-8", b"//"),
        ("dashboard.css", "text/css; charset=utf-8", b"/*"),
    ],
)
async def test_static_files_served(http: httpx.AsyncClient, name: str, content_type: str, start: bytes) -> None:
    answer = await http.get(f"/ui/static/{name}")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == content_type
    assert answer.content.startswith(start)
    assert int(answer.headers["content-length"]) == len(answer.content)


async def test_head_sends_headers_only(http: httpx.AsyncClient) -> None:
    get = await http.get("/ui")
    head = await http.head("/ui")

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_other_methods_rejected(http: httpx.AsyncClient, method: str) -> None:
    answer = await http.request(method, "/ui/data/overview")

    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"
    assert method in answer.json()["error"]["message"]


async def test_pages_load_nothing_from_elsewhere(http: httpx.AsyncClient, stored: dict[str, Any]) -> None:
    answer = await http.get("/ui/functions/resize")

    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "http://" not in answer.text.replace("http://squall.test", "")
    assert "https://" not in answer.text
    assert answer.headers["cache-control"] == "no-store"
