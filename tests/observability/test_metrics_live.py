"""`GET /metrics` on a real `squall up`: a success, an error and a throttle, instances and queues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

LATEST = "$LATEST"
REQUEST_TIMEOUT_S = 30.0
SERVICES_API = "/_squall/api/services/"

MANIFEST = """\
service: observed
functions:
  hello:
    handler: app.hello
    events:
      - http: {method: GET, path: /hello}
  fail:
    handler: app.fail
    events:
      - http: {method: GET, path: /fail}
  closed:
    handler: app.hello
    reserved_concurrency: 0
    events:
      - http: {method: GET, path: /closed}
resources:
  queues:
    jobs: {dead_letter: {queue: jobs-dlq, max_receive_count: 3}}
    jobs-dlq: {}
"""

HANDLERS = """\
def hello(event, context):
    return {"statusCode": 200, "body": "hello"}


def fail(event, context):
    raise ValueError("this handler always fails")
"""


def write_app(folder: Path) -> Path:
    folder.mkdir()
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "app.py").write_text(HANDLERS)
    return folder


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> Any:
    return samples.get((name, frozenset(labels.items())))


def test_metrics_after_invocations(serve: Any, tmp_path: Path) -> None:
    server = serve(write_app(tmp_path / "app"))

    with httpx.Client(base_url=server.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        statuses = {path: client.get(path).status_code for path in ("/hello", "/fail", "/closed")}
        sent = client.post(SERVICES_API + "queues/send", json={"queue": "jobs", "body": "job 1"})
        response = client.get("/metrics")

    assert statuses == {"/hello": 200, "/fail": 500, "/closed": 429}
    assert sent.status_code == 200
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = parse(response.text)

    hello = {"function": "hello", "version": LATEST}
    assert value(samples, "squall_invocations_total", **hello, trigger="http") == 1
    assert value(samples, "squall_cold_starts_total", **hello) == 1
    assert value(samples, "squall_invocation_duration_seconds_count", **hello) == 1
    assert value(samples, "squall_init_duration_seconds_count", **hello) == 1
    assert value(samples, "squall_gb_seconds_total", **hello) > 0
    assert value(samples, "squall_instances", **hello, state="idle") == 1
    assert value(samples, "squall_concurrent_executions", **hello) == 0

    fail = {"function": "fail", "version": LATEST}
    assert value(samples, "squall_invocations_total", **fail, trigger="http") == 1
    assert value(samples, "squall_invocation_errors_total", **fail, error_type="ValueError") == 1
    assert value(samples, "squall_invocation_errors_total", **hello, error_type="ValueError") is None

    closed = {"function": "closed", "version": LATEST}
    assert value(samples, "squall_throttles_total", **closed) == 1
    assert value(samples, "squall_invocations_total", **closed, trigger="http") is None
    assert value(samples, "squall_instances", **closed, state="busy") == 0

    assert value(samples, "squall_queue_messages", queue="jobs", state="visible") == 1
    assert value(samples, "squall_queue_messages", queue="jobs-dlq", state="visible") == 0
    assert value(samples, "squall_dead_letter_queue_messages", queue="jobs-dlq") == 0
    assert value(samples, "squall_dead_letter_queue_messages", queue="jobs") is None


def test_metrics_count_across_scrapes(serve: Any, tmp_path: Path) -> None:
    server = serve(write_app(tmp_path / "app"))

    with httpx.Client(base_url=server.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        first = parse(client.get("/metrics").text)
        for _ in range(3):
            assert client.get("/hello").status_code == 200
        second = parse(client.get("/metrics").text)

    hello = {"function": "hello", "version": LATEST}
    assert value(first, "squall_invocations_total", **hello, trigger="http") is None
    assert value(second, "squall_invocations_total", **hello, trigger="http") == 3
    assert value(second, "squall_cold_starts_total", **hello) == 1
    assert value(second, "squall_invocation_duration_seconds_count", **hello) == 3
