"""One trace from an HTTP request, through a stream record, table change or upload, to the function it triggers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.observability.test_tracing_live import (
    CALLER_SPAN_ID,
    TRACE_ID,
    TRACEPARENT,
    Collector,
    collector,
    wait_for_spans,
)

# Re-exported so that pytest finds the imported fixture by its name.
__all__ = ["collector"]

APP = """
from squall import Bucket, Stream, Table


def put_record(event, context):
    Stream("clicks").put(b"click", partition_key="user-1")
    return {"written": True}


def put_item(event, context):
    Table("users").put({"id": "user-1", "name": "Ada"})
    return {"written": True}


def upload(event, context):
    Bucket("uploads").put("images/cat.png", b"not really a png")
    return {"written": True}


def consume(event, context):
    return {"got": len(event["Records"])}
"""

MANIFEST = """service: traced-{kind}
resources:
  streams:
    clicks: {{}}
  tables:
    users: {{partition_key: id}}
  buckets:
    uploads: {{}}
functions:
  produce:
    handler: app.{producer}
    events:
      - http: {{method: POST, path: /produce}}
  consume:
    handler: app.consume
    events:
      - {trigger}
"""

# For each kind of write: the producer's handler and the consumer's trigger.
CASES = {
    "stream": ("put_record", "stream: {name: clicks, starting_position: trim_horizon}"),
    "table": ("put_item", "table_stream: {table: users, starting_position: trim_horizon}"),
    "object": ("upload", "objects: {bucket: uploads, events: [created]}"),
}


def start(serve: Any, tmp_path: Path, collector_url: str, kind: str) -> Any:
    """Start a traced server whose `produce` writes the kind's data and whose `consume` it triggers."""
    producer, trigger = CASES[kind]
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "squall.yml").write_text(MANIFEST.format(kind=kind, producer=producer, trigger=trigger))
    # A short export delay, so the batch arrives well within the poll limit.
    environment = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector_url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    return serve(app, "--no-watch", env=environment)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_write_carries_trace_to_trigger(
    kind: str, serve: Any, collector: tuple[Collector, str], tmp_path: Path
) -> None:
    received, url = collector
    server = start(serve, tmp_path, url, kind)

    response = httpx.post(f"{server.endpoint}/produce", headers={"traceparent": TRACEPARENT}, timeout=30)

    assert response.status_code == 200
    spans = wait_for_spans(received, {"POST /produce", "invoke produce", "invoke consume"})
    assert spans["invoke consume"]["trace_id"] == TRACE_ID
    assert spans["invoke produce"]["parent_span_id"] == spans["POST /produce"]["span_id"]
    # The write carried the producer's TRACEPARENT, so the consumer hangs under the producer's invocation.
    assert spans["invoke consume"]["parent_span_id"] == spans["invoke produce"]["span_id"]


def test_upload_header_carries_trace(serve: Any, collector: tuple[Collector, str], tmp_path: Path) -> None:
    received, url = collector
    server = start(serve, tmp_path, url, "object")

    # A client outside any function sends the traceparent header, which names the parent span.
    response = httpx.put(
        f"{server.endpoint}/_squall/api/objects/uploads/images/dog.png",
        content=b"woof",
        headers={"traceparent": TRACEPARENT},
        timeout=30,
    )

    assert response.status_code == 200
    spans = wait_for_spans(received, {"invoke consume"})
    assert spans["invoke consume"]["trace_id"] == TRACE_ID
    assert spans["invoke consume"]["parent_span_id"] == CALLER_SPAN_ID
