"""The `squall table` commands against a real server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from squall.cli_tables import format_json, group
from squall.sdk.client import Client
from squall.sdk.tables import Table
from tests.conftest import RunningServer, start_server

MANIFEST = """\
service: tables-cli
functions:
  noop:
    handler: handlers.noop
"""

Run = Callable[..., Result]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("app")
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "handlers.py").write_text("def noop(event, context):\n    return None\n")
    running = start_server(folder, tmp_path_factory.mktemp("data"))
    yield running
    running.stop()


@pytest.fixture
def run(server: RunningServer, tmp_path: Path) -> Run:
    """Run `squall table ARGS` against the server, with no token from the environment."""
    runner = CliRunner()

    def invoke(*arguments: str) -> Result:
        options = ["--endpoint", server.endpoint, "--data", str(tmp_path)]
        return runner.invoke(group, [*arguments, *options], env={"SQUALL_TOKEN": None}, catch_exceptions=False)

    return invoke


@pytest.fixture
def table_name(run: Run) -> str:
    name = f"cli-{uuid.uuid4().hex[:10]}"
    result = run("create", name, "--partition-key", "customer:S", "--sort-key", "order:N")
    assert result.exit_code == 0, result.output
    return name


def test_create_prints_keys(run: Run) -> None:
    name = f"cli-{uuid.uuid4().hex[:10]}"
    result = run("create", name, "--partition-key", "id:S", "--ttl-attribute", "expires")

    assert result.exit_code == 0, result.output
    assert name in result.stdout
    assert "id (S)" in result.stdout
    assert "expires" in result.stdout


def test_ls_shows_table(run: Run, table_name: str) -> None:
    run("put", table_name, '{"customer": "a", "order": 1}')
    result = run("ls")

    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith(table_name))
    assert "customer (S)" in row
    assert "order (N)" in row
    assert " 1 " in row


def test_ls_json_lists_descriptions(run: Run, table_name: str) -> None:
    run("put", table_name, '{"customer": "a", "order": 1}')

    result = run("ls", "--output", "json")

    assert result.exit_code == 0, result.output
    listed = {table["name"]: table for table in json.loads(result.stdout)["tables"]}
    assert listed[table_name]["partition_key"] == {"name": "customer", "type": "S"}
    assert listed[table_name]["sort_key"] == {"name": "order", "type": "N"}
    assert listed[table_name]["item_count"] == 1
    assert isinstance(listed[table_name]["size_bytes"], int)


def test_describe_accepts_output_json(run: Run, table_name: str) -> None:
    result = run("describe", table_name, "--output", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == table_name


def test_get_missing_item_exits_0(run: Run, table_name: str) -> None:
    result = run("get", table_name, '{"customer": "a", "order": 99}')

    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no item with key" in result.stderr


def test_describe_prints_json(run: Run, table_name: str) -> None:
    result = run("describe", table_name)

    assert result.exit_code == 0, result.output
    description = json.loads(result.stdout)
    assert description["name"] == table_name
    assert description["sort_key"] == {"name": "order", "type": "N"}


def test_put_get_exact_numbers(run: Run, table_name: str) -> None:
    item = '{"customer": "a", "order": 1, "total": 0.1234567890123456789012345, "big": 12345678901234567890123}'
    assert run("put", table_name, item).exit_code == 0

    result = run("get", table_name, '{"customer": "a", "order": 1}')
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout, parse_float=Decimal) == {
        "customer": "a",
        "order": 1,
        "total": Decimal("0.1234567890123456789012345"),
        "big": 12345678901234567890123,
    }


def test_put_written_for_sdk(run: Run, server: RunningServer, table_name: str) -> None:
    assert run("put", table_name, '{"customer": "a", "order": 2, "ok": true}').exit_code == 0

    stored = Table(table_name, Client(server.endpoint)).get({"customer": "a", "order": 2})
    assert stored == {"customer": "a", "order": Decimal(2), "ok": True}


def test_delete_prints_old_item(run: Run, table_name: str) -> None:
    run("put", table_name, '{"customer": "a", "order": 3}')

    deleted = run("delete", table_name, '{"customer": "a", "order": 3}')
    assert deleted.exit_code == 0, deleted.output
    assert json.loads(deleted.stdout) == {"customer": "a", "order": 3}

    again = run("delete", table_name, '{"customer": "a", "order": 3}')
    assert again.exit_code == 0
    assert again.stdout == ""
    assert "nothing deleted" in again.stderr


def test_update_prints_new_item(run: Run, table_name: str) -> None:
    result = run("update", table_name, '{"customer": "a", "order": 4}',
                 "--expression", "SET hits = :one", "--values", '{":one": 1}')

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"customer": "a", "order": 4, "hits": 1}


def test_query_and_scan(run: Run, table_name: str) -> None:
    for order in (1, 2, 3):
        run("put", table_name, json.dumps({"customer": "a", "order": order}))
    run("put", table_name, '{"customer": "b", "order": 1}')

    query = run("query", table_name, "--key-condition", "customer = :c", "--values", '{":c": "a"}', "--limit", "2")
    assert query.exit_code == 0, query.output
    assert [item["order"] for item in json.loads(query.stdout)] == [1, 2]

    descending = run("query", table_name, "--key-condition", "customer = :c", "--values", '{":c": "a"}',
                     "--descending")
    assert [item["order"] for item in json.loads(descending.stdout)] == [3, 2, 1]

    scan = run("scan", table_name)
    assert scan.exit_code == 0, scan.output
    assert len(json.loads(scan.stdout)) == 4
    assert len(json.loads(run("scan", table_name, "--limit", "3").stdout)) == 3


def test_drop_table(run: Run, table_name: str) -> None:
    assert run("drop", table_name).exit_code == 0

    result = run("describe", table_name)
    assert result.exit_code == 1
    assert "ResourceNotFoundException" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("get", "no-such-table", '{"id": "a"}'), "ResourceNotFoundException: table 'no-such-table' not found"),
        (("create", "bad name", "--partition-key", "id:S"), "'bad name'"),
        (("create", "good-name", "--partition-key", "id:Z"), "'Z'"),
        (("put", "{table}", '{"customer": "a", "order": 1, "data": "' + "x" * 409_600 + '"}'), "ValidationException"),
        (("put", "{table}", '{"customer": 5, "order": 1}'), "'customer'"),
        (("get", "{table}", '{"customer": "a"}'), "ValidationException"),
        (("query", "{table}", "--key-condition", "customer = :c", "--values", '{":other": 1}'), ":c"),
    ],
)
def test_errors_exit_1(run: Run, table_name: str, arguments: tuple[str, ...], expected: str) -> None:
    result = run(*(argument.replace("{table}", table_name) for argument in arguments))

    assert result.exit_code == 1, result.output
    assert expected in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("put", "t-any", "{not json"), "not valid JSON"),
        (("put", "t-any", "[1, 2]"), "not a JSON object"),
        (("create", "t-any", "--partition-key", "id"), "NAME:TYPE"),
    ],
)
def test_bad_arguments_exit_2(run: Run, arguments: tuple[str, ...], expected: str) -> None:
    result = run(*arguments)

    assert result.exit_code == 2
    assert expected in result.stderr


def test_no_server_listening(tmp_path: Path) -> None:
    # A socket bound but not listening holds the port, so a connection to it is refused.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{holder.getsockname()[1]}"
        command = "from squall.cli_tables import group; group()"
        process = subprocess.run(
            [sys.executable, "-c", command, "ls", "--endpoint", endpoint, "--data", str(tmp_path)],
            capture_output=True, text=True, timeout=60,
        )
    assert process.returncode == 1
    assert f"no Squall server is listening at {endpoint}" in process.stderr


def test_format_json_keeps_digits() -> None:
    value = {"n": Decimal("1E+2"), "f": Decimal("-0.5"), "b": b"\x01", "s": {"y", "x"}, "l": []}
    assert json.loads(format_json(value), parse_float=Decimal) == {
        "n": 100, "f": Decimal("-0.5"), "b": "AQ==", "s": ["x", "y"], "l": [],
    }
