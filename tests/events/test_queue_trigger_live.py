"""Queue triggers on a real server: SQS-format batches, partial failures and dead-lettering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel

from squall.sdk import Client, RemoteError
from squall.sdk.queues import Queue, create_queue
from tests.events.test_async_live import notes, wait_for

APP = '''
import json, os, time

def _note(kind, value):
    name = f"{kind}-{time.time_ns()}.json"
    # Written under a temporary name, so a reader never sees half a file.
    path = os.path.join(os.environ["OUT"], name)
    with open(path + ".tmp", "w") as file:
        json.dump(value, file)
    os.rename(path + ".tmp", path)

def consume(event, context):
    _note("batch", event)
    failures = [
        {"itemIdentifier": record["messageId"]}
        for record in event["Records"]
        if record["body"].startswith("fail")
    ]
    return {"batchItemFailures": failures}

def produce(event, context):
    from squall import Queue
    sent = Queue("orders").send(json.loads(event["body"])["body"])
    return {"statusCode": 200, "body": sent["message_id"]}
'''

MANIFEST = """service: queuetest
resources:
  queues:
    orders:
      visibility_timeout_s: 3
      dead_letter: {{queue: orders-dlq, max_receive_count: 2}}
    orders-dlq: {{}}
functions:
  consume:
    handler: app.consume
    environment: {{OUT: {out!r}}}
    events:
      - queue: {{name: orders, batch_size: 10, batch_window_s: 0.2}}
  produce:
    handler: app.produce
    environment: {{OUT: {out!r}}}
    events:
      - http: {{method: POST, path: /produce}}
"""


@pytest.fixture
def server(serve: Any, tmp_path: Path) -> Any:
    out = tmp_path / "out"
    out.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "squall.yml").write_text(MANIFEST.format(out=str(out)))
    running = serve(app)
    running.out = out
    return running


def delivered_bodies(out: Path) -> list[str]:
    return [record["body"] for batch in notes(out, "batch") for record in batch["Records"]]


def test_messages_delivered_as_sqs_events(server: Any) -> None:
    orders = Queue("orders", Client(server.endpoint))
    for number in range(5):
        orders.send(f"order-{number}")

    wait_for(lambda: len(delivered_bodies(server.out)) >= 5)

    assert sorted(delivered_bodies(server.out)) == [f"order-{n}" for n in range(5)]
    for batch in notes(server.out, "batch"):
        SqsModel.model_validate(batch)
        assert batch["Records"][0]["eventSourceARN"].endswith(":orders")
    info = orders.info()
    assert info["stats"]["visible"] == 0
    assert info["stats"]["in_flight"] == 0


def test_failed_messages_go_to_dead_letter_queue(server: Any) -> None:
    client = Client(server.endpoint)
    Queue("orders", client).send("fail-me")
    Queue("orders", client).send("fine")

    dead = wait_for(lambda: Queue("orders-dlq", client).receive(max_messages=10), timeout_s=30)

    assert [message["body"] for message in dead] == ["fail-me"]
    assert delivered_bodies(server.out).count("fine") == 1
    assert delivered_bodies(server.out).count("fail-me") == 2  # max_receive_count


def test_function_sends_through_sdk(server: Any) -> None:
    import httpx

    answer = httpx.post(server.endpoint + "/produce", json={"body": "made-inside"}, timeout=20)

    assert answer.status_code == 200
    wait_for(lambda: "made-inside" in delivered_bodies(server.out))


def test_unknown_queue_named_in_error(server: Any) -> None:
    with pytest.raises(RemoteError) as raised:
        Queue("nope", Client(server.endpoint)).send("x")

    assert raised.value.code == "QueueDoesNotExist"
    assert raised.value.status == 404
    assert "nope" in str(raised.value)


def test_oversized_message_rejected(server: Any) -> None:
    with pytest.raises(RemoteError) as raised:
        Queue("orders", Client(server.endpoint)).send("x" * (256 * 1024 + 1))

    assert raised.value.status == 413
    assert "262144" in str(raised.value)


def test_create_queue_through_sdk(server: Any) -> None:
    client = Client(server.endpoint)
    created = create_queue("made-by-sdk", client, visibility_timeout_s=10)
    created.send("hello")

    received = created.receive(max_messages=1, wait_s=1)

    assert [message["body"] for message in received] == ["hello"]
    assert json.dumps(received[0]["attributes"])  # system attributes come back as plain JSON


def test_cli_sends_and_receives(server: Any) -> None:
    from click.testing import CliRunner

    from squall.cli import cli

    runner = CliRunner()
    endpoint = ["--endpoint", server.endpoint]
    created = runner.invoke(cli, ["queue", "create", "cli-queue", *endpoint])
    sent = runner.invoke(cli, ["queue", "send", "cli-queue", "hello from the CLI", *endpoint])
    received = runner.invoke(cli, ["queue", "receive", "cli-queue", "--wait-s", "1", "--delete", *endpoint])
    listed = runner.invoke(cli, ["queue", "ls", *endpoint])
    missing = runner.invoke(cli, ["queue", "send", "no-such-queue", "x", *endpoint])

    assert created.exit_code == 0, created.output
    assert created.output.strip().endswith(":cli-queue")
    assert sent.exit_code == 0, sent.output
    assert json.loads(received.output)["body"] == "hello from the CLI"
    assert "cli-queue" in listed.output
    assert missing.exit_code == 1
    assert "no-such-queue" in missing.output


def test_invalid_message_rejected_rest_flows(server: Any) -> None:
    orders = Queue("orders", Client(server.endpoint))

    with pytest.raises(RemoteError) as raised:
        orders.send("bad \x00 byte")
    orders.send("after-the-bad-one")

    assert raised.value.status == 400
    assert raised.value.code == "InvalidMessageContents"
    assert "U+0000" in str(raised.value)
    wait_for(lambda: "after-the-bad-one" in delivered_bodies(server.out))


def test_failed_deploy_creates_nothing(serve: Any, tmp_path: Path) -> None:
    from squall.sdk.queues import list_queues

    app = tmp_path / "bad"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "squall.yml").write_text(
        "service: bad\nresources:\n  queues:\n    shortvis: {visibility_timeout_s: 5}\n"
        "functions:\n  slow:\n    handler: app.consume\n    timeout_s: 30\n"
        "    events:\n      - queue: {name: shortvis}\n"
    )
    good = tmp_path / "good"
    good.mkdir()
    (good / "app.py").write_text(APP)
    (good / "squall.yml").write_text("service: good\nfunctions:\n  hello:\n    handler: app.consume\n")
    server = serve(good)

    result = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(app), "--endpoint", server.endpoint],
        capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 1
    assert "functions.slow.events: the event of queue 'shortvis'" in result.stderr
    assert "visibility timeout of 5 s" in result.stderr
    assert [queue["name"] for queue in list_queues(client=Client(server.endpoint))] == []


def test_redeploy_changes_queue_settings(server: Any, tmp_path: Path) -> None:
    manifest = Path(server.out).parent / "app" / "squall.yml"
    manifest.write_text(manifest.read_text().replace("visibility_timeout_s: 3", "visibility_timeout_s: 7"))

    result = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(manifest.parent), "--endpoint", server.endpoint],
        capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 0, result.stderr
    info = Queue("orders", Client(server.endpoint)).info()
    assert info["queue"]["settings"]["visibility_timeout_s"] == 7


def test_batch_window_gathers_trickle(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    app = tmp_path / "window"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "squall.yml").write_text(
        "service: window\nresources:\n  queues:\n    trickle: {}\n"
        f"functions:\n  consume:\n    handler: app.consume\n    environment: {{OUT: {str(out)!r}}}\n"
        "    events:\n      - queue: {name: trickle, batch_size: 5, batch_window_s: 2}\n"
    )
    server = serve(app)
    trickle = Queue("trickle", Client(server.endpoint))

    for number in range(3):
        trickle.send(f"t{number}")
    batches = wait_for(lambda: notes(out, "batch"))

    assert [record["body"] for record in batches[0]["Records"]] == ["t0", "t1", "t2"]


def test_cli_sends_file_and_stdin(server: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from squall.cli import cli

    body_file = tmp_path / "body.txt"
    body_file.write_text("from a file")
    endpoint = ["--endpoint", server.endpoint]
    runner = CliRunner()
    runner.invoke(cli, ["queue", "create", "cli-files", *endpoint])

    from_file = runner.invoke(cli, ["queue", "send", "cli-files", f"@{body_file}", *endpoint])
    from_stdin = runner.invoke(cli, ["queue", "send", "cli-files", "-", *endpoint], input="from stdin")
    missing = runner.invoke(cli, ["queue", "send", "cli-files", "@/nonexistent/body.txt", *endpoint])
    received = Queue("cli-files", Client(server.endpoint)).receive(max_messages=10, wait_s=1)

    assert from_file.exit_code == 0, from_file.output
    assert from_stdin.exit_code == 0, from_stdin.output
    assert missing.exit_code == 2
    assert "/nonexistent/body.txt" in missing.output
    assert sorted(message["body"] for message in received) == ["from a file", "from stdin"]


def test_fifo_batch_with_groups(server: Any) -> None:
    client = Client(server.endpoint)
    jobs = create_queue("jobs.fifo", client)

    result = jobs.send_batch([
        {"body": "a", "group_id": "g1", "dedup_id": "a-1"},
        {"body": "b", "group_id": "g2", "dedup_id": "b-1"},
    ])
    received = jobs.receive(max_messages=10, wait_s=1)

    assert sorted(result["successful"]) == ["0", "1"]
    assert sorted(message["body"] for message in received) == ["a", "b"]


def test_remote_error_names_code(server: Any) -> None:
    with pytest.raises(RemoteError) as raised:
        Queue("nope", Client(server.endpoint)).send("x")

    assert str(raised.value).startswith("QueueDoesNotExist: ")


def test_queue_named_by_url_or_arn(server: Any) -> None:
    client = Client(server.endpoint)
    by_url = Queue("https://sqs.us-east-1.amazonaws.com/000000000000/orders", client)
    by_arn = Queue("arn:aws:sqs:us-east-1:000000000000:orders", client)

    assert by_url.name == "orders"
    assert by_arn.name == "orders"
    assert by_arn.info()["queue"]["name"] == "orders"


SERVERLESS_MANIFEST = """service: queuetest
provider: {{name: aws, runtime: python3.12, timeout: 3, environment: {{OUT: {out!r}}}}}
functions:
  consume:
    handler: app.consume
    events:
      - sqs: {{arn: !GetAtt Orders.Arn}}
resources:
  Resources:
    Orders:
      Type: AWS::SQS::Queue
      Properties: {{QueueName: orders, VisibilityTimeout: 30}}
"""


def test_failures_ignored_without_report_batch_item_failures(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "serverless.yml").write_text(SERVERLESS_MANIFEST.format(out=str(out)))
    server = serve(app)
    orders = Queue("orders", Client(server.endpoint))

    orders.send("fail-me")

    # Without functionResponseType, Lambda ignores batchItemFailures: the batch succeeded and is deleted.
    wait_for(lambda: delivered_bodies(out) == ["fail-me"])
    wait_for(lambda: orders.info()["stats"]["in_flight"] == 0)
    assert orders.info()["stats"]["visible"] == 0
