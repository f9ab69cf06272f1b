"""Nothing accepted is lost: SIGKILL the server in the middle of a load, restart it, and count deliveries."""

from __future__ import annotations

import collections
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from squall.sdk import Client
from squall.sdk.objects import Bucket
from squall.sdk.queues import Queue

QUEUE_MESSAGES = 5000
ASYNC_INVOCATIONS = 1000
OBJECT_UPLOADS = 1000
KILL_AFTER_ACCEPTED = 3000  # accepted items, across the three kinds, before the SIGKILL
DELIVERY_TIMEOUT_S = 240.0

APP = '''
import os
import time

# Each handler takes a little time, so deliveries lag behind the load and the
# kill always finds accepted items not yet delivered.
WORK_S = 0.02

def _append(kind, ids):
    # One write per call with O_APPEND, so lines from concurrent instances never mix.
    line = "".join(f"{kind} {item}\\n" for item in ids)
    descriptor = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode())
    finally:
        os.close(descriptor)

def consume(event, context):
    time.sleep(WORK_S)
    _append("queue", [record["body"] for record in event["Records"]])

def work(event, context):
    time.sleep(WORK_S)
    _append("async", [event["id"]])

def uploaded(event, context):
    time.sleep(WORK_S)
    _append("object", [record["s3"]["object"]["key"] for record in event["Records"]])
'''

MANIFEST = """service: durability
resources:
  queues:
    jobs: {{visibility_timeout_s: 5}}
  buckets:
    uploads: {{}}
functions:
  uploaded:
    handler: app.uploaded
    reserved_concurrency: 4
    environment: {{OUT: {out!r}}}
    events:
      - objects: {{bucket: uploads, events: [created]}}
  consume:
    handler: app.consume
    timeout_s: 5
    environment: {{OUT: {out!r}}}
    events:
      - queue: {{name: jobs, batch_size: 10}}
  work:
    handler: app.work
    reserved_concurrency: 4
    environment: {{OUT: {out!r}}}
"""


class Load:
    """Sends queue messages and asynchronous invocations from two threads, noting what the server accepted."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.accepted: dict[str, set[str]] = {"queue": set(), "async": set(), "object": set()}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def count(self) -> int:
        with self.lock:
            return sum(len(ids) for ids in self.accepted.values())

    def send_messages(self) -> None:
        queue = Queue("jobs", Client(self.endpoint, timeout_s=10))
        for start in range(0, QUEUE_MESSAGES, 10):
            if self.stop.is_set():
                return
            bodies = [f"m{number}" for number in range(start, start + 10)]
            try:
                result = queue.send_batch(bodies)
            except Exception:  # noqa: BLE001 - a timeout or the kill: what was not acknowledged does not count
                continue
            with self.lock:
                self.accepted["queue"].update(bodies[int(index)] for index in result["successful"])

    def upload_objects(self) -> None:
        bucket = Bucket("uploads", Client(self.endpoint, timeout_s=10))
        for number in range(OBJECT_UPLOADS):
            if self.stop.is_set():
                return
            key = f"o{number}"
            try:
                bucket.put(key, f"object {number}".encode())
            except Exception:  # noqa: BLE001 - a timeout or the kill: not acknowledged, so not counted
                continue
            with self.lock:
                self.accepted["object"].add(key)

    def send_invocations(self) -> None:
        client = boto3.client(
            "lambda", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 0}, read_timeout=10, connect_timeout=5),
        )
        for number in range(ASYNC_INVOCATIONS):
            if self.stop.is_set():
                return
            item = f"a{number}"
            try:
                answer = client.invoke(FunctionName="work", InvocationType="Event", Payload=json.dumps({"id": item}))
            except Exception:  # noqa: BLE001 - a timeout or the kill: not acknowledged, so not counted
                continue
            if answer["StatusCode"] == 202:
                with self.lock:
                    self.accepted["async"].add(item)


def deliveries(out: Path) -> dict[str, collections.Counter[str]]:
    counts: dict[str, collections.Counter[str]] = {kind: collections.Counter() for kind in ("queue", "async", "object")}
    if out.exists():
        for line in out.read_text().splitlines():
            kind, item = line.split(" ", 1)
            counts[kind][item] += 1
    return counts


def test_nothing_accepted_lost_on_sigkill(serve: Any, tmp_path: Path, record_property: Any) -> None:
    out = tmp_path / "deliveries.txt"
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "squall.yml").write_text(MANIFEST.format(out=str(out)))
    first = serve(app)

    load = Load(first.endpoint)
    threads = [
        threading.Thread(target=load.send_messages),
        threading.Thread(target=load.send_invocations),
        threading.Thread(target=load.upload_objects),
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while load.count() < KILL_AFTER_ACCEPTED and time.monotonic() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.01)
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    load.stop.set()
    for thread in threads:
        thread.join(timeout=30)
    accepted = {kind: set(ids) for kind, ids in load.accepted.items()}
    delivered_before = deliveries(out)

    second = serve(app, data=first.data)
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        counts = deliveries(out)
        if all(accepted[kind] <= set(counts[kind]) for kind in accepted):
            break
        time.sleep(0.2)

    counts = deliveries(out)
    duplicates = {kind: sum(n - 1 for item, n in counts[kind].items() if n > 1) for kind in counts}
    record_property("accepted", {kind: len(ids) for kind, ids in accepted.items()})
    record_property("duplicates", duplicates)
    print(f"accepted {dict((k, len(v)) for k, v in accepted.items())}, duplicates {duplicates}")
    assert load.count() >= KILL_AFTER_ACCEPTED, f"only {load.count()} items were accepted before the kill"
    delivered_count = sum(len(delivered_before[kind]) for kind in delivered_before)
    assert delivered_count < load.count(), "everything was delivered before the kill, so it tested nothing"
    for kind in accepted:
        lost = accepted[kind] - set(counts[kind])
        assert not lost, f"{len(lost)} accepted {kind} item(s) never delivered, e.g. {sorted(lost)[:5]}"
    stored = Bucket("uploads", Client(second.endpoint))
    missing = [key for key in sorted(accepted["object"]) if stored.get(key) != f"object {key[1:]}".encode()]
    assert not missing, f"{len(missing)} accepted upload(s) not readable after the restart, e.g. {missing[:5]}"
    assert second.process.poll() is None
