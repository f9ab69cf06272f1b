"""Object triggers on a real server: uploads and deletes become S3 events for the matching functions."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import S3Model

from squall.sdk import Client
from squall.sdk.objects import Bucket
from tests.conftest import CONFORMANCE
from tests.events.test_async_live import notes, wait_for

LAMBDA_EVENTS = CONFORMANCE / "lambda-events"

APP = '''
import json, os, time

def note(event, context):
    name = f"event-{time.time_ns()}-{context.aws_request_id}.json"
    # Written under a temporary name, so a reader never sees half a file.
    path = os.path.join(os.environ["OUT"], name)
    with open(path + ".tmp", "w") as file:
        json.dump(event, file)
    os.rename(path + ".tmp", path)
'''

MANIFEST = """service: objecttest
resources:
  buckets:
    uploads: {{}}
functions:
  images:
    handler: app.note
    environment: {{OUT: {images!r}}}
    events:
      - objects: {{bucket: uploads, events: [created], prefix: images/, suffix: .png}}
  removals:
    handler: app.note
    environment: {{OUT: {removals!r}}}
    events:
      - objects: {{bucket: uploads, events: [removed]}}
"""


@pytest.fixture
def server(serve: Any, tmp_path: Path) -> Any:
    images = tmp_path / "out" / "images"
    removals = tmp_path / "out" / "removals"
    images.mkdir(parents=True)
    removals.mkdir(parents=True)
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "squall.yml").write_text(MANIFEST.format(images=str(images), removals=str(removals)))
    running = serve(app)
    running.images = images
    running.removals = removals
    running.bucket = Bucket("uploads", Client(running.endpoint))
    return running


def received_keys(out: Path) -> list[str]:
    """Return the decoded object keys of every event a function wrote, sorted."""
    keys = [
        urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        for event in notes(out, "event")
        for record in event["Records"]
    ]
    return sorted(keys)


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Return the dotted path of every key in a JSON value, with list items as `[]`."""
    if isinstance(value, dict):
        paths = set()
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths |= {path} | key_paths(item, path)
        return paths
    if isinstance(value, list):
        return set().union(*(key_paths(item, f"{prefix}[]") for item in value)) if value else set()
    return set()


def test_only_matching_uploads_delivered(server: Any) -> None:
    uploads = {
        "images/a.png": b"first image",
        "images/b.jpg": b"not a png",
        "docs/c.png": b"outside the prefix",
        "images/my photo.png": b"a key with a space",
    }
    for key, data in uploads.items():
        server.bucket.put(key, data)
    # Changes are handed on in log order, so when this one arrives the earlier
    # ones have been handed on too, though a wrong one might still be running.
    server.bucket.put("images/zz-last.png", b"last")

    wait_for(lambda: "images/zz-last.png" in received_keys(server.images))

    assert received_keys(server.images) == ["images/a.png", "images/my photo.png", "images/zz-last.png"]
    assert received_keys(server.removals) == []


def test_event_parses_as_s3_notification(server: Any) -> None:
    data = b"a key with a space"
    server.bucket.put("images/my photo.png", data)

    events = wait_for(lambda: notes(server.images, "event"))

    assert len(events) == 1
    parsed = S3Model.model_validate(events[0])
    assert len(parsed.Records) == 1
    record = parsed.Records[0]
    assert record.eventName == "ObjectCreated:Put"
    assert record.s3.bucket.name == "uploads"
    assert record.s3.object.key == "images/my+photo.png"
    assert record.s3.object.size == len(data)
    assert record.s3.object.eTag == hashlib.md5(data).hexdigest()


@pytest.mark.parametrize(
    ("sample", "action"),
    [("s3Event.json", "put"), ("s3EventDeleteObject.json", "delete")],
)
def test_event_shape_matches_aws_sample(server: Any, sample: str, action: str) -> None:
    server.bucket.put("images/shape.png", b"shape")
    if action == "delete":
        server.bucket.delete("images/shape.png")
    out = server.images if action == "put" else server.removals

    events = wait_for(lambda: notes(out, "event"))

    expected = json.loads((LAMBDA_EVENTS / sample).read_text())
    assert key_paths(events[0]) == key_paths(expected)


def test_delete_invokes_removed_trigger(server: Any) -> None:
    server.bucket.put("images/gone.png", b"soon deleted")
    server.bucket.delete("images/gone.png")

    removed = wait_for(lambda: notes(server.removals, "event"))
    wait_for(lambda: received_keys(server.images))

    assert len(removed) == 1
    record = removed[0]["Records"][0]
    assert record["eventName"] == "ObjectRemoved:Delete"
    assert record["s3"]["object"]["key"] == "images/gone.png"
    assert "size" not in record["s3"]["object"]
    assert received_keys(server.images) == ["images/gone.png"]
    created = notes(server.images, "event")[0]["Records"][0]
    assert created["s3"]["object"]["sequencer"] < record["s3"]["object"]["sequencer"]
