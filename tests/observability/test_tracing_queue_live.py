"""One trace from an HTTP request, through a queue message, to the function the message triggers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.observability.test_tracing_live import TRACE_ID, TRACEPARENT, Collector, collector, wait_for_spans

__all__ = ["collector"]  # the fixture, used by name

APP = """
import os

from squall import Queue


def produce(event, context):
    Queue("jobs").send("job")
    return {"sent": True}


def consume(event, context):
    return {"got": len(event["Records"])}
"""

MANIFEST = """service: traced-queue
resources:
  queues:
    jobs: {}
functions:
  produce:
    handler: app.produce
    events:
      - http: {method: POST, path: /produce}
  consume:
    handler: app.consume
    events:
      - queue: {name: jobs}
"""


def test_queue_message_carries_trace(serve: Any, collector: tuple[Collector, str], tmp_path: Path) -> None:
    received, url = collector
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "squall.yml").write_text(MANIFEST)
    server = serve(app, "--no-watch", env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": url, "OTEL_BSP_SCHEDULE_DELAY": "100"})

    response = httpx.post(f"{server.endpoint}/produce", headers={"traceparent": TRACEPARENT}, timeout=30)

    assert response.status_code == 200
    spans = wait_for_spans(received, {"POST /produce", "invoke produce", "invoke consume"})
    assert spans["invoke consume"]["trace_id"] == TRACE_ID
    # The consumer's invocation hangs under the producer's, whose context the message carried.
    assert spans["invoke consume"]["parent_span_id"] == spans["invoke produce"]["span_id"]
