"""The `squall queue` commands against a real server, run through click's test runner."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from squall.cli_queues import group
from squall.sdk.client import Client
from squall.sdk.queues import Queue, create_queue
from tests.conftest import RunningServer, start_server

Run = Callable[..., Result]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("app")
    (folder / "squall.yml").write_text("service: queue-cli\nfunctions:\n  noop:\n    handler: app.noop\n")
    (folder / "app.py").write_text("def noop(event, context):\n    return None\n")
    running = start_server(folder, tmp_path_factory.mktemp("data"))
    yield running
    running.stop()


@pytest.fixture
def run(server: RunningServer, tmp_path: Path) -> Run:
    """Run `squall queue ARGS` against the server; --data names an empty folder, so no token is sent."""

    def invoke(*arguments: str) -> Result:
        options = ["--endpoint", server.endpoint, "--data", str(tmp_path)]
        return CliRunner().invoke(group, [*arguments, *options], env={"SQUALL_TOKEN": None})

    return invoke


@pytest.fixture
def queue(server: RunningServer) -> Queue:
    return create_queue(f"cli-{uuid.uuid4().hex[:10]}", Client(server.endpoint))


def test_ls_json_has_counts(run: Run, queue: Queue) -> None:
    queue.send("waiting")

    result = run("ls", "--output", "json")

    assert result.exit_code == 0, result.output
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)["queues"]}
    assert listed[queue.name]["stats"]["visible"] == 1
    assert listed[queue.name]["arn"].endswith(f":{queue.name}")
    assert "visibility_timeout_s" in listed[queue.name]["settings"]


def test_ls_table_is_default(run: Run, queue: Queue) -> None:
    result = run("ls")

    assert result.exit_code == 0, result.output
    assert queue.name in result.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)


def test_receive_json_lines_carry_attributes(run: Run, queue: Queue) -> None:
    queue.send("first\nline two", attributes={"color": {"data_type": "String", "string_value": "red"}})
    queue.send("second")

    result = run("receive", queue.name, "--max-messages", "2", "--output", "json")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["body"] == "first\nline two"
    assert first["message_attributes"]["color"]["data_type"] == "String"
    assert first["message_attributes"]["color"]["string_value"] == "red"
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert first["receipt_handle"]
    assert second["body"] == "second"
    assert second["message_attributes"] == {}


def test_receive_default_stays_json_lines(run: Run, queue: Queue) -> None:
    queue.send("plain")

    result = run("receive", queue.name)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["body"] == "plain"


def test_receive_table_shows_attributes(run: Run, queue: Queue) -> None:
    queue.send(
        "line one\nline two",
        attributes={
            "color": {"data_type": "String", "string_value": "red"},
            "count": {"data_type": "Number", "string_value": "3"},
        },
    )

    result = run("receive", queue.name, "--output", "table", "--delete")

    assert result.exit_code == 0, result.output
    assert "MESSAGE ATTRIBUTES" in result.stdout
    assert "line one\\nline two" in result.stdout
    assert "color=red" in result.stdout
    assert "count=3 (Number)" in result.stdout
    assert queue.info()["stats"]["visible"] == 0
    assert queue.info()["stats"]["in_flight"] == 0


def test_receive_table_empty_queue(run: Run, queue: Queue) -> None:
    result = run("receive", queue.name, "--output", "table")

    assert result.exit_code == 0, result.output
    assert f"no messages received from queue {queue.name}" in result.stdout


def test_purge_keeps_queue(run: Run, queue: Queue) -> None:
    queue.send("one")
    queue.send("two")

    result = run("purge", queue.name)
    listed = {entry["name"]: entry for entry in json.loads(run("ls", "--output", "json").stdout)["queues"]}

    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"purged queue {queue.name}"
    assert listed[queue.name]["stats"]["visible"] == 0


def test_delete_removes_queue(run: Run, queue: Queue) -> None:
    queue.send("gone with it")

    result = run("delete", queue.name)
    listed = json.loads(run("ls", "--output", "json").stdout)["queues"]
    again = run("delete", queue.name)

    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"deleted queue {queue.name}"
    assert queue.name not in [entry["name"] for entry in listed]
    assert again.exit_code == 1
    assert queue.name in again.output


def test_max_receive_count_needs_dead_letter(run: Run) -> None:
    result = run("create", f"cli-{uuid.uuid4().hex[:10]}", "--max-receive-count", "3")

    assert result.exit_code == 2
    assert "--max-receive-count applies only with --dead-letter QUEUE" in result.output


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (("receive", "q", "--max-messages", "20"), "--max-messages"),
        (("receive", "q", "--wait-s", "21"), "--wait-s"),
        (("send", "q", "body", "--delay-s", "901"), "--delay-s"),
        (("create", "q", "--visibility-timeout-s", "43201"), "--visibility-timeout-s"),
    ],
)
def test_out_of_range_option_named(run: Run, arguments: tuple[str, ...], option: str) -> None:
    result = run(*arguments)

    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output


def test_send_errors_name_options(run: Run, server: RunningServer, queue: Queue) -> None:
    # A queue name containing a field's name keeps it.
    fifo = create_queue(f"cli-{uuid.uuid4().hex[:10]}_group_id.fifo", Client(server.endpoint))

    dedup_on_standard = run("send", queue.name, "x", "--dedup-id", "d1")
    no_group = run("send", fifo.name, "x")

    assert dedup_on_standard.exit_code == 1
    assert "--dedup-id 'd1'" in dedup_on_standard.output
    assert no_group.exit_code == 1
    assert "needs a --group-id" in no_group.output
    assert f"'{fifo.name}'" in no_group.output
