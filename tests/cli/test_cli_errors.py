"""What `squall` prints when a request fails or an option is invalid."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from cli_fakes import FakeApi, recorded_aws
from squall.cli import CliContext, cli

Run = Callable[..., Result]

UNAUTHORIZED = {"error": {"type": "Unauthorized", "message": "a bearer token is required"}}


def closed_loopback_port() -> int:
    """Return a loopback port that was just free, so a connection to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("args", [["ls"], ["deploy"], ["invoke", "hello"], ["logs", "hello"], ["stats"]])
def test_connection_refused_one_line(args: list[str]) -> None:
    endpoint = f"http://127.0.0.1:{closed_loopback_port()}"

    result = CliRunner().invoke(cli, [*args, "--endpoint", endpoint], obj=CliContext())

    assert result.exit_code == 1
    assert result.stderr == (
        f"no Squall server is listening at {endpoint}: start one with `squall up`,"
        " or name a running one with --endpoint URL or SQUALL_ENDPOINT\n"
    )
    assert "Traceback" not in result.output


def test_endpoint_from_environment(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/functions", 200, {"functions": []})

    run("ls", env={"SQUALL_ENDPOINT": "http://[::1]:9/"})

    assert str(api.last.url) == "http://[::1]:9/_squall/api/functions"


def test_endpoint_must_be_http_url(run: Run, api: FakeApi) -> None:
    result = run("ls", "--endpoint", "localhost:8080")

    assert result.exit_code == 2
    assert "'localhost:8080' is not an http:// or https:// URL" in result.stderr
    assert api.requests == []


def test_unauthorized_without_token_lists_places(run: Run, api: FakeApi, tmp_path: Path) -> None:
    api.respond("GET", "/_squall/api/functions", 401, UNAUTHORIZED)

    result = run("ls", "--data", "state")

    assert result.exit_code == 1
    assert "Authorization" not in api.last.headers
    assert "requires a token" in result.stderr
    assert "--token" in result.stderr
    assert "SQUALL_TOKEN" in result.stderr
    assert str((tmp_path / "state" / "token").resolve()) in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "write_file", "source"),
    [
        (["--token", "from-option"], {}, False, "the --token option"),
        ([], {"SQUALL_TOKEN": "from-env"}, True, "the SQUALL_TOKEN environment variable"),
        ([], {}, True, "the token file"),
    ],
)
def test_unauthorized_names_token_source(
    run: Run, api: FakeApi, tmp_path: Path, args: list[str], env: dict[str, str], write_file: bool, source: str
) -> None:
    if write_file:
        (tmp_path / ".squall").mkdir()
        (tmp_path / ".squall" / "token").write_text("from-file\n", encoding="utf-8")
    api.respond("GET", "/_squall/api/functions", 401, UNAUTHORIZED)

    result = run("ls", *args, env=env)

    assert result.exit_code == 1
    assert f"rejected the token from {source}" in result.stderr


def test_invoke_wrong_token_names_source(run: Run, api: FakeApi) -> None:
    # The Lambda API refuses a token with 403 UnrecognizedClientException, not 401.
    api.respond(
        "POST", "/2015-03-31/functions/hello/invocations", 403,
        {"Type": "User", "message": "this server rejected the bearer token"},
        {"x-amzn-ErrorType": "UnrecognizedClientException"},
    )

    result = run("invoke", "hello", "--token", "wrong")

    assert result.exit_code == 1
    assert "rejected the token from the --token option" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "expected_token"),
    [
        (["--token", "from-option"], {"SQUALL_TOKEN": "from-env"}, "from-option"),
        ([], {"SQUALL_TOKEN": "from-env"}, "from-env"),
        ([], {}, "from-file"),
    ],
)
def test_token_sent_as_bearer(
    run: Run, api: FakeApi, tmp_path: Path, args: list[str], env: dict[str, str], expected_token: str
) -> None:
    (tmp_path / ".squall").mkdir()
    (tmp_path / ".squall" / "token").write_text("from-file\n", encoding="utf-8")
    api.respond("GET", "/_squall/api/functions", 200, {"functions": []})

    result = run("ls", *args, env=env)

    assert result.exit_code == 0
    assert api.last.headers["Authorization"] == f"Bearer {expected_token}"


def test_invoke_unknown_function_shows_aws_error(run: Run, api: FakeApi) -> None:
    recorded = recorded_aws(
        "lambda-test_lambda.snapshot.json",
        "tests/aws/services/lambda_/test_lambda.py::TestLambdaFeatures::test_invoke_exceptions",
        "invoke_function_doesnotexist",
    )
    api.respond(
        "POST",
        "/2015-03-31/functions/doesnotexist/invocations",
        recorded["ResponseMetadata"]["HTTPStatusCode"],
        {"Type": recorded["Type"], "message": recorded["Message"]},
        {"x-amzn-ErrorType": recorded["Error"]["Code"]},
    )

    result = run("invoke", "doesnotexist")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"ResourceNotFoundException: {recorded['Message']}\n"


def test_invoke_error_type_with_url_suffix(run: Run, api: FakeApi) -> None:
    api.respond(
        "POST",
        "/2015-03-31/functions/hello/invocations",
        429,
        {"Type": "User", "Message": "Rate exceeded", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"},
        {"x-amzn-ErrorType": "TooManyRequestsException:http://internal.amazon.com/coral/com.amazon.coral.service/"},
    )

    result = run("invoke", "hello")

    assert result.exit_code == 1
    assert result.stderr == "TooManyRequestsException: Rate exceeded\n"


def test_deploy_manifest_error_shows_message(run: Run, api: FakeApi) -> None:
    message = 'squall.yml: functions.resize.timeout: expected seconds between 1 and 900, got "fast"'
    api.respond("POST", "/_squall/api/deploy", 400, {"error": {"type": "ManifestError", "message": message}})

    result = run("deploy")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_server_error_without_json_body(run: Run, api: FakeApi) -> None:
    api.route("GET", "/_squall/api/stats", lambda request: httpx.Response(502, content=b"Bad Gateway"))

    result = run("stats")

    assert result.exit_code == 1
    assert "returned HTTP 502 for GET /_squall/api/stats: Bad Gateway" in result.stderr


def test_response_not_json_object(run: Run, api: FakeApi) -> None:
    api.route("GET", "/_squall/api/functions", lambda request: httpx.Response(200, content=b"<html>"))

    result = run("ls")

    assert result.exit_code == 1
    assert "did not respond as a Squall server (HTTP 200 for GET /_squall/api/functions)" in result.stderr
    assert "<html>" not in result.stderr


def test_timeout_names_request(run: Run, api: FakeApi) -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    api.route("GET", "/_squall/api/functions", time_out)

    result = run("ls")

    assert result.exit_code == 1
    assert "did not respond to GET /_squall/api/functions within 30 s" in result.stderr


@pytest.mark.parametrize("value", ["10", "10x", "m", "-5m", "1.5h", "0m", ""])
@pytest.mark.parametrize("command", [["logs", "hello"], ["stats"]])
def test_bad_since_names_value_and_forms(run: Run, api: FakeApi, command: list[str], value: str) -> None:
    result = run(*command, "--since", value)

    assert result.exit_code == 2
    assert "--since" in result.stderr
    assert repr(value) in result.stderr
    assert "30s" in result.stderr
    assert api.requests == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            "{name: 1}",
            "inline payload is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)",
        ),
        # Python 3.13's decoder names the trailing comma; older ones the brace after it.
        ('{"a": 1,\n}', "line 1, column 8" if sys.version_info >= (3, 13) else "line 2, column 1"),
        ("@missing.json", "payload file 'missing.json' does not exist"),
        ("@broken.json", "payload file 'broken.json' is not valid JSON: Expecting value (line 1, column 1)"),
        ("@", "'@' names no file: expected @path/to/event.json, or @- for standard input"),
    ],
)
def test_bad_payload_rejected_locally(run: Run, api: FakeApi, tmp_path: Path, payload: str, expected: str) -> None:
    (tmp_path / "broken.json").write_text("not json", encoding="utf-8")

    result = run("invoke", "hello", "--payload", payload)

    assert result.exit_code == 2
    assert "--payload" in result.stderr
    assert expected in result.stderr
    assert api.requests == []


def test_up_without_server_module(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import raise ModuleNotFoundError for that name.
    monkeypatch.setitem(__import__("sys").modules, "squall.server", None)

    result = CliRunner().invoke(cli, ["up"])

    assert result.exit_code == 1
    assert "no server module" in result.stderr


def test_deep_payload_sent_unparsed(tmp_path: Path) -> None:
    from squall.cli import read_payload

    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    (tmp_path / "deep.json").write_bytes(deep)

    # The server and the function decide about it, as for any payload.
    assert read_payload(f"@{tmp_path / 'deep.json'}") == deep
