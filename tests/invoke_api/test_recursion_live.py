"""Recursive loop detection on a real server: functions that invoke themselves with a plain boto3 client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from lambda_apps import APPS, lambda_client, live_server

# Lambda stops a function's 17th invocation in one chain of calls.
MAX_CHAIN_INVOCATIONS = 16
# Bounds the chains in case detection fails: no test loop runs longer than this.
MAX_DEPTH = 20
ASYNC_MAX_DEPTH = 40
WAIT_S = 60.0

MANIFEST = """\
service: recursion-checks
functions:
  loop:
    handler: loops.call_self
    timeout_s: 120
  allowed:
    handler: loops.call_self
    timeout_s: 120
    recursive_loop: allow
  async_loop:
    handler: loops.call_self_async
    timeout_s: 30
    environment: {{OUT: {out}}}
    on_failure: {{queue: stopped}}
resources:
  queues:
    stopped: {{}}
"""


class Server:
    """A running server on a copy of apps/recursion, with the folder its async function writes notes to."""

    def __init__(self, running: Any, out: Path) -> None:
        self.running = running
        self.out = out

    @property
    def endpoint(self) -> str:
        return self.running.endpoint


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("recursion")
    folder = live_server.copy_app(APPS / "recursion", base)
    out = base / "out"
    out.mkdir()
    (folder / "squall.yml").write_text(MANIFEST.format(out=json.dumps(str(out))))
    running = live_server.start_server(folder, base / "data")
    yield Server(running, out)
    running.stop()


def invoke_chain(server: Server, function: str) -> dict[str, Any]:
    response = lambda_client(server.endpoint).invoke(
        FunctionName=function, Payload=json.dumps({"depth": 1, "max_depth": MAX_DEPTH})
    )
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def fields(header: str) -> dict[str, str]:
    return dict(field.split("=", 1) for field in header.split(";"))


def test_synchronous_loop_stops_after_16_calls(server: Server) -> None:
    chain = invoke_chain(server, "loop")

    assert chain["depth"] == MAX_CHAIN_INVOCATIONS
    assert chain["error"]["code"] == "RecursiveInvocationException"
    assert chain["error"]["status"] == 400
    assert chain["error"]["type"] == "User"
    assert "loop" in chain["error"]["message"]
    # The server's output reaches the test through a reading thread, so it may come a little later.
    logged = live_server.wait_for(
        lambda: [line for line in server.running.output if "stopped a recursive loop of function loop" in line], 5.0
    )
    assert logged


def test_synchronous_loop_keeps_caller_root(server: Server) -> None:
    chain = invoke_chain(server, "loop")
    headers = [fields(header) for header in chain["headers"]]

    assert len({header["Root"] for header in headers}) == 1
    counts = [int(header["Lineage"].split(":")[1]) for header in headers]
    assert counts == list(range(1, MAX_CHAIN_INVOCATIONS + 1))


def test_allowed_loop_runs_to_its_own_bound(server: Server) -> None:
    chain = invoke_chain(server, "allowed")

    assert chain["depth"] == MAX_DEPTH
    assert chain["error"] is None


def test_asynchronous_loop_goes_to_on_failure_destination(server: Server) -> None:
    from squall.sdk import Client
    from squall.sdk.queues import Queue

    response = lambda_client(server.endpoint).invoke(
        FunctionName="async_loop", InvocationType="Event", Payload=json.dumps({"depth": 1, "max_depth": ASYNC_MAX_DEPTH})
    )
    assert response["StatusCode"] == 202

    stopped = Queue("stopped", Client(server.endpoint))
    messages = live_server.wait_for(lambda: stopped.receive(max_messages=10, wait_s=1), WAIT_S)
    assert len(messages) == 1
    record = json.loads(messages[0]["body"])
    assert record["requestContext"]["condition"] == "RecursiveInvocationException"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"]["depth"] == MAX_CHAIN_INVOCATIONS + 1
    assert record["responseContext"]["statusCode"] == 400
    notes = sorted(int(path.stem) for path in server.out.glob("*.json"))
    assert notes == list(range(1, MAX_CHAIN_INVOCATIONS + 1))
    roots = {fields(json.loads(path.read_text())["header"])["Root"] for path in server.out.glob("*.json")}
    assert len(roots) == 1



@pytest.mark.parametrize(("function", "setting"), [("loop", "Terminate"), ("allowed", "Allow")])
def test_recursion_config_answers_setting(server: Server, function: str, setting: str) -> None:
    answer = lambda_client(server.endpoint).get_function_recursion_config(FunctionName=function)

    assert answer["RecursiveLoop"] == setting


def test_recursion_config_errors(server: Server) -> None:
    client = lambda_client(server.endpoint)

    with pytest.raises(ClientError) as missing:
        client.get_function_recursion_config(FunctionName="nosuch")
    with pytest.raises(ClientError) as put:
        client.put_function_recursion_config(FunctionName="loop", RecursiveLoop="Allow")

    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert put.value.response["Error"]["Code"] == "UnsupportedOperationException"
    assert "recursive_loop" in put.value.response["Error"]["Message"]


def test_stopped_calls_counted_in_metrics(server: Server) -> None:
    invoke_chain(server, "loop")

    text = httpx.get(f"{server.endpoint}/metrics", timeout=30).text
    counted = [line for line in text.splitlines() if line.startswith('squall_recursive_invocations_dropped_total{function="loop"}')]
    assert len(counted) == 1
    assert float(counted[0].rsplit(" ", 1)[1]) >= 1
    assert 'squall_recursive_invocations_dropped_total{function="allowed"}' not in text
