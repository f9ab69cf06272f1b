"""Output of the data-service commands (queue, stream) against the fake API."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import Result

from cli_fakes import FakeApi
from squall.cli_output import escape_line_breaks

Run = Callable[..., Result]

MESSAGE = {
    "message_id": "m-1",
    "receipt_handle": "r-1",
    "body": "[bold]a\\b[/bold]\nnext",
    "md5_of_body": "0" * 32,
    "md5_of_message_attributes": "1" * 32,
    "message_attributes": {
        "photo": {"data_type": "Binary", "string_value": None, "binary_value": "AQID"},
        "price": {"data_type": "Number.float", "string_value": "2.5", "binary_value": None},
    },
    "attributes": {"ApproximateReceiveCount": "3", "SentTimestamp": "1700000000000"},
}


@pytest.fixture
def received(api: FakeApi) -> FakeApi:
    api.respond("POST", "/_squall/api/services/queues/receive", 200, {"result": [MESSAGE]})
    return api


def test_receive_table_row(run: Run, received: FakeApi) -> None:
    result = run("queue", "receive", "jobs", "--output", "table")

    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("m-1"))
    assert "[bold]a\\\\b[/bold]\\nnext" in row
    assert " 3 " in row
    assert "photo=AQID (Binary, base64)" in row
    assert "price=2.5 (Number.float)" in result.stdout


def test_receive_json_line_is_whole_message(run: Run, received: FakeApi) -> None:
    result = run("queue", "receive", "jobs", "--output", "json")

    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == [MESSAGE]


def test_receive_rejects_unknown_output(run: Run, received: FakeApi) -> None:
    result = run("queue", "receive", "jobs", "--output", "yaml")

    assert result.exit_code == 2
    assert "'yaml' is not one of 'table', 'json'" in result.stderr


def test_queue_ls_json_without_queues(run: Run, api: FakeApi) -> None:
    api.respond("POST", "/_squall/api/services/queues/list_queues", 200, {"result": []})

    result = run("queue", "ls", "--output", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"queues": []}


def test_stream_ls_json_without_streams(run: Run, api: FakeApi) -> None:
    api.respond("POST", "/_squall/api/services/streams/list_streams", 200, {"result": {"streams": []}})

    result = run("stream", "ls", "--output", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"streams": []}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("one\ntwo", "one\\ntwo"),
        ("crlf\r\n", "crlf\\r\\n"),
        ("tab\there", "tab\\there"),
        ("a\\nb", "a\\\\nb"),
        ("plain", "plain"),
    ],
    ids=["newline", "crlf", "tab", "backslash", "plain"],
)
def test_escape_line_breaks(text: str, shown: str) -> None:
    assert escape_line_breaks(text) == shown
