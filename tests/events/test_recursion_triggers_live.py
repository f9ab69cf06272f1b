"""Recursive loops through a bucket and a queue on a real server: functions that trigger themselves with the SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from squall.sdk import Client
from squall.sdk.objects import Bucket
from squall.sdk.queues import Queue
from tests.conftest import RunningServer, start_server
from tests.events.test_async_live import notes, wait_for

# Lambda stops a function's 17th invocation in one chain of calls.
MAX_CHAIN_INVOCATIONS = 16
# Every handler stops its own loop after this many rounds, in case detection fails.
MAX_ROUNDS = 20
WAIT_S = 30.0

APP = '''
import json, os, time, urllib.parse

from squall.sdk.objects import Bucket
from squall.sdk.queues import Queue

MAX_ROUNDS = 20


def note(round_number):
    name = f"round-{round_number:03d}-{time.time_ns()}.json"
    path = os.path.join(os.environ["OUT"], name)
    with open(path + ".tmp", "w") as file:
        json.dump({"round": round_number, "trace": os.environ["_X_AMZN_TRACE_ID"]}, file)
    os.rename(path + ".tmp", path)


def write_back(event, context):
    key = urllib.parse.unquote_plus(event["Records"][0]["s3"]["object"]["key"])
    prefix, _, number = key.rpartition("/")
    round_number = int(number)
    note(round_number)
    if round_number < MAX_ROUNDS:
        Bucket(os.environ["BUCKET"]).put(f"{prefix}/{round_number + 1}", b"next")


def send_back(event, context):
    for record in event["Records"]:
        round_number = int(record["body"])
        note(round_number)
        if round_number < MAX_ROUNDS:
            Queue(os.environ["QUEUE"]).send(str(round_number + 1))
'''

MANIFEST = """\
service: loops
resources:
  buckets:
    loops: {{}}
  queues:
    stopped: {{}}
    spins-dlq: {{}}
    spins: {{visibility_timeout_s: 2, dead_letter: {{queue: spins-dlq, max_receive_count: 2}}}}
    allowed-spins: {{visibility_timeout_s: 2}}
functions:
  writer:
    handler: app.write_back
    timeout_s: 2
    environment: {{OUT: {writer!r}, BUCKET: loops}}
    on_failure: {{queue: stopped}}
    events:
      - objects: {{bucket: loops, events: [created], prefix: terminate/}}
  allowed_writer:
    handler: app.write_back
    timeout_s: 2
    recursive_loop: allow
    environment: {{OUT: {allowed_writer!r}, BUCKET: loops}}
    events:
      - objects: {{bucket: loops, events: [created], prefix: allow/}}
  sender:
    handler: app.send_back
    timeout_s: 2
    environment: {{OUT: {sender!r}, QUEUE: spins}}
    events:
      - queue: {{name: spins, batch_size: 1}}
  allowed_sender:
    handler: app.send_back
    timeout_s: 2
    recursive_loop: allow
    environment: {{OUT: {allowed_sender!r}, QUEUE: allowed-spins}}
    events:
      - queue: {{name: allowed-spins, batch_size: 1}}
"""

FUNCTIONS = ("writer", "allowed_writer", "sender", "allowed_sender")


class Server:
    """A running server of the loop functions, with the folder each function writes its rounds to."""

    def __init__(self, running: RunningServer, out: Path) -> None:
        self.running = running
        self.out = out
        self.client = Client(running.endpoint)

    def rounds(self, function: str) -> list[dict[str, Any]]:
        return sorted(notes(self.out / function, "round"), key=lambda note: note["round"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("trigger-loops")
    out = base / "out"
    folders = {function: str(out / function) for function in FUNCTIONS}
    for folder in folders.values():
        Path(folder).mkdir(parents=True)
    app = base / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "squall.yml").write_text(MANIFEST.format(**folders))
    running = start_server(app, base / "data", env={"SQUALL_ASYNC_RETRY_DELAYS_S": "0.1,0.2"})
    yield Server(running, out)
    running.stop()


def fields(header: str) -> dict[str, str]:
    return dict(field.split("=", 1) for field in header.split(";"))


def wait_for_rounds(server: Server, function: str, count: int) -> list[dict[str, Any]]:
    return wait_for(lambda: len(server.rounds(function)) >= count and server.rounds(function), WAIT_S)


def test_bucket_loop_stops_after_16_rounds(server: Server) -> None:
    Bucket("loops", server.client).put("terminate/1", b"first")

    stopped = Queue("stopped", server.client)
    records = wait_for(lambda: stopped.receive(max_messages=10, wait_s=1), WAIT_S)
    rounds = server.rounds("writer")

    assert [note["round"] for note in rounds] == list(range(1, MAX_CHAIN_INVOCATIONS + 1))
    record = json.loads(records[0]["body"])
    assert record["requestContext"]["condition"] == "RecursiveInvocationException"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    stopped_key = record["requestPayload"]["Records"][0]["s3"]["object"]["key"]
    assert stopped_key == f"terminate/{MAX_CHAIN_INVOCATIONS + 1}"
    logged = [line for line in server.running.output if "stopped a recursive loop of function writer" in line]
    assert logged


def test_bucket_loop_keeps_root_and_counts(server: Server) -> None:
    rounds = wait_for_rounds(server, "writer", MAX_CHAIN_INVOCATIONS)
    headers = [fields(note["trace"]) for note in rounds]

    assert len({header["Root"] for header in headers}) == 1
    counts = [int(header["Lineage"].split(":")[1]) for header in headers]
    assert counts == list(range(1, MAX_CHAIN_INVOCATIONS + 1))


def test_allowed_bucket_loop_runs_to_its_own_bound(server: Server) -> None:
    Bucket("loops", server.client).put("allow/1", b"first")

    rounds = wait_for_rounds(server, "allowed_writer", MAX_ROUNDS)

    assert [note["round"] for note in rounds] == list(range(1, MAX_ROUNDS + 1))


def test_queue_loop_stops_after_16_rounds(server: Server) -> None:
    Queue("spins", server.client).send("1")

    # The stopped message is received twice without running the function, then redriven.
    dead_letters = wait_for(lambda: Queue("spins-dlq", server.client).receive(max_messages=10, wait_s=1), WAIT_S)
    rounds = server.rounds("sender")

    assert [note["round"] for note in rounds] == list(range(1, MAX_CHAIN_INVOCATIONS + 1))
    assert [message["body"] for message in dead_letters] == [str(MAX_CHAIN_INVOCATIONS + 1)]
    trace_header = fields(dead_letters[0]["attributes"]["AWSTraceHeader"])
    assert trace_header["Lineage"].endswith(f":{MAX_CHAIN_INVOCATIONS}")
    logged = [line for line in server.running.output if "stopped a recursive loop of function sender" in line]
    assert logged


def test_allowed_queue_loop_runs_to_its_own_bound(server: Server) -> None:
    Queue("allowed-spins", server.client).send("1")

    rounds = wait_for_rounds(server, "allowed_sender", MAX_ROUNDS)

    assert [note["round"] for note in rounds] == list(range(1, MAX_ROUNDS + 1))
