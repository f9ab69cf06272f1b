"""One-line errors for bad command-line input: data folders, download targets, endpoints and foreign servers."""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli_fakes import FakeApi
from squall.cli import CliContext, cli

Run = Callable[..., Result]

LOCAL_COMMANDS = [
    pytest.param(["secret", "set", "DB", "--local"], id="secret-set"),
    pytest.param(["object", "mb", "newbkt", "--local"], id="object-mb"),
]
DATA_FIX = "choose a folder you can write with --data or SQUALL_DATA, or make this one writable"


def run_live(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    """Run `squall ARGS...` with the real network transport, as a shell would."""
    return CliRunner().invoke(cli, list(args), obj=CliContext(), env=env, input=stdin)


def closed_loopback_endpoint() -> str:
    """Return the URL of a loopback port that was just free, so that a request to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


@pytest.mark.parametrize("command", LOCAL_COMMANDS)
def test_local_data_under_file(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    data = tmp_path / "afile" / "sub"

    result = run_live(*command, "--data", str(data), stdin="value\n")

    assert result.exit_code == 2
    assert error_lines(result) == [
        f"Error: Invalid value for '--data': cannot create the data folder {data}: Not a directory; {DATA_FIX}"
    ]
    assert "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a folder of mode 0o500")
@pytest.mark.parametrize("command", LOCAL_COMMANDS)
def test_local_data_read_only(command: list[str], tmp_path: Path) -> None:
    data = tmp_path / "ro"
    data.mkdir(mode=0o500)

    result = run_live(*command, "--data", str(data), stdin="value\n")

    assert result.exit_code == 2
    assert error_lines(result) == [
        f"Error: Invalid value for '--data': cannot write in the data folder {data}: Permission denied; {DATA_FIX}"
    ]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", LOCAL_COMMANDS)
def test_local_data_write_check_fails(command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As root, only an immutable folder (chattr +i) rejects writes, so the write check is made to fail here.
    def reject(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr("squall.cli_client.tempfile.mkstemp", reject)
    data = tmp_path / "data"

    result = run_live(*command, "--data", str(data), stdin="value\n")

    assert result.exit_code == 2
    assert error_lines(result) == [
        f"Error: Invalid value for '--data': cannot write in the data folder {data}: "
        f"Operation not permitted; {DATA_FIX}"
    ]
    assert "Traceback" not in result.output


def test_local_secret_data_created_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"

    result = run_live("secret", "set", "DB", "--local", "--data", str(data), stdin="value\n")

    assert result.exit_code == 0
    assert data.stat().st_mode & 0o777 == 0o700
    assert [path.name for path in data.iterdir() if path.name.startswith(".write-check-")] == []


def test_object_get_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.txt"

    result = run_live("object", "get", "bkt/k", str(target), "--endpoint", closed_loopback_endpoint())

    assert result.exit_code == 2
    # No request was sent: a refused one would print that no server is listening.
    assert error_lines(result) == [
        f"Error: Invalid value for 'FILE': cannot write {target}: the folder {target.parent} does not exist; "
        "create it first, or choose another FILE"
    ]
    assert ".part" not in result.stderr


def test_object_get_folder_is_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    target = tmp_path / "afile" / "out.txt"

    result = run_live("object", "get", "bkt/k", str(target), "--endpoint", closed_loopback_endpoint())

    assert result.exit_code == 2
    assert error_lines(result) == [
        f"Error: Invalid value for 'FILE': cannot write {target}: {target.parent} is not a folder"
    ]


def test_object_get_default_target_folder(tmp_path: Path) -> None:
    # Without FILE the download goes to the key's last part in this folder, which is a folder here.
    (tmp_path / "photos").mkdir()

    result = run_live("object", "get", "bkt/photos", "--endpoint", closed_loopback_endpoint())

    assert result.exit_code == 2
    assert "cannot write photos: it is a folder" in result.stderr


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://127.0.0.1:65536", "http://127.0.0.1:0",
                                 "http://127.0.0.1:port"])
@pytest.mark.parametrize("command", [["ls"], ["table", "ls"]], ids=["api-client", "sdk-client"])
def test_endpoint_port_invalid(run: Run, api: FakeApi, command: list[str], url: str) -> None:
    result = run(*command, "--endpoint", url)

    assert result.exit_code == 2
    assert error_lines(result) == [
        f"Error: Invalid value for '--endpoint': {url!r} has an invalid port: expected a number from 1 to 65535, "
        "such as http://127.0.0.1:8080"
    ]
    assert api.requests == []


def test_endpoint_unclosed_bracket(run: Run, api: FakeApi) -> None:
    result = run("ls", "--endpoint", "http://[::1")

    assert result.exit_code == 2
    assert error_lines(result) == [
        "Error: Invalid value for '--endpoint': 'http://[::1' is not a valid URL (Invalid IPv6 URL): expected one "
        "such as http://127.0.0.1:8080 or http://[::1]:8080"
    ]
    assert api.requests == []


@pytest.mark.parametrize("command", [["ls"], ["table", "ls"]], ids=["api-client", "sdk-client"])
def test_endpoint_port_invalid_from_environment(run: Run, api: FakeApi, command: list[str]) -> None:
    result = run(*command, env={"SQUALL_ENDPOINT": "http://127.0.0.1:99999"})

    assert result.exit_code == 2
    assert "Invalid value for '--endpoint' (from SQUALL_ENDPOINT): 'http://127.0.0.1:99999'" in result.stderr
    assert api.requests == []


def test_endpoint_without_port_accepted(run: Run, api: FakeApi) -> None:
    api.respond("GET", "/_squall/api/functions", 200, {"functions": []})

    result = run("ls", "--endpoint", "http://localhost")

    assert result.exit_code == 0
    assert str(api.last.url) == "http://localhost/_squall/api/functions"


NOT_FOUND_PAGE = b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>"


class NotFoundHandler(BaseHTTPRequestHandler):
    """Responds to every request with 404 and an HTML page, as a web server that is not Squall does."""

    def respond_not_found(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        elif self.headers.get("Transfer-Encoding") == "chunked":
            self.close_connection = True  # the body is not read, so the connection cannot be reused
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(NOT_FOUND_PAGE)))
        self.end_headers()
        self.wfile.write(NOT_FOUND_PAGE)

    do_GET = do_POST = do_PUT = respond_not_found

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def foreign_endpoint() -> Iterator[str]:
    """Serve NotFoundHandler on a free loopback port for one test."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFoundHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.mark.parametrize(
    ("command", "request_line"),
    [
        (["ls"], " for GET /_squall/api/functions"),
        (["invoke", "hello"], " for POST /2015-03-31/functions/hello/invocations"),
        (["secret", "ls"], " for GET /_squall/api/secrets"),
        (["queue", "ls"], " for POST /_squall/api/services/queues/list_queues"),
        (["table", "ls"], " for POST /_squall/api/services/tables/list_tables"),
        (["object", "ls"], " for POST /_squall/api/services/objects/list_buckets"),
        (["object", "get", "bkt/k", "out.txt"], ""),  # streamed, so the SDK does not report the request
    ],
)
def test_foreign_server_named(foreign_endpoint: str, command: list[str], request_line: str) -> None:
    result = run_live(*command, "--endpoint", foreign_endpoint)

    assert result.exit_code == 1
    assert result.stderr == (
        f"the endpoint {foreign_endpoint} did not respond as a Squall server (HTTP 404{request_line}): "
        "check that --endpoint or SQUALL_ENDPOINT names the address `squall up` printed\n"
    )
    assert "<html>" not in result.output


@pytest.mark.parametrize("size", [4, 16 * 1024 * 1024], ids=["small", "larger than socket buffers"])
def test_foreign_server_upload_named(foreign_endpoint: str, tmp_path: Path, size: int) -> None:
    # A large upload is still being sent when the server responds and closes without reading it.
    upload = tmp_path / "upload.txt"
    upload.write_bytes(b"d" * size)

    result = run_live("object", "put", str(upload), "bkt/k", "--endpoint", foreign_endpoint)

    assert result.exit_code == 1
    assert "did not respond as a Squall server (HTTP 404)" in result.stderr
    assert "<html>" not in result.output


@pytest.mark.parametrize("no_color", ["1", ""], ids=["no-color", "colour"])
def test_no_color_removes_error_colour(no_color: str) -> None:
    result = CliRunner().invoke(
        cli, ["ls", "--endpoint", closed_loopback_endpoint()], obj=CliContext(), env={"NO_COLOR": no_color}, color=True
    )

    assert result.exit_code == 1
    assert "no Squall server is listening" in result.stderr
    assert ("\x1b[" in result.stderr) is (not no_color)


@pytest.mark.parametrize(
    ("payload", "message"),
    [('{"a": NaN}', "NaN is not a JSON number"), ("[1e999]", "the number 1e999 is too large for a double")],
)
def test_payload_non_finite_number_rejected(payload: str, message: str) -> None:
    result = run_live("invoke", "fn", "--payload", payload, "--endpoint", closed_loopback_endpoint())

    assert result.exit_code == 2
    assert message in result.stderr
