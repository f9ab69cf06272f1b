"""Triggered batches around a redeploy and a stop: a batch in flight finishes, and none starts once the server stops."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from squall.sdk import Client
from squall.sdk.queues import Queue
from squall.sdk.streams import Stream
from tests.events.test_async_live import notes, wait_for

NOTE = '''
import base64, json, os, time

def _note(kind, value):
    path = os.path.join(os.environ["OUT"], f"{kind}-{time.time_ns()}.json")
    with open(path + ".tmp", "w") as file:
        json.dump(value, file)
    os.rename(path + ".tmp", path)
'''

APP = NOTE + '''
def consume(event, context):
    bodies = [record["body"] for record in event["Records"]]
    _note("started", bodies)
    time.sleep(1.5)
    _note("done", bodies)
'''

MANIFEST = """service: slowqueue
resources:
  queues:
    jobs: {{visibility_timeout_s: 30}}
functions:
  consume:
    handler: app.consume
    timeout_s: 10
    environment: {{OUT: {out!r}}}
    events:
      - queue: {{name: jobs, batch_size: {batch_size}}}
"""


def write_app(tmp_path: Path, handlers: str, manifest: str, **fields: Any) -> tuple[Path, Path]:
    """Write a service folder, its manifest filled in with the notes folder and `fields`, and the notes folder."""
    out = tmp_path / "out"
    out.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(handlers)
    (app / "squall.yml").write_text(manifest.format(out=str(out), **fields))
    return app, out


def deploy(app: Path, endpoint: str) -> None:
    deployed = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(app), "--endpoint", endpoint],
        capture_output=True, text=True, timeout=60,
    )
    assert deployed.returncode == 0, deployed.stderr


def test_batch_in_flight_finishes_across_trigger_change(serve: Any, tmp_path: Path) -> None:
    app, out = write_app(tmp_path, APP, MANIFEST, batch_size=1)
    server = serve(app, "--no-watch")
    Queue("jobs", Client(server.endpoint)).send("first")
    wait_for(lambda: notes(out, "started"))

    (app / "squall.yml").write_text(MANIFEST.format(out=str(out), batch_size=2))
    deploy(app, server.endpoint)

    assert wait_for(lambda: notes(out, "done")) == [["first"]]
    logs = subprocess.run(
        [sys.executable, "-m", "squall", "logs", "consume", "--endpoint", server.endpoint],
        capture_output=True, text=True, timeout=60,
    )
    assert "Squall.Cancelled" not in logs.stdout
    # The message was handled once and deleted, so the new pollers find nothing to deliver again.
    assert notes(out, "started") == [["first"]]

    def queue_empty() -> bool:
        stats = Client(server.endpoint).call("queues", "get_queue", queue="jobs")["stats"]
        return stats["visible"] + stats["in_flight"] == 0

    assert wait_for(queue_empty)


STOP_APP = '''
import json, os, time

def consume(event, context):
    path = os.path.join(os.environ["OUT"], f"started-{time.time_ns()}.json")
    with open(path, "w") as file:
        json.dump({"at": time.time(), "bodies": [record["body"] for record in event["Records"]]}, file)

def slow(event, context):
    time.sleep(3)
    return "done"
'''

STOP_MANIFEST = """service: stopqueue
resources:
  queues:
    jobs: {{}}
functions:
  consume:
    handler: app.consume
    environment: {{OUT: {out!r}}}
    events:
      - queue: {{name: jobs}}
  slow:
    handler: app.slow
    timeout_s: 10
    events:
      - http: {{method: GET, path: /slow}}
"""


def running(endpoint: str, function: str) -> bool:
    """Tell whether an instance of the function is running a call."""
    functions = httpx.get(endpoint + "/_squall/api/functions", timeout=10).json()["functions"]
    return any(entry["name"] == function and entry["instances"]["busy"] == 1 for entry in functions)


def test_no_batch_starts_after_stop_signal(serve: Any, tmp_path: Path) -> None:
    app, out = write_app(tmp_path, STOP_APP, STOP_MANIFEST)
    server = serve(app, "--no-watch")
    # Visible only once the stop has begun, while the slow HTTP call keeps the server in its grace period.
    Queue("jobs", Client(server.endpoint)).send("late", delay_s=1)
    caller = threading.Thread(target=lambda: httpx.get(server.endpoint + "/slow", timeout=20))
    caller.start()
    assert wait_for(lambda: running(server.endpoint, "slow"))
    signalled = time.time()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=30)
    caller.join(timeout=30)

    assert [note for note in notes(out, "started") if note["at"] > signalled] == []
    restarted = serve(app, "--no-watch", data=server.data)
    delivered = wait_for(lambda: notes(out, "started"))
    assert delivered[0]["bodies"] == ["late"]
    assert restarted.endpoint


STREAM_APP = NOTE + '''
def consume(event, context):
    data = [base64.b64decode(record["kinesis"]["data"]).decode() for record in event["Records"]]
    _note("started", data)
    time.sleep(1.5)
    _note("done", data)
'''

STREAM_MANIFEST = """service: slowstream
resources:
  streams:
    clicks: {{shards: 1}}
functions:
  consume:
    handler: app.consume
    timeout_s: 10
    environment: {{OUT: {out!r}}}
    events:
      - stream: {{name: clicks, starting_position: trim_horizon, batch_size: {batch_size}}}
"""


def test_stream_batch_finishes_across_trigger_change(serve: Any, tmp_path: Path) -> None:
    app, out = write_app(tmp_path, STREAM_APP, STREAM_MANIFEST, batch_size=1)
    server = serve(app, "--no-watch")
    Stream("clicks", Client(server.endpoint)).put("first", partition_key="a")
    wait_for(lambda: notes(out, "started"))

    (app / "squall.yml").write_text(STREAM_MANIFEST.format(out=str(out), batch_size=2))
    deploy(app, server.endpoint)
    Stream("clicks", Client(server.endpoint)).put("second", partition_key="a")

    # The first batch ends and checkpoints; the new poller goes on after it, not from the start again.
    done = wait_for(lambda: len(notes(out, "done")) == 2 and notes(out, "done"))
    assert done == [["first"], ["second"]]
    assert notes(out, "started") == [["first"], ["second"]]


SDK_APP = '''
import time
from squall import Queue

def mark(event, context):
    time.sleep(1.5)
    Queue("marks").send("marked during the stop")
    return {"statusCode": 200, "body": "sent"}
'''

SDK_MANIFEST = """service: sdkstop
resources:
  queues:
    marks: {{}}
functions:
  mark:
    handler: app.mark
    timeout_s: 10
    events:
      - http: {{method: GET, path: /mark}}
"""


def test_sdk_reaches_server_during_stop(serve: Any, tmp_path: Path) -> None:
    app, _ = write_app(tmp_path, SDK_APP, SDK_MANIFEST)
    server = serve(app, "--no-watch")
    answers: list[httpx.Response] = []
    caller = threading.Thread(target=lambda: answers.append(httpx.get(server.endpoint + "/mark", timeout=20)))
    caller.start()
    assert wait_for(lambda: running(server.endpoint, "mark"))

    server.process.send_signal(signal.SIGTERM)
    caller.join(timeout=30)
    server.process.wait(timeout=30)

    # The call's SDK request went through the instances' own socket, which the stop leaves open.
    assert answers[0].status_code == 200
    assert answers[0].text == "sent"
    restarted = serve(app, "--no-watch", data=server.data)
    received = Queue("marks", Client(restarted.endpoint)).receive(max_messages=1, wait_s=5)
    assert [message["body"] for message in received] == ["marked during the stop"]
