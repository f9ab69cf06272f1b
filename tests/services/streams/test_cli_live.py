"""The `squall stream` commands against a real server, run through click's test runner."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from squall.cli_streams import group
from tests.conftest import RunningServer, start_server

FIRST_SHARD = "shardId-000000000000"
SEQUENCE_NUMBER = re.compile(r"\b49\d{54}\b")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("app")
    (folder / "squall.yml").write_text(
        "service: stream-cli\nfunctions:\n  noop:\n    handler: app.noop\n"
    )
    (folder / "app.py").write_text("def noop(event, context):\n    return None\n")
    running = start_server(folder, tmp_path_factory.mktemp("data"))
    yield running
    running.stop()


@pytest.fixture
def stream_cli(server: RunningServer, tmp_path: Any) -> Any:
    """Run `squall stream ARGS --endpoint URL` in-process and return click's result."""

    def run(*arguments: str, stdin: bytes | None = None) -> Result:
        # --data points at an empty folder, so no token file from elsewhere is sent.
        return CliRunner().invoke(
            group, [*arguments, "--endpoint", server.endpoint, "--data", str(tmp_path)], input=stdin
        )

    return run


@pytest.fixture
def stream_name(stream_cli: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh one-shard stream named after the test."""
    name = "cli-" + "".join(c if c.isalnum() else "-" for c in request.node.name)[:100]
    assert stream_cli("create", name).exit_code == 0
    yield name
    stream_cli("delete", name)


def test_create_prints_description(stream_cli: Any) -> None:
    result = stream_cli("create", "made", "--shards", "3", "--retention-h", "48")

    assert result.exit_code == 0, result.output
    description = json.loads(result.stdout)
    assert description["name"] == "made"
    assert description["shard_count"] == 3
    assert description["retention_h"] == 48
    assert len(description["shards"]) == 3
    assert stream_cli("delete", "made").exit_code == 0


def test_ls_and_describe(stream_cli: Any, stream_name: str) -> None:
    listed = stream_cli("ls")
    described = stream_cli("describe", stream_name)

    assert listed.exit_code == 0, listed.output
    assert re.search(rf"^{re.escape(stream_name)}\s+ACTIVE\s+1\s+24 h\s", listed.stdout, re.MULTILINE)
    assert described.exit_code == 0, described.output
    assert json.loads(described.stdout)["shards"][0]["shard_id"] == FIRST_SHARD


def test_ls_and_describe_json(stream_cli: Any, stream_name: str) -> None:
    listed = stream_cli("ls", "--output", "json")
    described = stream_cli("describe", stream_name, "--output", "json")

    assert listed.exit_code == 0, listed.output
    streams = {stream["name"]: stream for stream in json.loads(listed.stdout)["streams"]}
    assert streams[stream_name]["shard_count"] == 1
    assert streams[stream_name]["retention_h"] == 24
    assert described.exit_code == 0, described.output
    assert json.loads(described.stdout)["name"] == stream_name


def test_delete_removes_stream(stream_cli: Any) -> None:
    assert stream_cli("create", "doomed").exit_code == 0

    deleted = stream_cli("delete", "doomed")

    assert deleted.exit_code == 0, deleted.output
    assert "deleted stream doomed" in deleted.stdout
    assert "doomed" not in stream_cli("ls").stdout


def test_put_prints_sequence_number(stream_cli: Any, stream_name: str) -> None:
    result = stream_cli("put", stream_name, "hello", "--partition-key", "k")

    assert result.exit_code == 0, result.output
    receipt = json.loads(result.stdout)
    assert receipt["shard_id"] == FIRST_SHARD
    assert SEQUENCE_NUMBER.fullmatch(receipt["sequence_number"])


@pytest.mark.parametrize(
    ("stdin", "options", "stored"),
    [(b"piped\x00text\n", (), b"piped\x00text\n"), (base64.b64encode(b"\xff\x01") + b"\n", ("--base64",), b"\xff\x01")],
    ids=["bytes", "base64"],
)
def test_put_reads_standard_input(
    stream_cli: Any, stream_name: str, stdin: bytes, options: tuple[str, ...], stored: bytes
) -> None:
    put = stream_cli("put", stream_name, "-", "-k", "piped", *options, stdin=stdin)
    result = stream_cli("read", stream_name, "--output", "json")

    assert put.exit_code == 0, put.output
    (record,) = json.loads(result.stdout)["records"]
    assert base64.b64decode(record["data"]) == stored


def test_read_shows_text_and_binary(stream_cli: Any, stream_name: str) -> None:
    binary = base64.b64encode(b"\xff\x00\x01").decode()
    stream_cli("put", stream_name, "[bold]plain[/bold]", "-k", "text-key")
    stream_cli("put", stream_name, binary, "-k", "binary-key", "--base64")

    result = stream_cli("read", stream_name)

    assert result.exit_code == 0, result.output
    assert re.search(r"text-key\s+\S+\s+text\s+\[bold\]plain\[/bold\]\s*$", result.stdout, re.MULTILINE)
    assert re.search(rf"binary-key\s+\S+\s+base64\s+{re.escape(binary)}\s*$", result.stdout, re.MULTILINE)
    assert "continue with: --after 49" in result.stderr


def test_read_table_escapes_line_breaks(stream_cli: Any, stream_name: str) -> None:
    stream_cli("put", stream_name, "line one\nline two", "-k", "multi\nline key")

    result = stream_cli("read", stream_name)

    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert len(rows) == 2  # the header and one record
    assert re.search(r"multi\\nline key\s+\S+\s+text\s+line one\\nline two\s*$", rows[1])


def test_read_json_document(stream_cli: Any, stream_name: str) -> None:
    binary = base64.b64encode(b"\xff\x00").decode()
    stream_cli("put", stream_name, "line one\nline two", "-k", "k")
    stream_cli("put", stream_name, binary, "-k", "k", "--base64")

    result = stream_cli("read", stream_name, "--output", "json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    text_record, binary_record = document["records"]
    assert text_record["text"] == "line one\nline two"
    assert base64.b64decode(text_record["data"]) == b"line one\nline two"
    assert text_record["partition_key"] == "k"
    assert binary_record["text"] is None
    assert binary_record["data"] == binary
    assert document["next_position"]["sequence_number"] == binary_record["sequence_number"]


def test_read_json_without_records(stream_cli: Any, stream_name: str) -> None:
    result = stream_cli("read", stream_name, "--output", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["records"] == []


def test_read_after_continues(stream_cli: Any, stream_name: str) -> None:
    stream_cli("put", stream_name, "first", "-k", "k")
    first_read = stream_cli("read", stream_name)
    stream_cli("put", stream_name, "second", "-k", "k")
    after = SEQUENCE_NUMBER.search(first_read.stderr)
    assert after is not None, first_read.stderr

    result = stream_cli("read", stream_name, "--after", after.group(0))

    assert result.exit_code == 0, result.output
    assert "second" in result.stdout
    assert "first" not in result.stdout


def test_read_latest_and_limit(stream_cli: Any, stream_name: str) -> None:
    for index in range(3):
        stream_cli("put", stream_name, f"record-{index}", "-k", "k")

    latest = stream_cli("read", stream_name, "--from", "latest")
    limited = stream_cli("read", stream_name, "--limit", "2")

    assert latest.exit_code == 0, latest.output
    assert f"no records in {FIRST_SHARD} of stream {stream_name}" in latest.stdout
    assert "record-1" in limited.stdout
    assert "record-2" not in limited.stdout


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param(("describe", "missing"), "ResourceNotFoundException: stream 'missing' not found", id="unknown-stream"),
        pytest.param(("create", "bad name!"), "InvalidArgumentException: stream name 'bad name!' is invalid", id="bad-name"),
        pytest.param(("create", "s", "--shards", "0"), "InvalidArgumentException: shard count 0 is invalid", id="zero-shards"),
        pytest.param(("read", "missing"), "ResourceNotFoundException: stream 'missing' not found", id="read-unknown"),
        pytest.param(("put", "missing", "x", "-k", "k"), "ResourceNotFoundException: stream 'missing' not found", id="put-unknown"),
    ],
)
def test_errors_exit_one(stream_cli: Any, arguments: tuple[str, ...], expected: str) -> None:
    result = stream_cli(*arguments)

    assert result.exit_code == 1
    assert expected in result.stderr
    assert result.stdout == ""


def test_read_unknown_shard(stream_cli: Any, stream_name: str) -> None:
    result = stream_cli("read", stream_name, "--shard", "shardId-000000000007")

    assert result.exit_code == 1
    assert "shard 'shardId-000000000007' not found" in result.stderr


def test_put_invalid_base64_is_usage_error(stream_cli: Any, stream_name: str) -> None:
    result = stream_cli("put", stream_name, "not base64!", "-k", "k", "--base64")

    assert result.exit_code == 2
    assert "'not base64!' is not valid base64" in result.stderr

