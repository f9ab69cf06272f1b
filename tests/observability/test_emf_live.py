"""EMF metrics on a real `squall up`: a handler prints EMF lines and `GET /metrics` serves them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

REQUEST_TIMEOUT_S = 30.0
METRICS_WAIT_S = 10.0
POLL_INTERVAL_S = 0.05
POWERTOOLS_INSTALL_TIMEOUT_S = 300
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

MANIFEST = """\
service: shop
functions:
  create:
    handler: app.create
    events:
      - http: {method: GET, path: /create}
  quiet:
    handler: app.quiet
    events:
      - http: {method: GET, path: /quiet}
"""

HANDLERS = """\
import json
import time


def create(event, context):
    print("creating an item")
    print(json.dumps({
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": "ShopApp",
                "Dimensions": [["service"], ["service", "region"]],
                "Metrics": [
                    {"Name": "ItemCreated", "Unit": "Count"},
                    {"Name": "Latency", "Unit": "Milliseconds"},
                ],
            }],
        },
        "service": "shop",
        "region": "eu-west-1",
        "ItemCreated": [1.0, 1.0],
        "Latency": 12.5,
    }))
    print('{"_aws": {"CloudWatchMetrics": "not a list"}}')
    return {"statusCode": 200, "body": "created"}


def quiet(event, context):
    return {"statusCode": 200, "body": "quiet"}
"""

POWERTOOLS_MANIFEST = """\
service: powered
functions:
  order:
    handler: app.order
    environment:
      POWERTOOLS_METRICS_NAMESPACE: Orders
      POWERTOOLS_SERVICE_NAME: checkout
    events:
      - http: {method: GET, path: /order}
"""

POWERTOOLS_HANDLER = """\
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics()


@metrics.log_metrics
def order(event, context):
    metrics.add_metric(name="OrderPlaced", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="OrderValue", unit=MetricUnit.NoUnit, value=42)
    return {"statusCode": 200, "body": "ordered"}
"""


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scrape_until(client: httpx.Client, name: str, labels: dict[str, str], expected: float) -> tuple[str, Samples]:
    """Scrape until a sample has the expected value or METRICS_WAIT_S passes; return the last scrape."""
    deadline = time.monotonic() + METRICS_WAIT_S
    while True:
        response = client.get("/metrics")
        assert response.status_code == 200, response.text
        samples = parse(response.text)
        if value(samples, name, **labels) == expected or time.monotonic() > deadline:
            return response.text, samples
        time.sleep(POLL_INTERVAL_S)


def read_log_until(endpoint: str, function: str, expected: str) -> str:
    """Run `squall logs` until its output contains `expected` or METRICS_WAIT_S passes; return the last output."""
    deadline = time.monotonic() + METRICS_WAIT_S
    while True:
        printed = subprocess.run(
            [sys.executable, "-m", "squall", "logs", function, "--endpoint", endpoint],
            capture_output=True, text=True, timeout=REQUEST_TIMEOUT_S,
        )
        assert printed.returncode == 0, printed.stderr
        if expected in printed.stdout or time.monotonic() > deadline:
            return printed.stdout
        time.sleep(POLL_INTERVAL_S)


def test_printed_emf_served_on_metrics(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "app.py").write_text(HANDLERS)
    server = serve(folder, "--no-watch")

    with httpx.Client(base_url=server.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        for _ in range(2):
            assert client.get("/create").status_code == 200
        assert client.get("/quiet").status_code == 200
        text, samples = scrape_until(
            client, "squall_emf_shopapp_itemcreated_count", {"function": "create", "service": "shop"}, 4
        )

    items = "squall_emf_shopapp_itemcreated"
    by_service = {"function": "create", "service": "shop"}
    by_region = {**by_service, "region": "eu-west-1"}
    assert value(samples, items + "_count", **by_service) == 4
    assert value(samples, items + "_sum", **by_service) == 4
    assert value(samples, items + "_count", **by_region) == 4
    assert value(samples, items + "_sum", **by_region) == 4
    assert value(samples, "squall_emf_shopapp_latency_count", **by_service) == 2
    assert value(samples, "squall_emf_shopapp_latency_sum", **by_service) == 25
    assert "# TYPE squall_emf_shopapp_itemcreated summary" in text
    assert "# HELP squall_emf_shopapp_latency CloudWatch EMF metric Latency in namespace ShopApp, unit Milliseconds" in text
    assert value(samples, "squall_emf_invalid_documents_total", function="create") == 2
    assert value(samples, "squall_emf_invalid_documents_total", function="quiet") is None
    assert not [key for key in samples if key[0].startswith("squall_emf_") and ("function", "quiet") in key[1]]
    # The EMF lines stay in the function's log, as in CloudWatch Logs.
    assert '"ItemCreated": [1.0, 1.0]' in read_log_until(server.endpoint, "create", '"ItemCreated"')


def test_powertools_metrics_served(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "powered"
    folder.mkdir()
    (folder / "squall.yml").write_text(POWERTOOLS_MANIFEST)
    (folder / "app.py").write_text(POWERTOOLS_HANDLER)
    (folder / "requirements.txt").write_text("aws-lambda-powertools>=3.0\n")
    try:
        server = serve(folder, "--no-watch")
    except RuntimeError as error:
        # Without a reachable package index the deploy fails at its requirements.txt.
        if "requirements" not in str(error):
            raise
        pytest.skip(f"squall up could not install aws-lambda-powertools from requirements.txt: {error}")

    with httpx.Client(base_url=server.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        response = client.get("/order")
        assert response.status_code == 200, response.text
        _, samples = scrape_until(
            client, "squall_emf_orders_orderplaced_count", {"function": "order", "service": "checkout"}, 1
        )

    labels = {"function": "order", "service": "checkout"}
    assert value(samples, "squall_emf_orders_orderplaced_count", **labels) == 1
    assert value(samples, "squall_emf_orders_orderplaced_sum", **labels) == 1
    assert value(samples, "squall_emf_orders_ordervalue_sum", **labels) == 42
    assert value(samples, "squall_emf_invalid_documents_total", function="order") is None
