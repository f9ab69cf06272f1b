"""Each `squall` command against typical responses of the API."""

from __future__ import annotations

import base64
import json
import sys
import types
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from cli_fakes import FIXED_NOW, FakeApi, Recorder, json_response, recorded_aws
from squall.cli import FOLLOW_POLL_INTERVAL_S, cli
from squall.metering.retention import RetentionPolicy

Run = Callable[..., Result]

HELLO = {
    "name": "hello",
    "service": "demo",
    "handler": "app.hello",
    "memory_mb": 256,
    "timeout_s": 10,
    "reserved_concurrency": None,
    "provisioned": 1,
    "routes": ["GET /hello/{name}", "POST /hello"],
    "instances": {"idle": 2, "busy": 1},
    "version": "3",
}
RESIZE = {
    **HELLO,
    "name": "resize",
    "handler": "images.resize",
    "memory_mb": 1024,
    "reserved_concurrency": 5,
    "provisioned": 0,
    "routes": [],
    "instances": {"idle": 0, "busy": 0},
}


def test_deploy_prints_service_functions_and_warnings(run: Run, api: FakeApi, tmp_path: Path) -> None:
    service = tmp_path / "service"
    service.mkdir()
    api.respond(
        "POST",
        "/_squall/api/deploy",
        200,
        {
            "service": "demo",
            "functions": ["hello", "resize"],
            "warnings": ["functions.hello.preload: module 'numpy' not found"],
        },
    )

    result = run("deploy", "service")

    assert result.exit_code == 0
    assert json.loads(api.last.content) == {"folder": str(service.resolve())}
    assert "deployed service demo with 2 function(s)" in result.stdout
    assert "  hello\n  resize\n" in result.stdout
    assert "warning: functions.hello.preload: module 'numpy' not found" in result.stderr


def test_deploy_defaults_to_current_folder(run: Run, api: FakeApi, tmp_path: Path) -> None:
    api.respond("POST", "/_squall/api/deploy", 200, {"service": "demo", "functions": [], "warnings": []})

    result = run("deploy")

    assert result.exit_code == 0
    assert json.loads(api.last.content) == {"folder": str(tmp_path.resolve())}
    assert result.stderr == ""


def test_deploy_missing_folder_is_named(run: Run, api: FakeApi) -> None:
    result = run("deploy", "no-such-folder")

    assert result.exit_code == 2
    assert "no-such-folder" in result.stderr
    assert api.requests == []


def test_invoke_prints_pretty_json(run: Run, api: FakeApi) -> None:
    api.respond(
        "POST",
        "/2015-03-31/functions/hello/invocations",
        200,
        {"greeting": "hi", "n": 1},
        {"X-Amz-Executed-Version": "$LATEST"},
    )

    result = run("invoke", "hello", "--payload", '{"name": "ada"}')

    assert result.exit_code == 0
    assert result.stdout == '{\n  "greeting": "hi",\n  "n": 1\n}\n'
    assert api.last.content == b'{"name": "ada"}'
    assert api.last.headers["X-Amz-Invocation-Type"] == "RequestResponse"
    assert "X-Amz-Log-Type" not in api.last.headers


def test_invoke_keeps_the_digits_of_numbers(run: Run, api: FakeApi) -> None:
    payload = b'{"a": 0.30000000000000000000000000000000000002, "b": 1.10, "c": 12345678901234567890123}'
    api.route(
        "POST",
        "/2015-03-31/functions/hello/invocations",
        lambda request: httpx.Response(200, content=payload, headers={"Content-Type": "application/json"}),
    )

    result = run("invoke", "hello")

    assert result.exit_code == 0
    assert result.stdout == (
        '{\n  "a": 0.30000000000000000000000000000000000002,\n  "b": 1.10,\n  "c": 12345678901234567890123\n}\n'
    )


def test_invoke_default_payload_is_empty_object(run: Run, api: FakeApi) -> None:
    api.respond("POST", "/2015-03-31/functions/hello/invocations", 200, None)

    result = run("invoke", "hello")

    assert result.exit_code == 0
    assert api.last.content == b"{}"
    assert result.stdout == "null\n"


def test_invoke_reads_payload_file(run: Run, api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "event.json").write_text('{"Records": []}\n', encoding="utf-8")
    api.respond("POST", "/2015-03-31/functions/hello/invocations", 200, "done")

    result = run("invoke", "hello", "--payload", "@event.json")

    assert result.exit_code == 0
    assert api.last.content == b'{"Records": []}\n'
    assert result.stdout == '"done"\n'


def test_invoke_prints_text_that_is_not_json(run: Run, api: FakeApi) -> None:
    api.route(
        "POST", "/2015-03-31/functions/hello/invocations", lambda request: httpx.Response(200, content=b"plain words")
    )

    result = run("invoke", "hello")

    assert result.stdout == "plain words\n"


def test_invoke_function_error_goes_to_stderr(run: Run, api: FakeApi) -> None:
    recorded = recorded_aws(
        "lambda-test_lambda.snapshot.json",
        "tests/aws/services/lambda_/test_lambda.py::TestLambdaErrors::test_lambda_runtime_error",
        "invocation_error",
    )
    api.respond(
        "POST",
        "/2015-03-31/functions/hello/invocations",
        200,
        recorded["Payload"],
        {"X-Amz-Function-Error": recorded["FunctionError"]},
    )

    result = run("invoke", "hello")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert 'File "/var/task/lambda_runtime_error.py", line 1, in <module>' in result.stderr
    assert result.stderr.rstrip("\n").endswith("Exception: Runtime startup fails")


def test_invoke_function_error_without_stack_trace(run: Run, api: FakeApi) -> None:
    payload = {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}
    api.respond("POST", "/2015-03-31/functions/hello/invocations", 200, payload, {"X-Amz-Function-Error": "Unhandled"})

    result = run("invoke", "hello")

    assert result.exit_code == 1
    assert result.stderr == "Sandbox.Timedout: Task timed out after 1.00 seconds\n"


@pytest.mark.parametrize("function_error", [False, True])
def test_invoke_log_tail_printed_after_result(run: Run, api: FakeApi, function_error: bool) -> None:
    log = "START RequestId: 42 Version: $LATEST\nhello from the handler\nEND RequestId: 42\n"
    headers = {"X-Amz-Log-Result": base64.b64encode(log.encode()).decode()}
    if function_error:
        headers["X-Amz-Function-Error"] = "Unhandled"
    api.respond(
        "POST",
        "/2015-03-31/functions/hello/invocations",
        200,
        {"errorType": "ValueError", "errorMessage": "bad"},
        headers,
    )

    result = run("invoke", "hello", "--log-tail")

    assert api.last.headers["X-Amz-Log-Type"] == "Tail"
    assert "hello from the handler\nEND RequestId: 42\n" in result.stderr
    assert result.exit_code == (1 if function_error else 0)
    if function_error:
        assert result.stderr.index("ValueError: bad") < result.stderr.index("START RequestId: 42")
    else:
        assert '"errorType": "ValueError"' in result.stdout


def test_invoke_async_prints_request_id(run: Run, api: FakeApi) -> None:
    api.route(
        "POST",
        "/2015-03-31/functions/hello/invocations",
        lambda request: httpx.Response(202, headers={"x-amzn-RequestId": "c0ffee-1"}),
    )

    result = run("invoke", "hello", "--async", "--payload", "[1, 2]")

    assert result.exit_code == 0
    assert api.last.headers["X-Amz-Invocation-Type"] == "Event"
    assert result.stdout == "c0ffee-1 queued\n"


def test_invoke_async_rejects_log_tail(run: Run, api: FakeApi) -> None:
    result = run("invoke", "hello", "--async", "--log-tail")

    assert result.exit_code == 2
    assert "--log-tail" in result.stderr
    assert api.requests == []


def test_ls_shows_functions_table(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/functions", 200, {"functions": [HELLO, RESIZE]})

    result = run("ls")

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    header = lines[0].split()
    assert header == ["NAME", "SERVICE", "HANDLER", "MEMORY", "TIMEOUT", "RESERVED", "PROVISIONED", "IDLE/BUSY", "EVENTS"]
    hello_row = next(line for line in lines if line.startswith("hello"))
    assert hello_row.split() == [
        "hello", HELLO["service"], "app.hello", "256", "MB", "10", "s", "-", "1", "2/1", "GET", "/hello/{name}"
    ]
    assert any(line.strip() == "POST /hello" for line in lines)
    resize_row = next(line for line in lines if line.startswith("resize"))
    assert resize_row.split() == [
        "resize", RESIZE["service"], "images.resize", "1024", "MB", "10", "s", "5", "0", "0/0", "-"
    ]


def test_ls_shows_aws_name_below_name(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/functions", 200, {"functions": [{**HELLO, "aws_name": "greeter-dev-hello"}]})

    lines = run("ls").stdout.splitlines()

    hello_at = next(index for index, line in enumerate(lines) if line.startswith("hello"))
    assert lines[hello_at + 1].split()[0] == "greeter-dev-hello"


def test_ls_shows_provisioned_instances_that_could_not_start(run: Run, api: FakeApi) -> None:
    short = {**HELLO, "provisioned": 2, "instances": {"idle": 1, "busy": 0, "provisioned_ready": 1}}
    api.respond("GET", "/_squall/api/functions", 200, {"functions": [short]})

    result = run("ls")

    hello_row = next(line for line in result.stdout.splitlines() if line.startswith("hello"))
    assert "1 of 2 ready" in hello_row


def test_ls_shows_queued_calls(run: Run, api: FakeApi) -> None:
    queued = {**HELLO, "instances": {"idle": 0, "busy": 1, "waiting": 3}}
    api.respond("GET", "/_squall/api/functions", 200, {"functions": [queued]})

    result = run("ls")

    hello_row = next(line for line in result.stdout.splitlines() if line.startswith("hello"))
    assert "0/1 +3 queued" in hello_row


def test_ls_without_functions_says_how_to_deploy(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/functions", 200, {"functions": []})

    result = run("ls")

    assert result.exit_code == 0
    assert "no functions deployed" in result.stdout
    assert "squall deploy" in result.stdout


ENTRY_1 = {
    "id": 7,
    "function": "hello",
    "request_id": "r1",
    "time": FIXED_NOW - 5,
    "text": "START RequestId: r1\nhi\nEND RequestId: r1\nREPORT RequestId: r1\n",
}
ENTRY_2 = {
    "id": 9,
    "function": "hello",
    "request_id": "r2",
    "time": FIXED_NOW - 1,
    "text": "START RequestId: r2\nEND RequestId: r2\nREPORT RequestId: r2\n",
}


def test_logs_prints_entry_texts_in_order(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/logs", 200, {"entries": [ENTRY_1, ENTRY_2]})

    result = run("logs", "hello")

    assert result.exit_code == 0
    assert result.stdout == ENTRY_1["text"] + ENTRY_2["text"]
    assert dict(api.last.url.params) == {"function": "hello", "limit": "1000"}
    assert "older ones may exist" not in result.stderr


def test_logs_limit_notes_older_entries(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/logs", 200, {"entries": [ENTRY_1, ENTRY_2]})

    result = run("logs", "hello", "--limit", "2")

    assert result.stdout == ENTRY_1["text"] + ENTRY_2["text"]
    assert api.last.url.params["limit"] == "2"
    assert "showing the newest 2 entries; older ones may exist" in result.stderr


def test_logs_limit_above_the_server_maximum_is_refused(run: Run, api: FakeApi) -> None:
    result = run("logs", "hello", "--limit", "20000")

    assert result.exit_code == 2
    assert "20000 is not in the range 1<=x<=10000" in result.stderr
    assert api.requests == []


@pytest.mark.parametrize(("since", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400)])
def test_logs_since_sends_unix_time(run: Run, api: FakeApi, since: str, seconds: int) -> None:
    api.respond("GET", "/_squall/api/logs", 200, {"entries": []})

    result = run("logs", "hello", "--since", since, "--request-id", "r1")

    assert result.exit_code == 0
    assert float(api.last.url.params["since"]) == FIXED_NOW - seconds
    assert api.last.url.params["request_id"] == "r1"
    assert "no log entries of function 'hello' match the filter" in result.stderr


@pytest.mark.parametrize("interrupted_in", ["request", "sleep"])
def test_logs_follow_polls_after_last_id(run: Run, api: FakeApi, sleep: Recorder, interrupted_in: str) -> None:
    pages = [[ENTRY_1], [], [ENTRY_2], []]

    def serve_page(request: httpx.Request) -> httpx.Response:
        # Ctrl-C arrives while the poll after the last page is in flight.
        if len(api.requests) > len(pages):
            raise KeyboardInterrupt
        return json_response(200, {"entries": pages[len(api.requests) - 1]})

    def press_ctrl_c_after_last_page(pause_count: int) -> None:
        if len(api.requests) >= len(pages):
            raise KeyboardInterrupt

    api.route("GET", "/_squall/api/logs", serve_page)
    if interrupted_in == "sleep":
        sleep.on_pause = press_ctrl_c_after_last_page

    result = run("logs", "hello", "--follow")

    assert result.exit_code == 0
    assert "Aborted" not in result.output
    assert result.stdout == ENTRY_1["text"] + ENTRY_2["text"]
    afters = [request.url.params.get("after") for request in api.requests]
    expected_afters = [None, "7", "7", "9"] + (["9"] if interrupted_in == "request" else [])
    assert afters == expected_afters
    assert sleep.pauses == [FOLLOW_POLL_INTERVAL_S, FOLLOW_POLL_INTERVAL_S]


@pytest.mark.parametrize(
    ("arguments", "first_limit"),
    [((), "10"), (("--limit", "50"), "50"), (("--since", "1h"), "1000")],
    ids=["last-ten", "limit", "since"],
)
def test_logs_follow_starts_with_recent_entries(
    run: Run, api: FakeApi, sleep: Recorder, arguments: tuple[str, ...], first_limit: str
) -> None:
    def serve_page(request: httpx.Request) -> httpx.Response:
        if len(api.requests) > 2:
            raise KeyboardInterrupt
        return json_response(200, {"entries": [ENTRY_1] if len(api.requests) == 1 else []})

    api.route("GET", "/_squall/api/logs", serve_page)

    result = run("logs", "hello", "--follow", *arguments)

    assert result.exit_code == 0
    limits = [request.url.params.get("limit") for request in api.requests]
    # Only the first poll is limited: later ones ask for what is newer than the last entry.
    assert limits == [first_limit, None, None]


def test_logs_follow_skips_entries_already_printed(run: Run, api: FakeApi, sleep: Recorder) -> None:
    """A server that ignores `after` must not make --follow print an entry twice."""
    max_polls = 3

    def ignore_after(request: httpx.Request) -> httpx.Response:
        if len(api.requests) > max_polls:
            raise KeyboardInterrupt
        return json_response(200, {"entries": [ENTRY_1]})

    api.route("GET", "/_squall/api/logs", ignore_after)

    result = run("logs", "hello", "--follow")

    assert result.exit_code == 0
    assert result.stdout == ENTRY_1["text"]
    assert len(sleep.pauses) == max_polls - 1


STATS = {
    "functions": [
        {
            "name": "hello",
            "invocations": 1200,
            "errors": 3,
            "throttles": 1,
            "cold_starts": 4,
            "p50_ms": 1.25,
            "p95_ms": 8.5,
            "p99_ms": 20.0,
            "gb_seconds": 0.000125,
            "cost_usd": 0.0000002083,
        },
        {
            "name": "resize",
            "invocations": 0,
            "errors": 0,
            "throttles": 0,
            "cold_starts": 0,
            "p50_ms": None,
            "p95_ms": None,
            "p99_ms": None,
            "gb_seconds": 0.0,
            "cost_usd": 0.0,
        },
    ],
    "price": {"name": "aws-us-east-1-x86", "per_gb_second": 0.0000166667, "per_request": 0.0000002},
}


def test_stats_shows_table_with_price_footer(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/stats", 200, STATS)

    result = run("stats")

    assert result.exit_code == 0
    assert float(api.last.url.params["since"]) == FIXED_NOW - 3600
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "FUNCTION",
        "INVOCATIONS",
        "ERRORS",
        "THROTTLES",
        "COLD",
        "STARTS",
        "P50",
        "MS",
        "P95",
        "MS",
        "P99",
        "MS",
        "GB-S",
        "COST",
        "USD",
        "LAST",
        "HOUR",
    ]
    hello_row = next(line for line in lines if line.startswith("hello"))
    assert hello_row.split() == [
        "hello", "1,200", "3", "1", "4", "1.25", "8.50", "20.00", "0.000125", "$0.000000208", "-"
    ]
    resize_row = next(line for line in lines if line.startswith("resize"))
    assert resize_row.split() == ["resize", "0", "0", "0", "0", "-", "-", "-", "0", "$0", "-"]
    total_row = next(line for line in lines if line.startswith("total"))
    assert total_row.split() == ["total", "1,200", "3", "1", "4", "0.000125", "$0.000000208"]
    assert "last 1h" in result.stdout
    assert "'aws-us-east-1-x86'" in result.stdout
    assert "$0.0000166667 per GB-s, $0.0000002 per request" in result.stdout


def test_stats_since_option(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/stats", 200, {"functions": [], "price": STATS["price"]})

    result = run("stats", "--since", "2d")

    assert result.exit_code == 0
    assert float(api.last.url.params["since"]) == FIXED_NOW - 2 * 86400
    assert result.stdout == "no invocations in the last 2d\n"


def test_stats_by_version_asks_for_version_rows(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/stats", 200, {"functions": [], "price": STATS["price"]})

    result = run("stats", "--by-version")

    assert result.exit_code == 0
    assert api.last.url.params["by"] == "version"


def test_stats_since_iso_time(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/stats", 200, {"functions": [], "price": STATS["price"]})

    result = run("stats", "--since", "2024-05-01T14:00:00+00:00")

    assert result.exit_code == 0, result.output
    assert float(api.last.url.params["since"]) == 1714572000.0
    assert result.stdout.startswith("no invocations since ")


@pytest.mark.parametrize(
    ("arguments", "hint"), [(["logs", ""], "NAME"), (["logs", "hello", "--request-id", ""], "--request-id")]
)
def test_logs_rejects_empty_values(run: Run, api: FakeApi, arguments: list[str], hint: str) -> None:
    result = run(*arguments)

    # An empty value would match every entry, which is never what was meant.
    assert result.exit_code == 2
    assert hint in result.output
    assert "empty" in result.output
    assert api.requests == []


def test_up_calls_serve_with_resolved_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, object]] = []
    fake_server = types.ModuleType("squall.server")
    fake_server.serve = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "squall.server", fake_server)
    (tmp_path / "service").mkdir()

    result = CliRunner().invoke(
        cli, ["up", "service", "--port", "0", "--host", "::1", "--stage", "prod"], env={"SQUALL_DATA": "state"}
    )

    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "folder": (tmp_path / "service").resolve(),
            "host": "::1",
            "port": 0,
            "data": (tmp_path / "state").resolve(),
            "region": "us-east-1",
            "memory_budget_mb": None,
            "watch": True,
            "retention": RetentionPolicy(),
            "stage": "prod",
            "config_env": None,
            "parameter_overrides": None,
            "deploy": True,
        }
    ]


def test_up_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, object]] = []
    fake_server = types.ModuleType("squall.server")
    fake_server.serve = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "squall.server", fake_server)

    result = CliRunner().invoke(cli, ["up"])

    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "folder": tmp_path.resolve(),
            "host": "127.0.0.1",
            "port": 8080,
            "data": (tmp_path / ".squall").resolve(),
            "region": "us-east-1",
            "memory_budget_mb": None,
            "watch": True,
            "retention": RetentionPolicy(),
            "stage": None,
            "config_env": None,
            "parameter_overrides": None,
            "deploy": True,
        }
    ]


def test_up_exits_with_server_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_server = types.ModuleType("squall.server")
    fake_server.serve = lambda **kwargs: 2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "squall.server", fake_server)

    result = CliRunner().invoke(cli, ["up", "--memory-budget-mb", "512", "--no-watch"])

    assert result.exit_code == 2


def test_ls_shows_triggers(run: Run, api: FakeApi) -> None:
    worker = {**RESIZE, "name": "worker", "routes": [], "triggers": ["queue orders", "schedule rate(5 minutes) UTC"]}
    api.respond("GET", "/_squall/api/functions", 200, {"functions": [worker]})

    result = run("ls")

    assert result.exit_code == 0
    assert "queue orders" in result.stdout
    assert "schedule rate(5 minutes) UTC" in result.stdout


def test_up_passes_retention(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, object]] = []
    fake_server = types.ModuleType("squall.server")
    fake_server.serve = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "squall.server", fake_server)

    result = CliRunner().invoke(cli, ["up", "--log-retention-days", "7", "--log-retention-mb", "500"])

    assert result.exit_code == 0, result.output
    assert calls[0]["retention"] == RetentionPolicy(log_days=7, log_mb=500)
