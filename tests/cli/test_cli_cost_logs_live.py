"""`squall logs --field` and `squall cost` against a real `squall up`, run as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

APP = Path(__file__).resolve().parent / "apps" / "json_logs"
WAIT_S = 20.0
POLL_INTERVAL_S = 0.05
ORDERS = [(1, False), (2, True), (3, False), (4, True)]


def wait_for(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    """Poll `condition` until it is true or `timeout_s` passes, because the store writes in the background."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL_INTERVAL_S)
    return condition()


@pytest.fixture
def server(serve: Any, tmp_path: Path) -> Any:
    folder = tmp_path / "app"
    shutil.copytree(APP, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return serve(folder, "--no-watch")


def invoke(endpoint: str, function: str, payload: dict[str, Any]) -> str:
    answer = httpx.post(f"{endpoint}/2015-03-31/functions/{function}/invocations", json=payload, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.headers["x-amzn-requestid"]


def squall(endpoint: str, cwd: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "squall", *arguments, "--endpoint", endpoint],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def stored_entries(endpoint: str, function: str) -> int:
    answer = httpx.get(f"{endpoint}/_squall/api/logs", params={"function": function}, timeout=10)
    return len(answer.json().get("entries", []))


def billed_requests(endpoint: str) -> int:
    answer = httpx.get(f"{endpoint}/_squall/api/cost", params={"since": 0}, timeout=10)
    return int(answer.json()["total"]["requests"])


def test_logs_field_returns_only_matching(server: Any, tmp_path: Path) -> None:
    failed = [invoke(server.endpoint, "orders", {"order": order, "fail": fail}) for order, fail in ORDERS if fail]
    for order, fail in ORDERS:
        if not fail:
            invoke(server.endpoint, "orders", {"order": order})
    assert wait_for(lambda: stored_entries(server.endpoint, "orders") >= len(ORDERS)), "logs never reached the store"

    result = squall(server.endpoint, tmp_path, "logs", "orders", "--field", "level=ERROR", "--output", "json")

    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(entry["request_id"] for entry in entries) == sorted(failed)
    for entry in entries:
        assert len(entry["matches"]) == 1
        line = json.loads(entry["matches"][0])
        assert line["level"] == "ERROR"
        assert line["message"] == "payment failed"
        assert f"START RequestId: {entry['request_id']}" in entry["text"]


def test_logs_filter_and_nested_field(server: Any, tmp_path: Path) -> None:
    for order, fail in ORDERS:
        invoke(server.endpoint, "orders", {"order": order, "fail": fail})
    assert wait_for(lambda: stored_entries(server.endpoint, "orders") >= len(ORDERS)), "logs never reached the store"

    accepted = squall(server.endpoint, tmp_path, "logs", "orders", "--filter", "payment accepted")
    order_three = squall(server.endpoint, tmp_path, "logs", "orders", "--field", "order.id=3", "--output", "json")

    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.count("START RequestId:") == 2
    assert "payment failed" not in accepted.stdout
    assert order_three.returncode == 0, order_three.stderr
    [entry] = [json.loads(line) for line in order_three.stdout.splitlines()]
    assert json.loads(entry["matches"][0])["order"] == {"id": 3}


def test_cost_by_function_csv(server: Any, tmp_path: Path) -> None:
    for order, fail in ORDERS:
        invoke(server.endpoint, "orders", {"order": order, "fail": fail})
    invoke(server.endpoint, "thumbs", {})
    assert wait_for(lambda: billed_requests(server.endpoint) >= len(ORDERS) + 1), "records never reached the store"

    result = squall(server.endpoint, tmp_path, "cost", "--by", "function", "--output", "csv")

    assert result.returncode == 0, result.stderr
    rows = {row["function"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert set(rows) == {"orders", "thumbs"}
    assert int(rows["orders"]["requests"]) == len(ORDERS)
    assert int(rows["thumbs"]["requests"]) == 1
    for row in rows.values():
        assert float(row["gb_seconds"]) > 0
        assert float(row["provisioned_gb_seconds"]) == 0
        assert float(row["aws_lambda_usd"]) > 0
        # Without provisioned instances the default table and AWS agree.
        assert float(row["cost_usd"]) == pytest.approx(float(row["aws_lambda_usd"]))
